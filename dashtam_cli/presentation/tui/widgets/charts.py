"""Charts drawn with block characters from exact ``Decimal`` values (no float anywhere).

:class:`NetWorthChart` draws net worth over time like ``dashtam balances history`` does (same
column chart); :class:`AllocationBars` draws one horizontal bar per slice of a portfolio.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from dashtam_cli.presentation.cli.balances import block_chart, resample
from dashtam_cli.presentation.tui.format import GAIN, MUTED, amount_text, percent_text, printable

if TYPE_CHECKING:
    from textual.app import RenderResult
    from textual.geometry import Size

    from dashtam_cli.application.dashboard_views import AllocationSlice
    from dashtam_cli.application.queries import NetWorthPoint

#: Eighths of a cell, for the end of a horizontal bar.
_PARTIAL = " ▏▎▍▌▋▊▉"


class NetWorthChart(Widget):
    """Net worth of one currency at every snapshot, as a column chart with its range and dates."""

    DEFAULT_CSS = """
    NetWorthChart { height: 6; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty chart (``show`` gives it points)."""
        super().__init__(id=id, classes=classes)
        self._points: Sequence[NetWorthPoint] = ()
        self._currency = ""

    @property
    def points(self) -> Sequence[NetWorthPoint]:
        """The points drawn (oldest first)."""
        return self._points

    def show(self, currency: str, points: Sequence[NetWorthPoint]) -> None:
        """Draw the ``points`` (oldest first) that are in ``currency``."""
        self._currency = currency
        self._points = [p for p in points if p.currency == currency]
        self.refresh()

    def render(self) -> RenderResult:
        """The chart sized to the widget: rows of columns, the range on the left, dates below."""
        points = self._points
        if not points:
            return Text("No balance history yet: every sync records one point.", style=MUTED)
        values = [p.net_worth.amount for p in points]
        high, low = amount_text(max(values)), amount_text(min(values))
        label_width = max(len(high), len(low))
        height = max(2, self.size.height - 1)
        width = max(1, self.size.width - label_width - 2)
        if len(values) > width:
            values = resample(values, width)
        else:  # few points: each as wide as the chart allows
            values = [value for value in values for _ in range(width // len(values))]
        rows = block_chart(values, height=height)
        text = Text(no_wrap=True, overflow="crop")
        for index, row in enumerate(rows):
            label = high if index == 0 else low if index == len(rows) - 1 else ""
            text.append(f"{label:>{label_width}} ┤", style=MUTED)
            text.append(row, style=GAIN)
            text.append("\n")
        first = points[0].captured_at.strftime("%Y-%m-%d")
        last = points[-1].captured_at.strftime("%Y-%m-%d")
        span = len(rows[0]) if rows else 0
        gap = max(1, span - len(first) - len(last))
        footer = f"{first}{' ' * gap}{last}" if len(points) > 1 else first
        text.append(f"{'':>{label_width}}  {footer}", style=MUTED)
        return text


def bar(share: Decimal, width: int) -> str:
    """A horizontal bar of ``share`` (0..1) of ``width`` cells, to an eighth of a cell."""
    clamped = min(max(share, Decimal(0)), Decimal(1))
    eighths = int(clamped * width * 8)
    full, partial = divmod(eighths, 8)
    return "█" * full + (_PARTIAL[partial] if partial else "")


class AllocationBars(Widget):
    """One line per slice: its label, a bar of its share, the share and the value."""

    DEFAULT_CSS = """
    AllocationBars { height: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """No slices yet (``show`` gives them)."""
        super().__init__(id=id, classes=classes)
        self._slices: Sequence[AllocationSlice] = ()

    def show(self, slices: Sequence[AllocationSlice]) -> None:
        """Draw these slices (largest first)."""
        self._slices = list(slices)
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """One line per slice (one for the empty message)."""
        return max(1, len(self._slices))

    def render(self) -> RenderResult:
        """Label, bar, share and value of every slice."""
        slices = self._slices
        if not slices:
            return Text("No holdings with a market value.", style=MUTED)
        labels = [printable(s.label) for s in slices]  # account names are data
        label_width = min(24, max(len(label) for label in labels))
        values = [f"{s.value.currency} {amount_text(s.value.amount)}" for s in slices]
        value_width = max(len(v) for v in values)
        bar_width = max(4, self.size.width - label_width - value_width - 11)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (piece, name, value) in enumerate(zip(slices, labels, values, strict=True)):
            label = name if len(name) <= label_width else name[: label_width - 1] + "…"
            share = piece.share if piece.share is not None else Decimal(0)
            text.append(f"{label:<{label_width}} ")
            text.append(f"{bar(share, bar_width):<{bar_width}}", style=GAIN)
            text.append(f" {percent_text(piece.share):>6}  {value:>{value_width}}")
            if index < len(slices) - 1:
                text.append("\n")
        return text
