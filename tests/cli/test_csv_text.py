"""``csv_text`` (the export's CSV writer) writes exactly what ``csv.writer`` writes."""

import csv
import io
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from dashtam_cli.presentation.cli.export import csv_text

# the characters that decide quoting, a few ordinary and unusual ones, and anything else
_CHARS = st.one_of(
    st.sampled_from([",", '"', "\r", "\n", " ", "a", "0", "é", "\u2028", "\x00", "\t", ";"]),
    st.characters(),
)
_TEXT = st.text(alphabet=_CHARS, max_size=8)
_VALUE = st.one_of(st.none(), _TEXT, _TEXT, _TEXT, st.booleans(), st.integers())


def _reference(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


@given(width=st.integers(1, 6), data=st.data())
def test_rows_of_the_expected_width(width: int, data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.lists(_TEXT | st.none(), min_size=width, max_size=width)))
    assert csv_text(rows, width) == _reference(rows)


@given(width=st.integers(1, 6), rows=st.lists(st.lists(_VALUE, max_size=7), max_size=5))
def test_any_rows_at_all(width: int, rows: list[list[object]]) -> None:
    assert csv_text(rows, width) == _reference(rows)
    assert csv_text([tuple(r) for r in rows], width) == _reference(rows)


def test_the_usual_cases() -> None:
    rows: list[list[object]] = [
        ["a", None, "b,c", 'say "hi"', "", "line\nbreak"],
        ["x", "y", "z", "w", "v", "u"],
    ]
    assert csv_text(rows, 6) == ('a,,"b,c","say ""hi""",,"line\nbreak"\r\n' + "x,y,z,w,v,u\r\n")
    assert csv_text([], 6) == ""
    assert csv_text([[""]], 1) == '""\r\n'  # one empty field: quoted, as csv.writer does
