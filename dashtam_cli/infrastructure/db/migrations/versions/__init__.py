"""Migration scripts, applied in order by :mod:`dashtam_cli.infrastructure.db.migrate`."""
