"""The Charles Schwab provider: OAuth login, token lifecycle and the Trader API adapter."""
