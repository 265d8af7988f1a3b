"""Hypothesis strategies for Schwab payloads, built from the Trader API OpenAPI document.

``hypothesis-jsonschema`` 0.23.1 cannot generate objects with the Hypothesis release in the lock
file (it calls the private ``many.more()``, which Hypothesis removed), so this module converts the
subset of JSON Schema the spec uses by itself:

* ``$ref`` into ``components/schemas`` is resolved here; a schema that refers back to itself
  (``TransactionInstrument`` -> ``Future`` -> ``TransactionInstrument``) is cut to ``{}``;
* ``allOf`` is merged; ``oneOf``/``anyOf`` become a choice; ``discriminator``/``xml`` are ignored;
* every property is optional (``required`` is ignored: real payloads omit fields freely);
* numbers are drawn as floats and turned into ``Decimal(str(x))``, as ``parse_float=Decimal``
  would parse them; ``date-time`` strings look like Schwab's (``+0000`` offsets), sometimes not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.infrastructure.schwab.api_fakes import FIXTURES

SPEC: dict[str, Any] = json.loads((FIXTURES / "trader_api.openapi.json").read_text("utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
MAX_DEPTH = 5

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=-4)), timezone(timedelta(0))]
)


def _schwab_timestamp(value: datetime) -> str:
    offset = value.strftime("%z") or "+0000"
    return value.strftime("%Y-%m-%dT%H:%M:%S") + offset


TIMESTAMPS = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=_ZONES
    ).map(_schwab_timestamp),
    st.datetimes(timezones=_ZONES).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=8),
)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False).map(lambda x: Decimal(str(x)))
INTEGERS = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(
    schema: Mapping[str, Any], seen: tuple[str, ...]
) -> tuple[Mapping[str, Any], tuple[str, ...]] | None:
    """Follow ``$ref`` links; None when the link loops back or goes too deep."""
    while "$ref" in schema:
        name = _name(schema["$ref"])
        if name in seen or len(seen) > MAX_DEPTH:
            return None
        seen = (*seen, name)
        schema = SCHEMAS[name]
    return schema, seen


def _properties(
    schema: Mapping[str, Any], seen: tuple[str, ...]
) -> dict[str, tuple[Mapping[str, Any], tuple[str, ...]]]:
    """The merged properties of an object schema and everything its ``allOf`` pulls in."""
    merged: dict[str, tuple[Mapping[str, Any], tuple[str, ...]]] = {}
    for part in schema.get("allOf", []):
        resolved = _resolve(part, seen)
        if resolved is not None:
            merged.update(_properties(*resolved))
    for key, value in schema.get("properties", {}).items():
        merged[key] = (value, seen)
    return merged


def schema_strategy(
    schema: Mapping[str, Any], seen: tuple[str, ...] = (), required: frozenset[str] = frozenset()
) -> st.SearchStrategy[Any]:
    """A strategy for values of ``schema`` (see the module docstring for the rules).

    Args:
        schema: the (sub)schema.
        seen: the component names on the way here (cuts recursion).
        required: top-level properties always present (all others are optional).
    """
    resolved = _resolve(schema, seen)
    if resolved is None:
        return st.just({})
    schema, seen = resolved
    choices = schema.get("oneOf") or schema.get("anyOf")
    if choices:
        return st.one_of([schema_strategy(choice, seen) for choice in choices])
    if "allOf" in schema or "properties" in schema or schema.get("type") == "object":
        props = _properties(schema, seen)
        if not props:
            return st.just({})
        strategies = {key: schema_strategy(sub, s) for key, (sub, s) in props.items()}
        return st.fixed_dictionaries(
            {key: value for key, value in strategies.items() if key in required},
            optional={key: value for key, value in strategies.items() if key not in required},
        )
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return TIMESTAMPS if schema.get("format") == "date-time" else st.text(max_size=12)
    if kind == "number":
        return NUMBERS
    if kind == "integer":
        return INTEGERS
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(schema_strategy(schema.get("items", {}), seen), max_size=3)
    return st.none()


def component(name: str, *required: str) -> st.SearchStrategy[Any]:
    """Payloads of ``components/schemas/<name>``; ``required`` top-level keys always present."""
    return schema_strategy({"$ref": f"#/components/schemas/{name}"}, required=frozenset(required))


_KEYS = st.sampled_from(
    [
        "activityId",
        "netAmount",
        "type",
        "status",
        "time",
        "tradeDate",
        "settlementDate",
        "description",
        "transferItems",
        "instrument",
        "amount",
        "cost",
        "price",
        "feeType",
        "positionEffect",
        "assetType",
        "symbol",
        "accountNumber",
        "longQuantity",
        "shortQuantity",
        "averagePrice",
        "marketValue",
        "optionMultiplier",
        "positions",
        "currentBalances",
        "liquidationValue",
        "cashBalance",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTEGERS,
    NUMBERS,
    st.text(max_size=10),
    st.sampled_from(["TRADE", "JOURNAL", "OPTION", "CURRENCY", "VALID", "PENDING", "OPENING"]),
    TIMESTAMPS,
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(_KEYS | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=25,
)
"""Arbitrary JSON whose keys are often Schwab's: for the "never raises" properties."""
