"""``dashtam export transactions|accounts|holdings``: CSV or JSON for spreadsheets and programs.

The command opens the destination and hands the handler an :class:`ExportSink`
(:class:`StreamExportSink`): standard output, or a file written atomically (a private temporary
file beside it, fsync, rename), so a failed or interrupted export never leaves a partial file. Rows
arrive in chunks already in their exported form (exact decimal strings, full UUIDs, ISO dates) and
are written with ``csv.writer.writerows`` or as one JSON array, incrementally.

Standard output carries only the data; the summary line and the progress bar (only on a terminal,
only when writing a file) go to standard error.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import gc
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TextIO, cast

import typer

from dashtam_cli.domain.errors import ErrorCode, Failure, Result, fail, ok
from dashtam_cli.presentation.cli.context import Services, with_services
from dashtam_cli.presentation.cli.errors import ExitCode, render_error
from dashtam_cli.presentation.cli.options import parse_date

if TYPE_CHECKING:
    from types import TracebackType

    from dashtam_cli.application.handlers.exports import ExportReport
    from dashtam_cli.application.ports import ExportChunk, ExportLayout, ExportSink

# Application modules are imported inside the commands: `dashtam --help` must not pay for them.

app = typer.Typer(
    help="Export transactions, accounts or holdings as CSV or JSON (to a file or stdout).",
    no_args_is_help=True,
)

#: Private: exports hold financial data.
FILE_MODE = 0o600
STDOUT = "-"
_BUFFER_SIZE = 1 << 20
_UNWRITABLE_HINT = "choose a writable file with --output, or --output - for standard output"


class ExportFormat(StrEnum):
    """``--format`` values of ``export``."""

    CSV = "csv"
    JSON = "json"


def format_for(output: str, chosen: ExportFormat | None) -> ExportFormat:
    """The format to write: ``--format`` when given, else JSON for a ``.json`` file, else CSV."""
    if chosen is not None:
        return chosen
    if output != STDOUT and Path(output).suffix.lower() == ".json":
        return ExportFormat.JSON
    return ExportFormat.CSV


# ------------------------------------------------------------------------------- destinations


class ExportTarget(Protocol):
    """Where the text goes: a stream to write, then committed or discarded."""

    @property
    def name(self) -> str:
        """``stdout`` or the file's path."""
        ...

    def open(self) -> TextIO:
        """The text stream to write (UTF-8, no newline translation).

        Raises:
            OSError: the destination cannot be written.
        """
        ...

    def commit(self) -> None:
        """Make everything written durable and visible.

        Raises:
            OSError: flushing or publishing failed.
        """
        ...

    def discard(self) -> None:
        """Drop what was written (no file remains); never raises."""
        ...


class StreamTarget:
    """An open text stream (standard output): written through, flushed, never closed."""

    def __init__(self, stream: TextIO, *, name: str = "stdout") -> None:
        """Write to ``stream``; ``name`` is what the audit trail and messages call it."""
        self._stream = stream
        self._name = name

    @property
    def name(self) -> str:
        """What this destination is called (``stdout``)."""
        return self._name

    def open(self) -> TextIO:
        """The stream itself."""
        return self._stream

    def commit(self) -> None:
        """Flush the stream."""
        self._stream.flush()

    def discard(self) -> None:
        """Flush what can be flushed (a stream cannot be unwritten)."""
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()


