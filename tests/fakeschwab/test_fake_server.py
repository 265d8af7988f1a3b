"""The fake Schwab server behaves like Schwab as schwab.md describes it (driven by plain httpx)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakeschwab import (
    CORRELATION_HEADER,
    TRANSACTION_TYPES,
    Dataset,
    FakeSchwab,
    eastern_midnight,
    follow_authorize,
    free_loopback_port,
)
from tests.fakeschwab.data import CLIENT_LEAD, SWEEP_SYMBOL, dumps, plan_heavy_year

NOW = dt.datetime(2026, 5, 20, 15, 30, tzinfo=dt.UTC)
CALLBACK = "https://127.0.0.1:8182"
ALL_TYPES = ",".join(TRANSACTION_TYPES)


def parse(response: httpx.Response) -> Any:
    """JSON with every non-integer number as a Decimal (the way the app parses Schwab)."""
    return json.loads(response.content, parse_float=Decimal)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


@pytest.fixture
def small() -> Iterator[FakeSchwab]:
    """A fresh fake with a small dataset and a frozen clock."""
    with FakeSchwab(seed=5, now=NOW, tick=False, heavy_rows=0, years=1) as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture(scope="module")
def big() -> Iterator[FakeSchwab]:
    """The default dataset (with the >3000-row year), shared by the tests that change no state."""
    with FakeSchwab(seed=11, now=NOW, tick=False) as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10.0) as http:
        yield http


def login(fake: FakeSchwab, client: httpx.Client, redirect_uri: str = CALLBACK) -> dict[str, Any]:
    """The whole authorization-code flow over HTTP; returns the token response."""
    location = fake.authorize_redirect_url(fake.authorize_url(redirect_uri, state="s1"))
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = client.post(
        fake.token_endpoint,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        auth=(fake.client_id, fake.client_secret),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(fake: FakeSchwab, client: httpx.Client, token: str) -> httpx.Response:
    return client.post(
        fake.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(fake.client_id, fake.client_secret),
    )


# ------------------------------------------------------------------------------------------------
# OAuth


def test_authorize_redirects_to_the_callback_like_schwab(
    big: FakeSchwab, client: httpx.Client
) -> None:
    location = big.authorize_redirect_url(big.authorize_url(CALLBACK, state="st-1"))
    assert location.startswith("https://127.0.0.1:8182/?code=C0.")  # a "/" before "?"
    parts = urlsplit(location)
    raw = dict(pair.split("=", 1) for pair in parts.query.split("&"))
    assert list(raw) == ["code", "session", "state"]
    assert raw["code"].endswith("%40")  # the "@" arrives percent-encoded
    assert parse_qs(parts.query)["code"][0].endswith("@")
    uuid.UUID(raw["session"])
    assert raw["state"] == "st-1"

    without_state = big.authorize_redirect_url(big.authorize_url(CALLBACK))
    assert "state" not in parse_qs(urlsplit(without_state).query)

    with_path = big.authorize_redirect_url(big.authorize_url(CALLBACK + "/cb", state="x"))
    assert with_path.startswith(CALLBACK + "/cb?code=C0.")


def test_authorize_refuses_unknown_clients_and_unregistered_callbacks(
    client: httpx.Client,
) -> None:
    callbacks = [CALLBACK]
    with FakeSchwab(seed=5, now=NOW, heavy_rows=0, years=1, registered_callbacks=callbacks) as fake:
        ok = client.get(fake.authorize_url(CALLBACK))
        assert ok.status_code == 302
        for url in (
            fake.authorize_url(CALLBACK + "/"),  # trailing slash: not the registered string
            fake.authorize_url("HTTPS://127.0.0.1:8182"),
            fake.authorize_url(CALLBACK).replace(fake.client_id, "X" * 32),
        ):
            page = client.get(url)
            assert page.status_code == 400
            assert page.headers["content-type"].startswith("text/html")
            assert "unable to complete your request" in page.text
            assert "location" not in page.headers
        fake.register_callback(CALLBACK + "/")
        assert client.get(fake.authorize_url(CALLBACK + "/")).status_code == 302


def test_token_endpoint_requires_http_basic_client_auth(
    big: FakeSchwab, client: httpx.Client
) -> None:
    location = big.authorize_redirect_url(big.authorize_url(CALLBACK))
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    in_body = client.post(
        big.token_endpoint,
        data={**form, "client_id": big.client_id, "client_secret": big.client_secret},
    )
    assert in_body.status_code == 401
    assert in_body.json()["error"] == "invalid_client"
    wrong = client.post(big.token_endpoint, data=form, auth=(big.client_id, "w" * 16))
    assert wrong.status_code == 401

    good = client.post(big.token_endpoint, data=form, auth=(big.client_id, big.client_secret))
    assert good.status_code == 200
    body = good.json()
    assert list(body) == [
        "expires_in",
        "token_type",
        "scope",
        "refresh_token",
        "access_token",
        "id_token",
    ]
    assert (body["expires_in"], body["token_type"], body["scope"]) == (1800, "Bearer", "api")
    assert body["access_token"].startswith("I0.")
    assert len(big.client_id) == 32
    assert len(big.client_secret) == 16


def test_code_is_single_use_bound_to_redirect_uri_decoded_and_short_lived(
    small: FakeSchwab, client: httpx.Client
) -> None:
    auth = (small.client_id, small.client_secret)

    def exchange(code: str, redirect_uri: str = CALLBACK) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return client.post(small.token_endpoint, data=form, auth=auth)

    def new_code() -> tuple[str, str]:
        location = small.authorize_redirect_url(small.authorize_url(CALLBACK))
        raw = urlsplit(location).query.split("&")[0].removeprefix("code=")
        return parse_qs(urlsplit(location).query)["code"][0], raw

    code, raw = new_code()
    assert exchange(raw).status_code == 400  # still percent-encoded: not the code
    assert exchange(code, CALLBACK + "/").json()["error"] == "invalid_grant"
    assert exchange(code).status_code == 200
    reused = exchange(code)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    late, _ = new_code()
    small.advance(seconds=31)
    assert exchange(late).status_code == 400
    fresh, _ = new_code()
    small.advance(seconds=29)
    assert exchange(fresh).status_code == 200


@pytest.mark.parametrize(
    "form",
    [{}, {"grant_type": ""}, {"grant_type": "client_credentials"}, {"grant_type": "password"}],
)
def test_token_endpoint_never_guesses_a_grant(
    big: FakeSchwab, client: httpx.Client, form: dict[str, str]
) -> None:
    auth = (big.client_id, big.client_secret)
    response = client.post(big.token_endpoint, data=form, auth=auth)
    assert response.status_code == 400
    assert "access_token" not in response.text


def test_refresh_grant_and_the_seven_day_chain(small: FakeSchwab, client: httpx.Client) -> None:
    tokens = login(small, client)
    first = refresh(small, client, tokens["refresh_token"])
    assert first.status_code == 200
    body = first.json()
    assert "refresh_token" not in body  # the client must keep the old one
    assert body["access_token"] != tokens["access_token"]
    accounts = client.get(small.api_url + "/accounts", headers=bearer(body["access_token"]))
    assert accounts.status_code == 200

    small.advance(days=6, hours=23)
    assert refresh(small, client, tokens["refresh_token"]).status_code == 200
    small.advance(hours=1)  # 7 days after the code exchange: the refresh token is dead
    dead = refresh(small, client, tokens["refresh_token"])
    assert dead.status_code == 400
    error = dead.json()
    assert error["error"] == "unsupported_token_type"
    inner = json.loads(json.loads(error["error_description"].removeprefix("400 Bad Request: ")))
    assert inner["error"] == "refresh_token_authentication_error"


def test_refresh_can_repeat_the_refresh_token(client: httpx.Client) -> None:
    with FakeSchwab(
        seed=5, now=NOW, heavy_rows=0, years=1, refresh_returns_refresh_token=True
    ) as fake:
        tokens = login(fake, client)
        body = refresh(fake, client, tokens["refresh_token"]).json()
        assert body["refresh_token"] == tokens["refresh_token"]


def test_a_new_chain_and_kill_refresh_tokens_invalidate_old_tokens(
    small: FakeSchwab, client: httpx.Client
) -> None:
    old = login(small, client)
    new = login(small, client)
    assert refresh(small, client, old["refresh_token"]).status_code == 400
    url = small.api_url + "/accounts/accountNumbers"
    assert client.get(url, headers=bearer(old["access_token"])).status_code == 401
    assert client.get(url, headers=bearer(new["access_token"])).status_code == 200

    small.kill_refresh_tokens()
    assert refresh(small, client, new["refresh_token"]).status_code == 400
    assert client.get(url, headers=bearer(new["access_token"])).status_code == 401


# ------------------------------------------------------------------------------------------------
# Trader API: auth, shapes, validation


def test_trader_api_needs_a_live_bearer_token(small: FakeSchwab, client: httpx.Client) -> None:
    url = small.api_url + "/accounts/accountNumbers"
    for headers in ({}, bearer("I0.unknown@"), {"Authorization": "Basic eDp5"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        [error] = response.json()["errors"]
        assert (error["status"], error["title"]) == (401, "Unauthorized")
        uuid.UUID(error["id"])

    tokens = login(small, client)
    assert client.get(url, headers=bearer(tokens["access_token"])).status_code == 200
    small.expire_access_tokens()
    assert client.get(url, headers=bearer(tokens["access_token"])).status_code == 401
    renewed = refresh(small, client, tokens["refresh_token"]).json()["access_token"]
    assert client.get(url, headers=bearer(renewed)).status_code == 200
    small.advance(seconds=1800)  # access tokens live 30 minutes of the fake's clock
    assert client.get(url, headers=bearer(renewed)).status_code == 401
    assert client.post(url, headers=bearer(login(small, client)["access_token"])).status_code == 405


def test_every_response_carries_a_correlation_id(big: FakeSchwab, client: httpx.Client) -> None:
    headers = bearer(login(big, client)["access_token"])
    responses = [
        client.get(big.api_url + "/accounts"),
        client.post(big.token_endpoint, data={}),
        client.get(big.authorize_url(CALLBACK)),
        client.get(big.api_url + "/accounts", headers=headers),
    ]
    ids = [r.headers[CORRELATION_HEADER] for r in responses]
    assert len({str(uuid.UUID(i)) for i in ids}) == len(ids)
    assert big.requests[-1].correlation_id == ids[-1]


def test_accounts_endpoints(big: FakeSchwab, client: httpx.Client) -> None:
    headers = bearer(login(big, client)["access_token"])
    numbers = client.get(big.api_url + "/accounts/accountNumbers", headers=headers).json()
    assert [set(n) for n in numbers] == [{"accountNumber", "hashValue"}] * 3
    assert all(len(n["hashValue"]) == 64 for n in numbers)

    bare = parse(client.get(big.api_url + "/accounts", headers=headers))
    assert all("positions" not in a["securitiesAccount"] for a in bare)
    full = parse(client.get(big.api_url + "/accounts?fields=positions", headers=headers))
    assert [a["securitiesAccount"]["type"] for a in full] == ["MARGIN", "CASH", "CASH"]
    assert all(a["securitiesAccount"]["positions"] for a in full)
    assert "hashValue" not in json.dumps(full, default=str)
    assert [a["securitiesAccount"]["accountNumber"] for a in full] == [
        n["accountNumber"] for n in numbers
    ]

    one = parse(
        client.get(
            f"{big.api_url}/accounts/{numbers[1]['hashValue']}",
            params={"fields": "positions"},
            headers=headers,
        )
    )
    assert one == full[1]
    plain = client.get(f"{big.api_url}/accounts/{numbers[1]['accountNumber']}", headers=headers)
    assert (plain.status_code, plain.json()) == (400, {"message": "Invalid account number"})
    plain_tx = client.get(
        f"{big.api_url}/accounts/{numbers[1]['accountNumber']}/transactions",
        params={"startDate": stamp(NOW - dt.timedelta(days=30)), "endDate": stamp(NOW)},
        headers=headers,
    )
    assert plain_tx.json() == {"message": "Invalid account number"}
    bad_field = client.get(big.api_url + "/accounts?fields=orders", headers=headers)
    assert bad_field.json() == {"message": "'orders' is not a valid value for fields"}

    preference = client.get(big.api_url + "/userPreference", headers=headers).json()
    assert isinstance(preference, dict)
    assert [a["nickName"] for a in preference["accounts"]] == [
        "Individual",
        "Rollover IRA",
        "Household Cash",
    ]
    assert preference["accounts"][0]["displayAcctId"] == "..." + numbers[0]["accountNumber"][-3:]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"endDate": "2026-05-01T00:00:00.000Z"}, "'' is not a valid value for startDate"),
        (
            {"startDate": "2026-01-01T00:00:00Z", "endDate": "2026-05-01T00:00:00.000Z"},
            "'2026-01-01T00:00:00Z' is not a valid value for startDate",
        ),
        (
            {"startDate": "2026-01-01T00:00:00.000Z", "endDate": "2026-05-01T00:00:00.000+00:00"},
            "'2026-05-01T00:00:00.000+00:00' is not a valid value for endDate",
        ),
        (
            {"startDate": "2026-01-01", "endDate": "2026-05-01T00:00:00.000Z"},
            "'2026-01-01' is not a valid value for startDate",
        ),
        (
            {"startDate": "2026-02-30T00:00:00.000Z", "endDate": "2026-05-01T00:00:00.000Z"},
            "'2026-02-30T00:00:00.000Z' is not a valid value for startDate",
        ),
        (
            {
                "startDate": "2026-01-01T00:00:00.000Z",
                "endDate": "2026-05-01T00:00:00.000Z",
                "types": "TRADE,BOGUS",
            },
            "'BOGUS' is not a valid value for types",
        ),
    ],
)
def test_transactions_parameter_validation(
    big: FakeSchwab, client: httpx.Client, params: dict[str, str], message: str
) -> None:
    headers = bearer(login(big, client)["access_token"])
    account = big.expectations().accounts[0].hash_value
    query = {"types": ALL_TYPES, **params}
    response = client.get(
        f"{big.api_url}/accounts/{account}/transactions", params=query, headers=headers
    )
    assert response.status_code == 400
    assert response.json() == {"message": message}


def test_transactions_range_and_types_are_required_and_bounded(
    big: FakeSchwab, client: httpx.Client
) -> None:
    headers = bearer(login(big, client)["access_token"])
    url = f"{big.api_url}/accounts/{big.expectations().by_key['ira'].hash_value}/transactions"
    one_year = {"startDate": "2025-05-20T00:00:00.000Z", "endDate": "2026-05-20T00:00:00.000Z"}
    assert client.get(url, params={**one_year, "types": ALL_TYPES}, headers=headers).is_success
    too_long = {**one_year, "endDate": "2026-05-20T00:00:00.001Z", "types": ALL_TYPES}
    response = client.get(url, params=too_long, headers=headers)
    assert response.status_code == 400
    assert "1 year" in response.json()["errors"][0]
    reversed_range = {"startDate": one_year["endDate"], "endDate": one_year["startDate"]}
    response = client.get(url, params={**reversed_range, "types": ALL_TYPES}, headers=headers)
    assert response.status_code == 400
    no_types = client.get(url, params=one_year, headers=headers)
    assert no_types.status_code == 400
    assert no_types.json()["errors"] == ["types: must not be empty"]


def test_transactions_filter_by_time_type_and_symbol(big: FakeSchwab, client: httpx.Client) -> None:
    headers = bearer(login(big, client)["access_token"])
    expected = big.expectations().by_key["household"]
    url = f"{big.api_url}/accounts/{expected.hash_value}/transactions"
    rows = big.dataset.rows("household")
    target = rows[len(rows) // 2]
    exact = {"startDate": stamp(target.time), "endDate": stamp(target.time), "types": target.type}
    got = client.get(url, params=exact, headers=headers).json()
    assert target.activity_id in [r["activityId"] for r in got]  # both bounds inclusive
    assert all(r["time"] == target.payload["time"] for r in got)

    window = {"startDate": stamp(NOW - dt.timedelta(days=300)), "endDate": stamp(NOW)}
    everything = parse(client.get(url, params={**window, "types": ALL_TYPES}, headers=headers))
    trades = parse(client.get(url, params={**window, "types": "TRADE"}, headers=headers))
    assert 0 < len(trades) < len(everything)
    assert {r["type"] for r in trades} == {"TRADE"}
    times = [r["time"] for r in trades]
    assert times == sorted(times, reverse=True)  # newest first; clients must sort themselves
    by_symbol = {**window, "types": ALL_TYPES, "symbol": "ZZBK"}
    zzbk = parse(client.get(url, params=by_symbol, headers=headers))
    assert 0 < len(zzbk) < len(everything)
    assert all(
        any(leg["instrument"]["symbol"] == "ZZBK" for leg in r["transferItems"]) for r in zzbk
    )


def test_transactions_are_capped_at_3000_rows_without_paging(
    big: FakeSchwab, client: httpx.Client
) -> None:
    expected = big.expectations()
    assert expected.heavy_year == NOW.year - 1
    assert expected.heavy_year_rows > 3000
    headers = bearer(login(big, client)["access_token"])
    assert expected.heavy_account_number is not None
    heavy = expected.by_number[expected.heavy_account_number]
    assert heavy.key == "brokerage"
    url = f"{big.api_url}/accounts/{heavy.hash_value}/transactions"
    year = expected.heavy_year
    ids: set[int] = set()
    sizes: list[int] = []

    def fetch(start: dt.datetime, end: dt.datetime) -> None:  # split like a client must
        params = {"startDate": stamp(start), "endDate": stamp(end), "types": ALL_TYPES}
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200
        assert "link" not in response.headers  # no paging, no signal but the count
        rows = response.json()
        sizes.append(len(rows))
        if len(rows) < 3000:
            ids.update(r["activityId"] for r in rows)
            return
        middle = start + (end - start) / 2
        fetch(start, middle)
        fetch(middle + dt.timedelta(seconds=1), end)

    first = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    fetch(first, first.replace(year=year + 1) - dt.timedelta(seconds=1))
    assert sizes[0] == 3000  # the whole calendar year is truncated at the cap
    assert len(sizes) >= 3
    assert len(ids) == expected.heavy_year_rows


# ------------------------------------------------------------------------------------------------
# faults and the request log


def test_fail_next_injects_statuses_and_retry_after(
    small: FakeSchwab, client: httpx.Client
) -> None:
    headers = bearer(login(small, client)["access_token"])
    url = small.api_url + "/accounts"
    small.fail_next(2, status=429, retry_after=2)
    first, second, third = (client.get(url, headers=headers) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["retry-after"] == "2"
    assert first.json()["errors"][0]["status"] == 429

    small.fail_next(status=503)
    unavailable = client.get(url, headers=headers)
    assert unavailable.status_code == 503
    assert "retry-after" not in unavailable.headers

    small.fail_next(status=500, body={"message": "boom"}, path_prefix="/userPreference")
    assert client.get(url, headers=headers).status_code == 200  # other paths untouched
    boom = client.get(small.api_url + "/userPreference", headers=headers)
    assert (boom.status_code, boom.json()) == (500, {"message": "boom"})

    small.fail_next(status=404)
    gateway = client.get(url, headers=headers)
    assert gateway.headers["content-type"] == "text/plain"
    assert "Requested route" in gateway.text

    small.fail_next(status=503)  # the default scope is the Trader API: OAuth is unaffected
    assert refresh(small, client, login(small, client)["refresh_token"]).status_code == 200
    assert client.get(url, headers=headers).status_code == 503
    small.fail_next(status=503, path_prefix="/v1/oauth/token")
    assert refresh(small, client, "anything").status_code == 503


def test_request_log_and_leaked_secrets(small: FakeSchwab, client: httpx.Client) -> None:
    tokens = login(small, client)
    refreshed = refresh(small, client, tokens["refresh_token"]).json()
    account = small.expectations().accounts[0].hash_value
    client.get(
        f"{small.api_url}/accounts/{account}/transactions",
        params={
            "startDate": stamp(NOW - dt.timedelta(days=9)),
            "endDate": stamp(NOW),
            "types": ALL_TYPES,
        },
        headers=bearer(refreshed["access_token"]),
    )
    token_calls = small.requests_to("/v1/oauth/token", method="POST")
    assert [r.form["grant_type"] for r in token_calls] == ["authorization_code", "refresh_token"]
    assert all(r.basic == (small.client_id, small.client_secret) for r in token_calls)
    [call] = small.requests_to(f"/accounts/{account}/transactions")
    assert call.bearer == refreshed["access_token"]
    assert call.query["types"] == ALL_TYPES
    assert call.query["endDate"] == stamp(NOW)
    assert call.status == 200

    secrets = small.leaked_secrets()
    for value in (
        small.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        base64.b64encode(f"{small.client_id}:{small.client_secret}".encode()).decode(),
    ):
        assert value in secrets
    assert small.client_id not in secrets
    small.clear_requests()
    assert small.requests == []


# ------------------------------------------------------------------------------------------------
# the dataset


def _rows_json(dataset: Dataset, key: str) -> list[dict[str, Any]]:
    return [json.loads(r.to_json(), parse_float=Decimal) for r in dataset.rows(key)]


def test_dataset_invariants(big: FakeSchwab, client: httpx.Client) -> None:
    expected = big.expectations()
    headers = bearer(login(big, client)["access_token"])
    accounts = parse(client.get(big.api_url + "/accounts?fields=positions", headers=headers))
    seen_types: set[str] = set()
    for payload, account in zip(accounts, expected.accounts, strict=True):
        rows = _rows_json(big.dataset, account.key)
        ids = [r["activityId"] for r in rows]
        assert ids == list(account.activity_ids)
        assert len(set(ids)) == len(ids)
        assert sum((r["netAmount"] for r in rows), Decimal(0)) == account.net_amount_sum
        valid = sum((r["netAmount"] for r in rows if r["status"] == "VALID"), Decimal(0))
        assert valid == account.cash_balance + account.money_market
        assert {r["activityId"] for r in rows if r["status"] == "PENDING"} == set(
            account.pending_activity_ids
        )
        traded: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:
            seen_types.add(row["type"])
            assert isinstance(row["netAmount"], Decimal)  # 60.0, never 60 or "60"
            trade_day = dt.datetime.strptime(row["tradeDate"], "%Y-%m-%dT%H:%M:%S%z")
            assert trade_day == eastern_midnight(trade_day.date())
            assert trade_day.hour in (4, 5)
            if row["type"] == "TRADE":
                assert (
                    sum((leg["cost"] for leg in row["transferItems"]), Decimal(0))
                    == row["netAmount"]
                )
                fee_legs = [leg for leg in row["transferItems"] if "feeType" in leg]
                assert [leg["feeType"] for leg in fee_legs] == [
                    "COMMISSION",
                    "SEC_FEE",
                    "OPT_REG_FEE",
                    "TAF_FEE",
                ]
            if row["type"] in ("TRADE", "RECEIVE_AND_DELIVER"):
                for leg in row["transferItems"]:
                    if leg["instrument"]["assetType"] != "CURRENCY":
                        traded[leg["instrument"]["symbol"]] += leg["amount"]
        held = {s: q for s, q in traded.items() if q != 0}
        positions = dict(account.positions)
        positions.pop(SWEEP_SYMBOL, None)
        assert held == positions

        securities = payload["securitiesAccount"]
        balances = securities["currentBalances"]
        net = {
            p["instrument"]["symbol"]: p["longQuantity"] - p["shortQuantity"]
            for p in securities["positions"]
        }
        assert net == dict(account.positions)
        values = sum((p["marketValue"] for p in securities["positions"]), Decimal(0))
        assert values + balances["cashBalance"] == balances["liquidationValue"]
        assert balances["liquidationValue"] == account.liquidation_value
        assert balances["cashBalance"] == account.cash_balance
        assert "hashValue" not in securities
    assert seen_types == set(TRANSACTION_TYPES)

    brokerage = expected.by_key["brokerage"]
    kinds = {p["instrument"]["assetType"] for p in accounts[0]["securitiesAccount"]["positions"]}
    assert {"EQUITY", "COLLECTIVE_INVESTMENT", "OPTION", "CASH_EQUIVALENT"} <= kinds
    assert brokerage.money_market > 0
    assert any(q < 0 for q in brokerage.positions.values())  # the short put
    ira = accounts[1]["securitiesAccount"]
    ira_kinds = {p["instrument"]["assetType"] for p in ira["positions"]}
    assert ira_kinds == {"COLLECTIVE_INVESTMENT", "MUTUAL_FUND"}
    assert all(a.pending_activity_ids for a in expected.accounts)
    first_year = min(brokerage.rows_per_year)
    assert first_year == NOW.year - 3


def test_pending_rows_settle_and_new_rows_appear_when_the_clock_moves(small: FakeSchwab) -> None:
    before = small.expectations()
    pending = {a.key: a.pending_activity_ids for a in before.accounts}
    assert all(pending.values())
    for key, ids in pending.items():
        for activity_id in ids:
            row = small.dataset.find_row(key, activity_id)
            assert row is not None
            body = row.to_dict()
            assert body["status"] == "PENDING"
            assert "settlementDate" not in body

    small.advance(days=5)
    after = small.expectations()
    for account in after.accounts:
        old = before.by_key[account.key]
        for activity_id in pending[account.key]:
            row = small.dataset.find_row(account.key, activity_id)
            assert row is not None
            body = row.to_dict()
            assert body["status"] == "VALID"
            assert list(body).index("settlementDate") == list(body).index("tradeDate") + 1
            assert activity_id not in account.pending_activity_ids
        assert set(old.activity_ids) <= set(account.activity_ids)
    old_ids = {i for a in before.accounts for i in a.activity_ids}
    new_ids = {i for a in after.accounts for i in a.activity_ids} - old_ids
    assert new_ids  # five more days of activity
    assert min(new_ids) > max(old_ids)
    new_times = [r.time for r in small.dataset.all_rows() if r.time > NOW]
    assert new_times
    assert max(new_times) < small.now()


@pytest.mark.parametrize(
    "anchor",
    [dt.date(2026, month, 1) for month in range(1, 13)]
    + [dt.date(2026, 12, 31), dt.date(2028, 2, 29), dt.date(2027, 7, 4)],
)
def test_heavy_burst_fills_one_of_a_clients_yearly_windows(anchor: dt.date) -> None:
    schedule = plan_heavy_year(anchor.year - 1, 3600, anchor=anchor)
    assert sum(schedule.values()) * 2 == 3600
    assert {day.year for day in schedule} == {anchor.year - 1}
    for lead in (dt.timedelta(0), CLIENT_LEAD, dt.timedelta(days=40)):
        ends = [anchor + lead - dt.timedelta(days=365 * k) for k in range(4)]
        assert any(
            all(end - dt.timedelta(days=365) < day < end for day in schedule) for end in ends
        ), lead


def test_dataset_is_deterministic_for_a_seed() -> None:
    def snapshot(seed: int) -> bytes:
        data = Dataset(seed=seed, now=NOW, heavy_rows=0, years=1)
        rows = [r.to_json() for key in ("brokerage", "ira", "household") for r in data.rows(key)]
        return dumps(data.accounts(positions=True)) + b"".join(rows)

    assert snapshot(21) == snapshot(21)
    assert snapshot(21) != snapshot(22)


def test_eastern_midnight_matches_the_new_york_zone() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        new_york = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time-zone database")
    day = dt.date(2023, 1, 1)
    while day < dt.date(2027, 1, 1):
        local = dt.datetime(day.year, day.month, day.day, tzinfo=new_york)
        assert eastern_midnight(day) == local.astimezone(dt.UTC)
        day += dt.timedelta(days=1)


# ------------------------------------------------------------------------------------------------
# browser stand-in and lifecycle


class _CallbackHandler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b"You can close this tab."
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def https_callback(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A self-signed HTTPS listener on 127.0.0.1 standing in for the app's callback."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen: list[str] = []
    handler = type("Handler", (_CallbackHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/callback", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_follow_authorize_plays_the_browser_up_to_the_callback(
    small: FakeSchwab, https_callback: tuple[str, list[str]]
) -> None:
    callback, seen = https_callback
    env = small.env(callback_url=callback)
    assert env["DASHTAM_SCHWAB_CALLBACK_URL"] == callback
    assert env["DASHTAM_SCHWAB_AUTH_URL"] == small.base_url + "/v1/oauth"
    assert env["DASHTAM_SCHWAB_API_URL"] == small.base_url + "/trader/v1"
    printed = f"Open this URL to log in:\n{small.authorize_url(callback, state='good')}\nWaiting…"
    url = small.extract_authorize_url(printed)
    assert url is not None

    response = follow_authorize(url)
    assert response.status_code == 200
    assert response.text == "You can close this tab."
    forged = small.follow_authorize(url, state="forged")
    assert forged.status_code == 200
    states = [parse_qs(urlsplit(path).query)["state"][0] for path in seen]
    assert states == ["good", "forged"]
    assert all(urlsplit(path).path == "/callback" for path in seen)

    other = small.authorize_url(callback.replace("/callback", "/other"))
    refused = follow_authorize(other)
    assert refused.status_code == 400  # not registered: Schwab's error page, no redirect
    with pytest.raises(AssertionError, match="did not redirect"):
        small.authorize_redirect_url(other)


def test_free_loopback_port_can_be_bound() -> None:
    port = free_loopback_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _CallbackHandler)
    server.server_close()
    assert 1024 < port < 65536


def test_stops_cleanly() -> None:
    fake = FakeSchwab(seed=5, now=NOW, heavy_rows=0, years=1)
    with fake:
        url = fake.api_url + "/accounts"
        assert fake.running
        assert httpx.get(url, trust_env=False).status_code == 401
    assert not fake.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, trust_env=False, timeout=2)
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.base_url
