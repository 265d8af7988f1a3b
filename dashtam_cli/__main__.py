"""Entry point: build the CLI around the composition root and run it.

Nothing heavy is imported here: the services (database, secrets, providers) are built by
:mod:`dashtam_cli.bootstrap` only when a command asks for them, so ``dashtam --help`` stays fast.
"""

from __future__ import annotations

import select
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashtam_cli.presentation.cli.context import Services


async def open_services() -> Services:
    """Build the application services (imported lazily: most of the cost of a command)."""
    from dashtam_cli.bootstrap import bootstrap

    return await bootstrap()


def _stdout_reader_gone() -> bool:
    """Whether standard output is a pipe whose reader has gone away (``dashtam ... | head``)."""
    try:
        poller = select.poll()
        poller.register(sys.__stdout__.fileno() if sys.__stdout__ else 1, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def main() -> None:
    """Run the ``dashtam`` command."""
    from dashtam_cli.presentation.cli.app import create_app

    app = create_app(open_services)
    try:
        app()
    except SystemExit as done:
        # Click ends a command whose stdout pipe closed with exit 1 (ours: a bug) and no word;
        # exit as a command killed by SIGPIPE does, as `export` does.
        if done.code == 1 and _stdout_reader_gone():
            from dashtam_cli.presentation.cli.errors import ExitCode

            sys.exit(ExitCode.BROKEN_PIPE)
        raise
    except OSError as exc:
        from dashtam_cli.presentation.cli.errors import output_failure, render_error

        error = output_failure(exc)
        if error is None:
            from dashtam_cli.bootstrap import report_crash

            sys.exit(report_crash(exc))
        sys.exit(render_error(error))
    except Exception as exc:
        from dashtam_cli.bootstrap import report_crash

        sys.exit(report_crash(exc))


if __name__ == "__main__":
    main()
