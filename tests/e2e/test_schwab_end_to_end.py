"""The real `dashtam` CLI against the project's Schwab double on 127.0.0.1.

The browser is played by an HTTP client that follows the printed authorize URL to the CLI's
loopback HTTPS listener. Nothing here touches the network beyond 127.0.0.1.
"""

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakeschwab import FakeSchwab
from tests.fakeschwab.server import free_loopback_port

CONNECT = [sys.executable, "-m", "dashtam_cli", "providers", "connect", "schwab"]


@dataclass
class Cli:
    """Runs the CLI with a private HOME pointed at one fake."""

    fake: FakeSchwab
    env: dict[str, str]
    home: Path
    outputs: list[str]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "dashtam_cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            input=stdin,
            timeout=300,
            check=False,
        )
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def json(self, *args: str) -> Any:
        proc = self.run(*args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def connect(
        self, *extra: str, forge_first: bool = False
    ) -> tuple[subprocess.CompletedProcess[str], list[int]]:
        """`providers connect schwab --no-browser`, completing the login like a browser would.

        Returns the finished process and the HTTP statuses the listener answered.
        """
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dashtam_cli",
                "providers",
                "connect",
                "schwab",
                "--no-browser",
                *list(extra),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        seen: list[str] = []
        url = None
        while url is None:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            url = self.fake.extract_authorize_url(line)
        assert url is not None, "".join(seen)
        statuses = []
        if forge_first:
            statuses.append(self.fake.follow_authorize(url, state="forged-state").status_code)
        statuses.append(self.fake.follow_authorize(url).status_code)
        out, err = proc.communicate(timeout=300)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)
        self.outputs += [done.stdout, done.stderr]
        return done, statuses


def make_cli(fake: FakeSchwab, home: Path, *, log_level: str = "warning") -> Cli:
    port = free_loopback_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHTAM_") and k not in {"XDG_DATA_HOME", "XDG_CONFIG_HOME"}
    }
    env.update(
        HOME=str(home),
        NO_COLOR="1",
        COLUMNS="200",
        DASHTAM_DATA_DIR=str(home / "data"),
        DASHTAM_CONFIG_DIR=str(home / "config"),
        DASHTAM_SECRETS_BACKEND="file",
        DASHTAM_LOG_LEVEL=log_level,
        **fake.env(callback_url=f"https://127.0.0.1:{port}"),
    )
    return Cli(fake=fake, env=env, home=home, outputs=[])


def by_last4(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["account_number_masked"][-4:]: r for r in rows}


# ------------------------------------------------------------------ one connected, synced login


@dataclass
class Synced:
    cli: Cli
    connect: subprocess.CompletedProcess[str]
    listener_statuses: list[int]
    sync: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    with FakeSchwab(seed=7) as fake:
        # debug logs: the secrets scan then covers everything Dashtam could ever log
        cli = make_cli(fake, tmp_path_factory.mktemp("schwab-home"), log_level="debug")
        connected, statuses = cli.connect("--no-sync", forge_first=True)
        assert connected.returncode == 0, connected.stderr
        synced = cli.run("sync", "--format", "json")
        yield Synced(cli=cli, connect=connected, listener_statuses=statuses, sync=synced)
        assert fake.internal_errors == []


def test_connect_completes_through_the_listener_and_refuses_a_forged_state(
    synced: Synced,
) -> None:
    assert synced.listener_statuses == [400, 200]
    status = synced.cli.json("providers", "list")
    assert [(c["provider"], c["alias"], c["status"]) for c in status] == [
        ("schwab", "schwab", "active")
    ]
    left = status[0]["refresh_seconds_left"]
    assert 7 * 86400 - 600 < left <= 7 * 86400
    token_calls = synced.cli.fake.requests_to("/v1/oauth/token")
    assert [r.form.get("grant_type") for r in token_calls][:1] == ["authorization_code"]
    assert token_calls[0].basic == (synced.cli.fake.client_id, synced.cli.fake.client_secret)
    assert "client_secret" not in token_calls[0].form


