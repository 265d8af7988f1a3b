import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from dashtam_cli.domain.accounts import Account, AccountType, mask_account_number
from dashtam_cli.domain.errors import DomainError, ErrorCode, Failure, Success, fail, ok
from dashtam_cli.domain.events import (
    Attempted,
    DomainEvent,
    Failed,
    Outcome,
    Succeeded,
    SyncAttempted,
    SyncFailed,
    SyncProgressed,
    Workflow,
)
from dashtam_cli.domain.holdings import AssetType, Holding
from dashtam_cli.domain.money import Money
from dashtam_cli.domain.sync import SyncCounts, SyncRun, SyncStatus
from dashtam_cli.domain.transactions import (
    SUBTYPES_BY_TYPE,
    Transaction,
    TransactionStatus,
    TransactionSubtype,
    TransactionType,
)


def test_every_subtype_belongs_to_exactly_one_type() -> None:
    seen = [s for subtypes in SUBTYPES_BY_TYPE.values() for s in subtypes]
    assert sorted(seen) == sorted(TransactionSubtype)
    assert TransactionSubtype.DIVIDEND.transaction_type is TransactionType.INCOME


def test_transaction_is_immutable_and_checks_its_subtype() -> None:
    txn = Transaction(
        account_id=uuid4(),
        provider_transaction_id="1",
        transaction_type=TransactionType.TRADE,
        subtype=TransactionSubtype.BUY,
        status=TransactionStatus.SETTLED,
        amount=Money.of("-100.25"),
        transaction_date=date(2026, 1, 2),
        quantity=Decimal("2"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        txn.amount = Money.of("1")  # type: ignore[misc]
    with pytest.raises(ValueError, match="does not belong"):
        dataclasses.replace(txn, subtype=TransactionSubtype.DIVIDEND)


@pytest.mark.parametrize(
    ("account_type", "balance", "expected"),
    [
        (AccountType.BROKERAGE, "100.00", "100.00"),
        (AccountType.CHECKING, "-5.00", "-5.00"),
        (AccountType.CREDIT_CARD, "250.10", "-250.10"),
        (AccountType.CREDIT_CARD, "-250.10", "-250.10"),
        (AccountType.MORTGAGE, "300000", "-300000"),
    ],
)
def test_liabilities_subtract_from_net_worth(
    account_type: AccountType, balance: str, expected: str
) -> None:
    account = Account(
        connection_id=uuid4(),
        provider_account_id="x",
        account_number_masked="****1234",
        name="A",
        account_type=account_type,
        currency="USD",
        balance=Money.of(balance),
    )
    assert account.net_worth_contribution() == Money.of(expected)


def test_account_numbers_are_masked_to_the_last_four() -> None:
    assert mask_account_number("123456789") == "****6789"
    assert mask_account_number("") == ""


def test_holding_gain() -> None:
    holding = Holding(
        account_id=uuid4(),
        provider_holding_id="AAPL",
        symbol="AAPL",
        asset_type=AssetType.EQUITY,
        quantity=Decimal("-3"),
        currency="USD",
        cost_basis=Money.of("300"),
        market_value=Money.of("280.5"),
    )
    assert holding.unrealized_gain() == Money.of("-19.5")


def test_events_are_three_state_per_workflow() -> None:
    three_state = [
        cls
        for cls in _all_subclasses(DomainEvent)
        if issubclass(cls, Attempted | Succeeded | Failed)
        and cls not in {Attempted, Succeeded, Failed}
    ]
    by_workflow: dict[Workflow, set[Outcome]] = {}
    for cls in three_state:
        by_workflow.setdefault(cls.workflow, set()).add(cls.outcome)
    assert len(by_workflow) == 10
    assert all(
        outcomes == {Outcome.ATTEMPTED, Outcome.SUCCEEDED, Outcome.FAILED}
        for outcomes in by_workflow.values()
    )
    assert SyncAttempted().is_three_state
    assert not SyncProgressed().is_three_state
    failed = SyncFailed(error_code=ErrorCode.SYNC_LOCKED)
    assert failed.name == "SyncFailed"
    assert failed.occurred_at.tzinfo is UTC


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_result_helpers() -> None:
    good = ok(3)
    assert isinstance(good, Success)
    assert good.value == 3
    bad = fail(ErrorCode.NOT_FOUND, "no such account", hint="dashtam accounts list")
    assert isinstance(bad, Failure)
    assert bad.error == DomainError(
        code=ErrorCode.NOT_FOUND, message="no such account", hint="dashtam accounts list"
    )
    assert bad.error.title == "Not found"


def test_sync_run_finishes_with_counts() -> None:
    run = SyncRun(connection_id=uuid4(), started_at=datetime(2026, 1, 1, tzinfo=UTC))
    counts = SyncCounts(accounts=2) + SyncCounts(transactions_inserted=5)
    done = run.finish(
        status=SyncStatus.PARTIAL,
        at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
        counts=counts,
        error_code=ErrorCode.SYNC_PARTIAL,
    )
    assert done.counts == SyncCounts(accounts=2, transactions_inserted=5)
    assert done.status is SyncStatus.PARTIAL
    assert run.status is SyncStatus.RUNNING