class AtomicFileTarget:
    """A file written under a private temporary name beside it, then renamed into place.

    The temporary file is created with mode 0600 in the destination's directory (so the rename is
    atomic); :meth:`commit` flushes, fsyncs and renames it over the destination, then fsyncs the
    directory. :meth:`discard` deletes it: the destination is never seen half written.
    """

    def __init__(self, path: Path, *, name: Path | None = None) -> None:
        """Write ``path`` (made absolute; an existing file is replaced on commit).

        ``name`` is what messages call it (default: ``path``), e.g. the symbolic link given.
        """
        self._path = path.absolute()
        self._name = str(name or self._path)
        self._temporary: Path | None = None
        self._stream: TextIO | None = None

    @property
    def name(self) -> str:
        """The destination's absolute path (as given)."""
        return self._name

    @property
    def path(self) -> Path:
        """The destination."""
        return self._path

    def open(self) -> TextIO:
        """Create the temporary file and return its text stream.

        Raises:
            OSError: the directory does not exist or is not writable, or the path is a directory.
        """
        if self._path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self._path))
        fd, temporary = tempfile.mkstemp(
            prefix=f".{self._path.name}.", suffix=".partial", dir=self._path.parent
        )
        self._temporary = Path(temporary)
        try:
            os.fchmod(fd, FILE_MODE)
            stream = os.fdopen(fd, "w", encoding="utf-8", newline="", buffering=_BUFFER_SIZE)
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        self._stream = stream
        return stream

    def commit(self) -> None:
        """Flush, fsync, rename into place, fsync the directory.

        Raises:
            OSError: any of those steps failed (the temporary file is left for :meth:`discard`).
        """
        stream, temporary = self._stream, self._temporary
        if stream is None or temporary is None:
            raise RuntimeError("commit() before open()")
        stream.flush()
        os.fsync(stream.fileno())
        stream.close()
        self._stream = None
        temporary.replace(self._path)
        self._temporary = None
        _fsync_directory(self._path.parent)

    def discard(self) -> None:
        """Close and delete the temporary file, if any."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        temporary, self._temporary = self._temporary, None
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


class DirectFileTarget:
    """A destination that is not a regular file (a FIFO, a terminal, ``/dev/stdout``): written
    through in place, since renaming a file over it would replace the device itself."""

    def __init__(self, path: Path) -> None:
        """Write ``path`` (made absolute) directly."""
        self._path = path.absolute()
        self._stream: TextIO | None = None

    @property
    def name(self) -> str:
        """The destination's absolute path."""
        return str(self._path)

    def open(self) -> TextIO:
        """Open the destination for writing.

        Raises:
            OSError: it cannot be opened.
        """
        # appending truncates nothing: /dev/stdout leading to a file the shell opened with >>
        # keeps what it held (a FIFO or a device does not mind)
        self._stream = self._path.open("a", encoding="utf-8", newline="", buffering=_BUFFER_SIZE)
        return self._stream

    def commit(self) -> None:
        """Flush and close.

        Raises:
            OSError: flushing failed.
        """
        stream, self._stream = self._stream, None
        if stream is None:
            raise RuntimeError("commit() before open()")
        stream.close()

    def discard(self) -> None:
        """Close (what was written cannot be taken back)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def file_target(path: Path) -> AtomicFileTarget | DirectFileTarget:
    """How to write ``--output PATH``: atomically for a file, in place for anything else.

    A regular file (or a new one) is written beside itself and renamed into place; through a
    symbolic link, beside the file it points to, so the link stays a link. A FIFO, a terminal
    or a device (``/dev/stdout``) is written in place.
    """
    path = path.expanduser()
    if path.absolute().parts[1:2] in (("dev",), ("proc",)):
        # /dev/stdout, /dev/fd/N...: whatever they lead to (a pipe, a terminal, the file the shell
        # redirected to, even with >>) is written in place, as the shell set it up
        return DirectFileTarget(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:  # a new file (perhaps through a link to a file not made yet)
        return AtomicFileTarget(path.resolve(), name=path.absolute())
    except OSError:  # opening will say what is wrong
        return AtomicFileTarget(path)
    if stat.S_ISREG(mode):
        return AtomicFileTarget(path.resolve(), name=path.absolute())
    if stat.S_ISDIR(mode):
        return AtomicFileTarget(path)  # refused with "is a directory" when opened
    return DirectFileTarget(path)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------- sinks


class _Writer(Protocol):
    def begin(self) -> None: ...
    def rows(self, rows: ExportChunk) -> None: ...
    def end(self) -> None: ...


_CRLF = "\r\n"


def csv_text(rows: Sequence[Sequence[object]], width: int) -> str:
    """The CSV lines of ``rows``, byte for byte what ``csv.writer(lineterminator="\r\n")``
    writes (RFC 4180, minimal quoting), as one string.

    ``csv.writer`` examines every character of every field in turn, which is most of the cost
    of an export. Here a row of ``width`` texts and Nones is joined with ``str.join`` and the
    line searched once for the characters that force quoting (a comma too many, a quote, a line
    break); only a row that has one is built field by field (about half the rows of real data,
    whose descriptions hold commas). Anything else (another type, another width, a one-field
    row) is written by ``csv.writer`` itself. Half the CPU time of ``csv.writer``, measured.
    """
    commas = width - 1
    lines: list[str] = []
    append = lines.append
    for row in rows:
        cells = cast("Sequence[str]", ["" if v is None else v for v in row] if None in row else row)
        try:
            line = ",".join(cells)
        except TypeError:  # not all text
            line = ""
        if len(cells) != width or width < 2 or not line:
            line = _csv_writer_text([row])[: -len(_CRLF)]
        elif line.count(",") != commas or '"' in line or "\r" in line or "\n" in line:
            # quote the fields that need it (inline: a function call per field costs more)
            line = ",".join(
                [
                    '"' + v.replace('"', '""') + '"'
                    if "," in v or '"' in v or "\r" in v or "\n" in v
                    else v
                    for v in cells
                ]
            )
        append(line)
    append("")
    return _CRLF.join(lines) if len(lines) > 1 else ""


def _csv_writer_text(rows: Sequence[Sequence[object]]) -> str:
    """``rows`` written by ``csv.writer`` (what :func:`csv_text` does not handle itself)."""
    lines: list[str] = []
    csv.writer(_Collect(lines), lineterminator=_CRLF).writerows(rows)
    return "".join(lines)


class _Collect:
    """A ``write`` target for ``csv.writer`` that keeps each line it writes."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


