"""Holdings: the positions list with exact totals and each position's weight in its account."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from uuid import UUID

from dashtam_cli.application.handlers.lookup import holdings_scope
from dashtam_cli.application.queries import (
    AccountReader,
    HoldingList,
    HoldingReader,
    HoldingRow,
    HoldingsOverview,
    HoldingsSummary,
)
from dashtam_cli.domain.errors import Failure, Result, ok
from dashtam_cli.domain.holdings import Holding
from dashtam_cli.domain.money import totals_by_currency


def summarize_holdings(holdings: Iterable[Holding]) -> HoldingsSummary:
    """Count the holdings and total their market value, cost basis and unrealised gain.

    Totals are exact and per currency; a holding missing a value adds nothing to that total.
    """
    rows = list(holdings)
    return HoldingsSummary(
        count=len(rows),
        market_value=totals_by_currency(h.market_value for h in rows if h.market_value),
        cost_basis=totals_by_currency(h.cost_basis for h in rows if h.cost_basis),
        unrealized_gain=totals_by_currency(
            gain for h in rows if (gain := h.unrealized_gain()) is not None
        ),
    )


def holding_weights(holdings: Sequence[Holding]) -> dict[UUID, Decimal | None]:
    """Each holding's market value as a fraction of its account's total in that currency.

    Shorts (negative market values) count negative. A holding without a market value, or whose
    account total is zero, has no weight (None).
    """
    totals: dict[tuple[UUID, str], Decimal] = defaultdict(Decimal)
    for h in holdings:
        if h.market_value is not None:
            totals[(h.account_id, h.market_value.currency)] += h.market_value.amount
    weights: dict[UUID, Decimal | None] = {}
    for h in holdings:
        weight: Decimal | None = None
        if h.market_value is not None:
            total = totals[(h.account_id, h.market_value.currency)]
            if not total.is_zero():
                weight = h.market_value.amount / total
        weights[h.id] = weight
    return weights


def _sort_key(row: HoldingRow) -> tuple[str, str, str, str]:
    h = row.holding
    return (row.account_name.lower(), str(h.account_id), h.symbol, h.provider_holding_id)


class HoldingListHandler:
    """Answer ``dashtam holdings list``."""

    def __init__(self, *, accounts: AccountReader, holdings: HoldingReader) -> None:
        self._accounts = accounts
        self._holdings = holdings

    async def handle(self, query: HoldingList) -> Result[HoldingsOverview]:
        """Active holdings (of one account, or of all), by account then symbol, with totals.

        Returns:
            The overview; ``not_found`` / ``ambiguous_id`` for the account reference.
        """
        accounts = await self._accounts.list_accounts()
        scope = holdings_scope(query.account_ref, accounts)
        if isinstance(scope, Failure):
            return scope
        account_ids = scope.value
        holdings = await self._holdings.list_holdings(account_ids=account_ids)
        names = {a.id: a.name for a in accounts}
        weights = holding_weights(holdings)
        rows = sorted(
            (
                HoldingRow(
                    holding=h, account_name=names.get(h.account_id, ""), weight=weights[h.id]
                )
                for h in holdings
            ),
            key=_sort_key,
        )
        return ok(HoldingsOverview(holdings=rows, summary=summarize_holdings(holdings)))
