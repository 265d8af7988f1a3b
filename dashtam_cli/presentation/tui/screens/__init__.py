"""The dashboard's screens: overview, account, transactions, holdings, sync and help."""
