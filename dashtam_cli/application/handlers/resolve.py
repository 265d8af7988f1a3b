"""Resolving what people type (an id prefix, like git, or a connection alias) to one entity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from dashtam_cli.domain.errors import ErrorCode, Result, fail, ok

#: A prefix shorter than this would match too much by accident.
MIN_PREFIX = 4


def normalize_ref(ref: str) -> str:
    """Lower-case, without dashes or surrounding space (so ``3F2A-…`` matches ``3f2a…``)."""
    return ref.strip().lower().replace("-", "")


def resolve_ref[T](
    ref: str,
    items: Sequence[T],
    *,
    kind: str,
    id_of: Callable[[T], UUID],
    aliases_of: Callable[[T], Sequence[str]] = lambda _: (),
    list_command: str,
) -> Result[T]:
    """Find the one item whose alias equals ``ref`` or whose id starts with ``ref``.

    Args:
        ref: what the user typed.
        items: the candidates.
        kind: ``connection``, ``account``... for messages.
        id_of: the item's UUID.
        aliases_of: exact names that also identify it (connection aliases).
        list_command: the command that lists candidates, for hints.

    Returns:
        The item; ``not_found`` (exit 10) or ``ambiguous_id`` (exit 2) with a hint.
    """
    wanted = ref.strip()
    if not wanted:
        return fail(ErrorCode.INVALID_ARGUMENT, f"an empty {kind} id", hint=f"see {list_command}")
    exact = [item for item in items if wanted in aliases_of(item)]
    if len(exact) == 1:
        return ok(exact[0])
    needle = normalize_ref(wanted)
    full = [item for item in items if id_of(item).hex == needle]
    if len(full) == 1:
        return ok(full[0])
    hexadecimal = all(c in "0123456789abcdef" for c in needle)
    named = any(aliases_of(item) for item in items)
    if hexadecimal and 0 < len(needle) < MIN_PREFIX and not named:  # "abc" may be an alias
        return fail(
            ErrorCode.INVALID_ARGUMENT,
            f"{wanted!r} is too short to name a {kind}: type at least {MIN_PREFIX} characters",
            hint=f"see {list_command}",
        )
    if len(needle) < MIN_PREFIX or not hexadecimal:
        what = f"an alias or at least {MIN_PREFIX}" if named else f"at least {MIN_PREFIX}"
        return fail(
            ErrorCode.NOT_FOUND,
            f"no {kind} is called {wanted!r}",
            hint=f"use {what} characters of an id; see {list_command}",
        )
    matches = [item for item in items if id_of(item).hex.startswith(needle)]
    if len(matches) == 1:
        return ok(matches[0])
    if not matches:
        return fail(
            ErrorCode.NOT_FOUND, f"no {kind} matches {wanted!r}", hint=f"see {list_command}"
        )
    shown = ", ".join(str(id_of(m))[:13] for m in matches[:5])
    more = "…" if len(matches) > 5 else ""
    return fail(
        ErrorCode.AMBIGUOUS_ID,
        f"{wanted!r} matches {len(matches)} {kind}s ({shown}{more})",
        hint="type more characters of the id",
    )
