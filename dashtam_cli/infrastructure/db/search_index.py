"""The transaction search index at run time: keeping it current, and asking it for candidates.

Migration 0002 creates it (and documents its shape). On SQLite it is an FTS5 table with the
trigram tokenizer over ``transactions`` (``description``, ``symbol``, ``security_name``), keyed
by rowid, ``detail=none``; ``transaction_search_state.indexed_through`` is the highest rowid it
covers. On PostgreSQL, pg_trgm GIN indexes serve ``ILIKE`` by themselves and nothing here runs.

* Writers call :func:`catch_up` before each commit: one ``INSERT .. SELECT`` adds the rows above
  ``indexed_through`` in bulk (triggers keep covered rows right when their text changes). So the
  index always covers every committed row, at a fraction of what an INSERT trigger costs.
* Readers ask :func:`match_expression` for the FTS5 query of a search text: every trigram of it
  must be in a row (``detail=none`` stores no positions, so this finds a superset of the rows
  that contain the text). The reader keeps its ``LIKE`` (or ``dashtam_contains``) test on those
  candidates, so results are exactly those of a scan, and adds the rows above
  ``indexed_through`` (none, normally) to them.

Text shorter than three characters has no trigram: such a search scans, as before.
"""

# SQL text is built from this module's constant names only; values are bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SEARCH_TABLE = "transaction_search"
STATE_TABLE = "transaction_search_state"
#: The PostgreSQL trigram indexes (one per searched column).
POSTGRES_INDEXES = frozenset(
    f"ix_transactions_{column}_trgm" for column in ("description", "symbol", "security_name")
)
#: A search whose trigrams match more rows than this is read without the index: walking that
#: many candidates costs more than the date-ordered read, which finds common text quickly.
MAX_CANDIDATES = 50_000
_TRIGRAM = 3

#: The FTS5 query (bound once) that counts candidates, stopping past :data:`MAX_CANDIDATES`.
COUNT_CANDIDATES_SQL = (
    f"SELECT count(*) FROM (SELECT 1 FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ? LIMIT ?)"
)
#: A WHERE term: the row is a candidate of the FTS5 query bound to ``?``, or not yet indexed.
CANDIDATE_TERM = (
    f"(transactions.rowid IN (SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ?) "
    f"OR transactions.rowid > (SELECT indexed_through FROM {STATE_TABLE}))"
)
#: FTS5's own tables behind :data:`SEARCH_TABLE`.
SHADOW_TABLES = frozenset(
    f"{SEARCH_TABLE}_{suffix}" for suffix in ("data", "idx", "content", "docsize", "config")
)
#: Whether both tables of the index exist.
EXISTS_SQL = (
    "SELECT count(*) = 2 FROM sqlite_master "
    f"WHERE type = 'table' AND name IN ('{SEARCH_TABLE}', '{STATE_TABLE}')"
)
#: Once the tables exist: runs without error when this SQLite library can read the index (an
#: older library may lack FTS5 or the trigram tokenizer).
PROBE_SQL = (
    f"SELECT indexed_through FROM {STATE_TABLE} "
    f"WHERE EXISTS (SELECT 1 FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH '\"zzz\"')"
)

_CATCH_UP = (
    f"INSERT INTO {SEARCH_TABLE} (rowid, description, symbol, security_name) "
    "SELECT rowid, description, symbol, security_name FROM transactions "
    f"WHERE rowid > (SELECT indexed_through FROM {STATE_TABLE})",
    f"UPDATE {STATE_TABLE} SET indexed_through = "
    "(SELECT coalesce(max(rowid), 0) FROM transactions) "
    f"WHERE indexed_through < (SELECT coalesce(max(rowid), 0) FROM transactions)",
)


#: The SQLite function a search uses in place of ``LIKE`` when its text has a character outside
#: ASCII: ``LIKE`` ignores the case of ASCII letters only, so ``ταβέρνα`` would miss ``Ταβέρνα``.
CONTAINS_FUNCTION = "dashtam_contains"


def needs_unicode_case(text: str) -> bool:
    """Whether a search for ``text`` must fold case beyond ASCII (``LIKE`` folds only ASCII)."""
    return not text.isascii()


def fold_case(text: str) -> str:
    """``text`` lowered, with the Greek final sigma as a plain sigma (``ΟΔΟΣ`` lowers to
    ``οδος`` but must still be found in ``ΟΔΟΣΤΡΩΜΑ``). Like the FTS5 trigram tokenizer's
    folding, one character stays one character, so the index's candidates always hold every
    row this finds (``casefold`` would turn ``ß`` into ``ss``)."""
    return text.lower().replace("\u03c2", "\u03c3")  # final sigma -> sigma