def test_sync_stores_every_transaction_exactly_once(synced: Synced) -> None:
    assert synced.sync.returncode == 0, synced.sync.stderr
    expected = synced.cli.fake.expectations()
    accounts = by_last4(synced.cli.json("accounts", "list"))
    rows = synced.cli.json("export", "transactions", "--output", "-")
    per_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    account_last4 = {a["id"]: last4 for last4, a in accounts.items()}
    for row in rows:
        per_account[account_last4[row["account_id"]]].append(row)
    assert set(accounts) == {a.account_number[-4:] for a in expected.accounts}
    for exp in expected.accounts:
        stored = per_account[exp.account_number[-4:]]
        ids = Counter(r["provider_transaction_id"] for r in stored)
        assert max(ids.values()) == 1
        assert set(ids) == {str(i) for i in exp.activity_ids}
        assert sum(Decimal(r["amount"]) for r in stored) == exp.net_amount_sum
        pending = {r["provider_transaction_id"] for r in stored if r["status"] == "pending"}
        assert pending == {str(i) for i in exp.pending_activity_ids}


def test_balances_and_holdings_match_schwab(synced: Synced) -> None:
    expected = synced.cli.fake.expectations()
    accounts = by_last4(synced.cli.json("accounts", "list"))
    holdings = synced.cli.json("holdings", "list")
    for exp in expected.accounts:
        account = accounts[exp.account_number[-4:]]
        assert Decimal(account["balance"]) == exp.liquidation_value
        assert Decimal(account["cash_balance"]) == exp.cash_balance
        held = {
            h["symbol"]: Decimal(h["quantity"])
            for h in holdings
            if h["account_id"] == account["id"]
        }
        assert held == dict(exp.positions)


def test_the_3000_row_year_was_split_and_re_queried(synced: Synced) -> None:
    expected = synced.cli.fake.expectations()
    assert expected.heavy_year_rows > 3000
    heavy = expected.account(expected.heavy_account_number or "")
    calls = synced.cli.fake.requests_to(f"/trader/v1/accounts/{heavy.hash_value}/transactions")
    windows = [(c.query["startDate"], c.query["endDate"]) for c in calls]
    # a capped window was asked again in parts: some window lies strictly inside another
    nested = [
        (outer, inner)
        for outer in windows
        for inner in windows
        if outer != inner and outer[0] <= inner[0] and inner[1] <= outer[1]
    ]
    assert nested
    for call in calls:
        assert call.query["startDate"].endswith("Z")
        assert len(call.query["types"].split(",")) == 15


def test_pending_rows_settle_on_a_later_sync(synced: Synced) -> None:
    before = synced.cli.fake.expectations()
    pending_before = {str(i) for a in before.accounts for i in a.pending_activity_ids}
    assert pending_before
    synced.cli.fake.advance(days=5)
    again = synced.cli.run("sync", "--format", "json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)["connections"][0]
    assert report["transactions_updated"] >= len(pending_before)
    rows = {
        r["provider_transaction_id"]: r
        for r in synced.cli.json("export", "transactions", "--output", "-")
    }
    assert all(rows[i]["status"] == "settled" for i in pending_before)
    after = synced.cli.fake.expectations()
    assert len(rows) == after.total_rows


def test_no_token_or_secret_anywhere(synced: Synced) -> None:
    secrets = [s for s in synced.cli.fake.leaked_secrets() if len(s) >= 8]
    assert secrets
    blobs = list(synced.cli.outputs)
    for path in synced.cli.home.rglob("*"):
        if path.is_file():
            blobs.append(path.read_bytes().decode("latin-1"))
    log = synced.cli.home / "data" / "dashtam.log"
    assert log.is_file()
    assert log.stat().st_size > 0
    for secret in secrets:
        for blob in blobs:
            assert secret not in blob
    numbers = [a.account_number for a in synced.cli.fake.expectations().accounts]
    for number in numbers:
        for blob in blobs:
            assert number not in blob


# ------------------------------------------------------------------ token lifecycle and faults


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Cli]:
    with FakeSchwab(seed=3, heavy_rows=0, years=1) as fake:
        cli = make_cli(fake, tmp_path / "home")
        connected, _ = cli.connect("--no-sync")
        assert connected.returncode == 0, connected.stderr
        yield cli
        assert fake.internal_errors == []