class _CsvWriter:
    """RFC 4180: a header of field names, CRLF line ends, quotes only where needed.

    Written with :func:`csv_text`: the same bytes as ``csv.writer``, at a fraction of its cost.
    """

    def __init__(self, stream: TextIO, layout: ExportLayout) -> None:
        self._stream = stream
        self._fields = layout.fields
        self._booleans = [i for i, f in enumerate(layout.fields) if f in layout.boolean_fields]

    def begin(self) -> None:
        self._stream.write(csv_text([self._fields], len(self._fields)))

    def rows(self, rows: ExportChunk) -> None:
        if self._booleans:
            rows = [self._with_boolean_text(row) for row in rows]
        self._stream.write(csv_text(rows, len(self._fields)))

    def _with_boolean_text(self, row: Any) -> list[Any]:
        values = list(row)
        for i in self._booleans:
            if values[i] is not None:
                values[i] = "true" if values[i] else "false"
        return values

    def end(self) -> None:
        return None


class _JsonWriter:
    """One JSON array of objects, one object per line, written as the rows arrive."""

    def __init__(self, stream: TextIO, layout: ExportLayout) -> None:
        self._stream = stream
        self._fields = layout.fields
        self._encode = json.JSONEncoder(ensure_ascii=False).encode
        self._separator = "\n  "

    def begin(self) -> None:
        self._stream.write("[")

    def rows(self, rows: ExportChunk) -> None:
        if not rows:
            return
        fields, encode = self._fields, self._encode
        body = ",\n  ".join([encode(dict(zip(fields, row, strict=True))) for row in rows])
        self._stream.write(self._separator)
        self._stream.write(body)
        self._separator = ",\n  "

    def end(self) -> None:
        # "[]" when empty, else the last object's line is closed
        self._stream.write("]\n" if self._separator == "\n  " else "\n]\n")


