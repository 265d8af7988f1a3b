"""The search index's query text and case rules, against SQLite's own FTS5 trigram tokenizer."""

from __future__ import annotations

import collections
import sqlite3
import sys

import pytest

from dashtam_cli.infrastructure.db.search_index import (
    _indexable,
    fold_case,
    match_expression,
    register_functions,
)


@pytest.fixture
def fts() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(a, tokenize = 'trigram', detail = 'none')"
    )
    return connection


def _finds(fts: sqlite3.Connection, haystack: str, needle: str) -> bool:
    fts.execute("DELETE FROM t")
    fts.execute("INSERT INTO t VALUES (?)", (haystack,))
    expression = match_expression(needle)
    assert expression is not None
    [(count,)] = fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,))
    return bool(count)


def test_every_indexable_character_is_folded_by_the_index_as_by_the_search(
    fts: sqlite3.Connection,
) -> None:
    # Every pair of characters the search folds together must be folded together by the index
    # when the search puts one of them in its FTS5 query; else the index would hide matches.
    groups: dict[str, set[str]] = collections.defaultdict(set)
    for code in range(1, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        groups[fold_case(char)].add(char)
    missed = []
    pairs = 0
    for folded, members in groups.items():
        if len(folded) != 1:
            continue
        members.add(folded)
        for needle in members:
            if not _indexable(needle):
                continue
            for other in members - {needle}:
                pairs += 1
                if not _finds(fts, f"a{other}b", f"a{needle}b"):
                    missed.append((hex(ord(other)), hex(ord(needle))))
    assert pairs > 1_000
    assert missed == []


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("ab", None),  # under three characters
        ("abcd", '"abc" AND "bcd"'),
        ('a"bc', '"a""b" AND """bc"'),  # a quote is doubled, never syntax
        ("abab", '"aba" AND "bab"'),
        ("a\x00bcd", '"bcd"'),  # FTS5 reads a C string
        ("\x00\x00\x00", None),
        ("\u13a0\uab70\uab70", None),  # Cherokee lowercase came after the index's Unicode
        ("xyz\u13a0", '"xyz"'),  # a trigram with such a letter is left out
        ("ταβ", '"ταβ"'),
    ],
)
def test_match_expressions(text: str, expression: str | None) -> None:
    assert match_expression(text) == expression


def test_the_index_finds_what_the_search_folds(fts: sqlite3.Connection) -> None:
    assert _finds(fts, "Debit card, ΤΑΒΈΡΝΑ ΩΡΑΊΑ", "ταβέρνα")
    assert _finds(fts, "ΟΔΟΣ", "οδος")  # final sigma
    assert _finds(fts, "Straße", "STRAẞE")
    assert not _finds(fts, "Strasse", "straße")  # one character stays one


def test_the_contains_function_folds_any_alphabet() -> None:
    connection = sqlite3.connect(":memory:")
    register_functions(connection)

    def contains(needle: str, *values: str | None) -> int:
        marks = ", ".join("?" * (len(values) + 1))
        [(found,)] = connection.execute(
            f"SELECT dashtam_contains({marks})",
            (fold_case(needle), *values),
        )
        return int(found)

    assert contains("ταβέρνα", "Debit card, Ταβέρνα") == 1
    assert contains("ΟΔΟΣ", None, "ΟΔΟΣΤΡΩΜΑ") == 1
    assert contains("müller", "MÜLLER GmbH") == 1
    assert contains("müller", None, None) == 0
    assert contains("straße", "STRASSE") == 0
