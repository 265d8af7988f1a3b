"""The navigation bar: one tab per screen, clickable; the keys are in the footer."""

from __future__ import annotations

from textual.widgets import Tab, Tabs

#: (mode, label) of every top-level screen, in tab order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("transactions", "Transactions"),
    ("holdings", "Holdings"),
    ("sync", "Sync"),
)


class NavBar(Tabs):
    """Tabs naming the screens, the current one active. Clicking a tab switches screens.

    It never takes the focus: arrow keys belong to the tables, screens have letter keys.
    """

    can_focus = False

    def __init__(self, active: str) -> None:
        """Tabs with ``active`` (a mode name) selected."""
        super().__init__(
            *(Tab(label, id=f"nav-{mode}") for mode, label in SECTIONS), active=f"nav-{active}"
        )


def mode_of(tab: Tab) -> str | None:
    """The mode a navigation tab stands for."""
    tab_id = tab.id or ""
    return tab_id.removeprefix("nav-") if tab_id.startswith("nav-") else None