def _contains(folded: str, *values: str | None) -> int:
    # fold_case inlined: this runs once per row when a search scans
    for value in values:
        if value is not None and folded in value.lower().replace("\u03c2", "\u03c3"):
            return 1
    return 0


def register_functions(connection: Any) -> None:
    """Add :data:`CONTAINS_FUNCTION` to a SQLite connection (``sqlite3`` or SQLAlchemy's adapter).

    ``dashtam_contains(needle, column, ...)`` is 1 when one of the columns' text, case-folded
    (:func:`fold_case`), holds ``needle`` (folded by the caller): a case-insensitive substring
    test for any alphabet. One call per row for every column keeps a scan with it affordable.
    """
    connection.create_function(CONTAINS_FUNCTION, -1, _contains, deterministic=True)


_SEARCH_OBJECTS = frozenset(
    {
        SEARCH_TABLE,
        STATE_TABLE,
        *SHADOW_TABLES,
        *POSTGRES_INDEXES,
        "transaction_search_update",
        "transaction_search_delete",
    }
)


def is_search_object(name: str | None) -> bool:
    """Whether a schema object belongs to the search index (outside the Core metadata)."""
    return name in _SEARCH_OBJECTS


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: schema comparisons never reflect the search index."""
    del type_, parent_names
    return not is_search_object(name)


#: Letters Unicode 3.2 had whose other case came later, which the index does not fold together
#: with them: Georgian Mkhedruli (Mtavruli capitals, 2018), IPA letters (Latin Extended-D
#: capitals) and the Greek yot.
_LATE_PARTNERS = ((0x10A0, 0x10FF), (0x0250, 0x02AF), (0x03F3, 0x03F3))


def _indexable(char: str) -> bool:
    """Whether the trigram tokenizer folds ``char``, and every character of the same case-fold,
    as :func:`fold_case` does (so a trigram holding it finds every row the search matches).

    FTS5 folds case with the tables of Unicode 6.1; Python follows a newer Unicode. They agree
    on ASCII and on the characters Unicode 3.2 had, lowered to one character it also had, but
    for :data:`_LATE_PARTNERS` (a test checks every code point). Later letters (Cherokee
    lowercase, Adlam...), ``İ`` (lowered to two characters) and NUL (FTS5 reads its query as a
    C string) are not indexable.
    """
    if char.isascii():
        return char != "\x00"
    folded = fold_case(char)
    if len(folded) != 1 or any(low <= ord(folded) <= high for low, high in _LATE_PARTNERS):
        return False
    old = unicodedata.ucd_3_2_0
    return old.category(char) != "Cn" and old.category(folded) != "Cn"


def match_expression(text: str) -> str | None:
    """The FTS5 query for rows holding every trigram of ``text``; None under three characters.

    Each trigram is a quoted FTS5 string (``"`` doubled), so no character of the text is syntax.
    Trigrams with a character the index may fold otherwise than the search does are left out
    (:func:`_indexable`): fewer trigrams only widen the candidates, which the reader's ``LIKE``
    (or ``dashtam_contains``) narrows again; with none left, the search scans.
    """
    grams = dict.fromkeys(
        gram
        for gram in (text[i : i + _TRIGRAM] for i in range(len(text) - _TRIGRAM + 1))
        if all(map(_indexable, gram))
    )
    if not grams:
        return None
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


async def catch_up(connection: AsyncConnection) -> None:
    """Index the transactions above ``indexed_through``, inside the connection's transaction.

    A no-op on PostgreSQL, on a SQLite database without the index, and where this SQLite
    library cannot write it (no FTS5 or trigram tokenizer: the rows stay above the mark, where
    readers still find them). Asked each time: it costs microseconds, and a migration may have
    created or dropped the index meanwhile.

    Raises:
        DBAPIError: the database failed (the caller's unit of work reports it).
    """
    if connection.dialect.name != "sqlite":
        return
    if not (await connection.exec_driver_sql(EXISTS_SQL)).scalar_one():
        return
    from sqlalchemy.exc import OperationalError

    try:
        await connection.exec_driver_sql(PROBE_SQL)
    except OperationalError:
        return
    for statement in _CATCH_UP:
        await connection.exec_driver_sql(statement)


__all__ = [
    "CANDIDATE_TERM",
    "CONTAINS_FUNCTION",
    "COUNT_CANDIDATES_SQL",
    "EXISTS_SQL",
    "MAX_CANDIDATES",
    "POSTGRES_INDEXES",
    "PROBE_SQL",
    "SEARCH_TABLE",
    "SHADOW_TABLES",
    "STATE_TABLE",
    "catch_up",
    "fold_case",
    "include_name",
    "is_search_object",
    "match_expression",
    "needs_unicode_case",
    "register_functions",
]
