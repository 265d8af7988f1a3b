"""Entry point: build the CLI around the composition root and run it.

Nothing heavy is imported here: the services (database, secrets, providers) are built by
:mod:`dashtam_cli.bootstrap` only when a command asks for them, so ``dashtam --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashtam_cli.presentation.cli.context import Services


async def open_services() -> Services:
    """Build the application services (imported lazily: most of the cost of a command)."""
    from dashtam_cli.bootstrap import bootstrap

    return await bootstrap()


def main() -> None:
    """Run the ``dashtam`` command."""
    from dashtam_cli.presentation.cli.app import create_app

    app = create_app(open_services)
    try:
        app()
    except Exception as exc:
        from dashtam_cli.bootstrap import report_crash

        sys.exit(report_crash(exc))


if __name__ == "__main__":
    main()