def test_an_expired_access_token_is_refreshed_transparently(small: Cli) -> None:
    small.fake.expire_access_tokens()

    result = small.run("sync", "--quiet")

    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    grants = [r.form.get("grant_type") for r in small.fake.requests_to("/v1/oauth/token")]
    assert grants.count("refresh_token") == 1
    audit = small.json("audit", "list", "--action", "provider_token_refresh")
    assert {e["outcome"] for e in audit} >= {"attempted", "succeeded"}


def test_a_dead_refresh_token_expires_the_connection_with_the_command_to_run(small: Cli) -> None:
    small.fake.kill_refresh_tokens()
    small.fake.expire_access_tokens()

    result = small.run("sync", "--quiet")

    assert result.returncode == 4
    assert result.stdout == ""  # quiet: the error lines only, on stderr
    assert "dashtam providers connect schwab --alias schwab" in result.stderr
    [connection] = small.json("providers", "list")
    assert connection["status"] == "expired"
    assert "dashtam providers connect schwab --alias schwab" in (connection["action"] or "")
    assert connection["refresh_seconds_left"] == 0  # no time left on a refused login
    # the next cron run says it again (it used to exit 0 or 10 in silence)
    later = small.run("sync", "--quiet")
    assert later.returncode == 4
    assert later.stdout == ""
    assert later.stderr.startswith("error[connection_not_active]: connection 'schwab' is expired")

    again, _ = small.connect("--no-sync", "--alias", "broker")
    assert again.returncode == 0, again.stderr
    assert "dashtam providers rename schwab broker" in again.stderr  # --alias was for a new one
    [renewed] = small.json("providers", "list")
    assert (renewed["id"], renewed["status"]) == (connection["id"], "active")
    assert renewed["alias"] == "schwab"


def test_429_and_503_bursts_are_retried(small: Cli) -> None:
    small.fake.fail_next(2, status=429, retry_after=0)
    small.fake.fail_next(2, status=503, retry_after=0)

    result = small.run("sync", "--format", "json")

    assert result.returncode == 0, result.stderr
    statuses = [r.status for r in small.fake.requests_to("/trader/v1")]
    assert statuses.count(429) == 2
    assert statuses.count(503) == 2


def test_refresh_command_reports_new_expiries(small: Cli) -> None:
    result = small.run("providers", "refresh", "schwab", "--format", "json")

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "active"
    assert 7 * 86400 - 600 < document["refresh_seconds_left"] <= 7 * 86400


def test_manual_flow_reads_the_pasted_redirect(tmp_path: Path) -> None:
    with FakeSchwab(seed=5, heavy_rows=0, years=1) as fake:
        cli = make_cli(fake, tmp_path / "home")
        proc = subprocess.Popen(
            [*CONNECT, "--manual"],
            env=cli.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        assert proc.stdin is not None
        url = None
        while url is None:
            line = proc.stderr.readline()
            assert line, "the CLI ended before printing the login URL"
            url = fake.extract_authorize_url(line)
        proc.stdin.write("\n")  # an empty paste is asked again, never exchanged
        proc.stdin.write(fake.authorize_redirect_url(url) + "\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        # stdout is the connection with its synced accounts
        assert "Connection schwab" in out
        for expected in fake.expectations().accounts:
            assert f"****{expected.account_number[-4:]}" in out
        grants = [r.form.get("grant_type") for r in fake.requests_to("/v1/oauth/token")]
        assert grants == ["authorization_code"]