class StreamExportSink:
    """Implements the application's ``ExportSink``: CSV or JSON into an :class:`ExportTarget`."""

    def __init__(
        self,
        fmt: ExportFormat,
        target: ExportTarget,
        *,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        """Write ``fmt`` into ``target``; ``on_rows(n)`` is told of every chunk (progress)."""
        self._format = fmt
        self._target = target
        self._on_rows = on_rows
        self._writer: _Writer | None = None
        self._state = "new"
        self._opened = False

    @property
    def format(self) -> str:
        """``csv`` or ``json``."""
        return self._format.value

    @property
    def destination(self) -> str:
        """``stdout`` or the file's path."""
        return self._target.name

    @property
    def started(self) -> bool:
        """True once the target was opened (something may have been written to it)."""
        return self._opened

    @property
    def broken_pipe(self) -> bool:
        """True when the reader of a pipe went away before the export finished."""
        return self._state == "broken-pipe"

    def open(self, layout: ExportLayout) -> Result[None]:
        """Open the target and write the header (CSV) or ``[`` (JSON).

        Returns:
            ``invalid_argument`` when the destination cannot be written.
        """
        try:
            stream = self._target.open()
        except OSError as exc:
            return fail(
                ErrorCode.INVALID_ARGUMENT,
                f"cannot write the export to {self.destination}: {_reason(exc)}",
                hint=_UNWRITABLE_HINT,
            )
        self._state = "open"
        self._opened = True
        self._writer = (
            _CsvWriter(stream, layout)
            if self._format is ExportFormat.CSV
            else _JsonWriter(stream, layout)
        )
        return self._guard(self._writer.begin)

    def write(self, rows: ExportChunk) -> Result[None]:
        """Write one chunk.

        Returns:
            ``invalid_argument`` when the destination stops accepting data.
        """
        writer = self._writer
        if writer is None:
            raise RuntimeError("write() before open()")
        written = self._guard(lambda: writer.rows(rows))
        if self._on_rows is not None and not isinstance(written, Failure):
            self._on_rows(len(rows))
        return written

    def finish(self) -> Result[None]:
        """Write the ending and commit the target (fsync + rename for a file)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("finish() before open()")

        def end() -> None:
            writer.end()
            self._target.commit()

        finished = self._guard(end)
        if not isinstance(finished, Failure):
            self._state = "done"
        return finished

    def abort(self) -> None:
        """Discard the target unless the export finished (idempotent)."""
        if self._state in {"done", "aborted"}:
            return
        self._target.discard()
        if self._state != "broken-pipe":
            self._state = "aborted"

    def _guard(self, work: Callable[[], None]) -> Result[None]:
        try:
            work()
        except BrokenPipeError:
            self._state = "broken-pipe"
            return fail(
                ErrorCode.OUTPUT_FAILED,
                f"{self.destination} was closed before the export finished",
            )
        except OSError as exc:
            return fail(
                ErrorCode.OUTPUT_FAILED,
                f"writing the export to {self.destination} failed: {_reason(exc)}",
                hint="make room on the destination's disk, or choose another --output, and run it"
                " again",
            )
        return ok(None)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


# ----------------------------------------------------------------------------------- progress


class _RowProgress:
    """A Rich progress bar on stderr counting exported rows (only shown on a terminal)."""

    def __init__(self, kind: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn(f"exporting {kind}"),
            BarColumn(bar_width=None),
            TextColumn("{task.completed:>12,.0f} rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task(kind, total=None)

    def __enter__(self) -> _RowProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, rows: int) -> None:
        self._progress.advance(self._task, rows)


# ----------------------------------------------------------------------------------- commands


def _silence_stdout() -> None:
    """After a broken pipe: point fd 1 at /dev/null so the interpreter's final flush is quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of an export.

    An export allocates millions of short-lived, acyclic rows (tuples and lists of strings):
    reference counting frees each chunk as soon as it is written, and the cyclic collector would
    only rescan them, again and again (measured: ~10% of a million-row export). This process
    exits when the command ends; the previous state is restored all the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stdout_target() -> StreamTarget:
    """Standard output as UTF-8 without newline translation (CSV writes its own CRLF)."""
    stream = sys.stdout
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        stream.flush()
        reconfigure(encoding="utf-8", newline="")
    return StreamTarget(stream)


def run_export(
    ctx: typer.Context,
    *,
    kind: str,
    fmt: ExportFormat | None,
    output: str,
    build: Callable[[ExportSink], object],
) -> None:
    """Open the destination, run the export command ``build(sink)`` and report the outcome.

    Raises:
        typer.Exit: with the error's exit code when the export failed.
    """
    chosen = format_for(output, fmt)
    to_stdout = output == STDOUT
    target: ExportTarget = _stdout_target() if to_stdout else file_target(Path(output))
    progress = None if to_stdout or not sys.stderr.isatty() else _RowProgress(kind)
    sink = StreamExportSink(chosen, target, on_rows=progress.advance if progress else None)

    async def work(services: Services) -> Result[Any]:
        return await services.bus.execute(build(sink))

    try:
        with progress or contextlib.nullcontext(), cyclic_gc_paused():
            result = with_services(ctx, work, as_json=chosen is ExportFormat.JSON)
    finally:
        sink.abort()  # a no-op after success; a crash or Ctrl-C leaves no partial file
    if sink.broken_pipe:
        # the reader went away (`| head`): stop quietly, as a command killed by SIGPIPE would
        _silence_stdout()
        raise typer.Exit(ExitCode.BROKEN_PIPE)
    if isinstance(result, Failure):
        # a JSON error object must not be glued to half an array on stdout
        as_json = chosen is ExportFormat.JSON and not (to_stdout and sink.started)
        raise typer.Exit(int(render_error(result.error, as_json=as_json)))
    report: ExportReport = result.value
    if not to_stdout:
        sys.stderr.write(
            f"exported {report.rows:,} {report.kind} rows as {report.format} "
            f"to {report.destination}\n"
        )


FormatOption = Annotated[
    ExportFormat | None,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="csv or json (default: json for a .json --output, else csv).",
    ),
]
OutputOption = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE|-",
        help="A file (written atomically, mode 0600), or - for standard output.",
    ),
]
TYPE_HELP = (
    "A type (trade, transfer, income, fee, other) or a subtype "
    "(buy, sell, dividend, interest, deposit, withdrawal, commission, ...)."
)


