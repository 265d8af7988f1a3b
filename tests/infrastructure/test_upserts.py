"""Pure helpers of the set-based upserts: ids, decimal scale keys, the paused collector."""

from __future__ import annotations

import gc
from decimal import Decimal
from uuid import UUID

import pytest

from dashtam_cli.infrastructure.db.upserts import (
    new_uuid_hexes,
    new_uuids,
    paused_gc,
    random_uuid_bytes,
    scale_key,
)


def test_ids_are_random_version_4_uuids_sharing_their_first_byte() -> None:
    raw = random_uuid_bytes(2_000)
    ids = [UUID(bytes=raw[i : i + 16]) for i in range(0, len(raw), 16)]
    assert len(set(ids)) == 2_000
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}
    assert len({i.bytes[0] for i in ids}) == 1  # one slice of the id index per batch
    # the rest is random: the 8-character prefixes people type still tell rows apart
    assert len({i.hex[:8] for i in ids}) > 1_990
    assert random_uuid_bytes(0) == b""


def test_hex_and_uuid_forms_agree_with_the_stored_form() -> None:
    hexes = new_uuid_hexes(50)
    assert all(len(h) == 32 and UUID(h).hex == h for h in hexes)
    assert all(UUID(h).version == 4 for h in hexes)
    uuids = new_uuids(50)
    assert len(set(uuids)) == 50
    assert all(u.version == 4 for u in uuids)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1.5", "1.50", False),  # a change of scale is a change
        ("1.50", "1.50", True),
        ("-0.00", "0.00", True),  # PostgreSQL has no negative zero
        ("1E+2", "100", True),  # both scale 0
        ("100.0", "100", False),
        ("0E-8", "0.00000000", True),
    ],
)
def test_scale_keys_compare_value_and_scale(a: str, b: str, same: bool) -> None:
    assert (scale_key(Decimal(a)) == scale_key(Decimal(b))) is same


def test_scale_key_of_none_is_none() -> None:
    assert scale_key(None) is None


def test_the_collector_is_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it as it found it
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # disabled before: stays disabled
    finally:
        gc.enable()
