"""The Textual dashboard (``dashtam tui``): screens over the same application bus as the CLI."""