@app.command()
def transactions(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", metavar="ID", help="Only this account (id prefix).")
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection", metavar="ID", help="Only this connection (alias or id prefix)."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="On or after this date (YYYY-MM-DD).", metavar="DATE")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="On or before this date (YYYY-MM-DD).", metavar="DATE")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", metavar="T", help=TYPE_HELP)] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Only this symbol (any case).", metavar="S")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="Text in the description, symbol or security name (any case).", metavar="TEXT"
        ),
    ] = None,
    fmt: FormatOption = None,
    output: OutputOption = STDOUT,
) -> None:
    """Export transactions (oldest first), filtered like `transactions list`, without a limit."""
    from dashtam_cli.application.commands import ExportTransactions
    from dashtam_cli.application.queries import TransactionFilter

    filters = TransactionFilter(
        account_ref=account,
        connection_ref=connection,
        since=parse_date(since, as_json=fmt is ExportFormat.JSON),
        until=parse_date(until, option="--until", as_json=fmt is ExportFormat.JSON),
        transaction_type=type_,
        symbol=symbol,
        search=search,
    )
    run_export(
        ctx,
        kind="transactions",
        fmt=fmt,
        output=output,
        build=lambda sink: ExportTransactions(sink=sink, filters=filters),
    )


@app.command()
def accounts(
    ctx: typer.Context,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection", metavar="ID", help="Only this connection (alias or id prefix)."
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include accounts the provider no longer reports.")
    ] = False,
    fmt: FormatOption = None,
    output: OutputOption = STDOUT,
) -> None:
    """Export accounts (by name): balances exact, account numbers masked."""
    from dashtam_cli.application.commands import ExportAccounts

    run_export(
        ctx,
        kind="accounts",
        fmt=fmt,
        output=output,
        build=lambda sink: ExportAccounts(
            sink=sink, connection_ref=connection, include_inactive=all_
        ),
    )


@app.command()
def holdings(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", metavar="ID", help="Only this account (id prefix).")
    ] = None,
    fmt: FormatOption = None,
    output: OutputOption = STDOUT,
) -> None:
    """Export the current holdings (by account, then symbol) with exact quantities and prices."""
    from dashtam_cli.application.commands import ExportHoldings

    run_export(
        ctx,
        kind="holdings",
        fmt=fmt,
        output=output,
        build=lambda sink: ExportHoldings(sink=sink, account_ref=account),
    )
