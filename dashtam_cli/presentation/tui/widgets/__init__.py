"""Widgets of the dashboard: navigation, charts and the lazily filled transaction table."""
