"""Small SQL helpers shared by the readers and the store."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

MEMORY_LIMIT_ENV = "CLUSTERATLAS_MEMORY_LIMIT"
TEMP_DIR_ENV = "CLUSTERATLAS_TEMP_DIR"
#: The default memory limit is this share of the machine's RAM, kept between the two bounds below.
MEMORY_SHARE = 1 / 32
MEMORY_FLOOR, MEMORY_CEILING = 512 << 20, 4 << 30


def default_memory_limit() -> str:
    """DuckDB's memory limit when none is given: 1/32 of the machine's RAM, at least 512 MB, at most 4 GB.

    DuckDB's own default (80 % of RAM) lets one import hold 11 GB at 60 M
    rows, its buffer pool caching pages it will not read again; within this
    limit the big steps (the duplicate-key check, the joins) spill to the
    temporary directory instead, and an import or a map of any size stays
    within about this much memory plus the Python process (issue 13).
    """
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        ram = 16 << 30
    limit = min(max(int(ram * MEMORY_SHARE), MEMORY_FLOOR), MEMORY_CEILING)
    return f"{limit >> 20}MB"


def default_temp_directory() -> str:
    """Where an in-memory connection spills: a folder of this process in the system's temporary folder.

    (An atlas file spills next to itself, in ``ATLAS.tmp``, as DuckDB does by
    default.) The folder is removed when the process ends.
    """
    folder = Path(tempfile.gettempdir()) / f"clusteratlas-spill-{os.getpid()}"
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atexit.register(shutil.rmtree, folder, True)
    return str(folder)


def plain_connect(path: str = ":memory:", *, read_only: bool = False,
                  config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` for a passing job (reading a small file, a read-only atlas), without DuckDB's own
    progress bar unless standard output is a terminal: a log or a pipe gets no ``[====>   ] 50%`` lines.

    The atlas's working connections are :func:`connect`'s, which draws its progress in the CLI's own bar.
    """
    con = duckdb.connect(path, read_only=read_only, config=config or {})
    con.execute(f"SET enable_progress_bar_print = {str(sys.stdout.isatty()).lower()}")  # a session setting
    return con


def connect(path: str = ":memory:", *, memory_limit: str | None = None,
            temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for clusteratlas's work.

    Row order is not preserved (results are keyed, and unordered writes are
    faster). ``memory_limit`` (e.g. "800MB"; default: the environment
    variable CLUSTERATLAS_MEMORY_LIMIT, else :func:`default_memory_limit`)
    caps DuckDB's memory; above it DuckDB spills to ``temp_directory``
    (default: CLUSTERATLAS_TEMP_DIR, else next to the atlas file, or for an
    in-memory connection :func:`default_temp_directory`).
    """
    config: dict[str, Any] = {"preserve_insertion_order": False}
    limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV)
    if limit:
        try:
            duckdb.connect(config={"memory_limit": limit}).close()
        except duckdb.Error:
            raise InputError(_("invalid memory limit"), value=limit,
                             expected=_("a size such as 800MB or 2GB")) from None
    config["memory_limit"] = limit or default_memory_limit()
    folder = temp_directory or os.environ.get(TEMP_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = folder
    elif path == ":memory:":
        config["temp_directory"] = default_temp_directory()
    con = duckdb.connect(path, config=config)
    # DuckDB tracks each query's progress (read by :func:`progress`) but prints no bar of its own.
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return con


@contextlib.contextmanager
def progress(con: duckdb.DuckDBPyConnection, report: Callable[[float], None],
             every: float = 0.25) -> Iterator[None]:
    """Call ``report(percent)`` with the progress of the query running on ``con`` while the block runs.

    A thread polls DuckDB's ``query_progress`` (the share of the running
    query's input read, 0-100) every ``every`` seconds; nothing else touches
    the connection from that thread.
    """
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            try:
                done = con.query_progress()
            except duckdb.Error:
                continue
            if done is not None and done >= 0:
                report(float(done))

    watcher = threading.Thread(target=poll, name="clusteratlas-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def ident(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + text.replace("'", "''") + "'"


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None,
              ) -> tuple[Any, ...] | None:
    """The first row of a query, or None; the result is read to the end (DuckDB 2 needs that)."""
    rows = con.execute(sql, list(params or [])).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The first value of the first row of a query."""
    row = first_row(con, sql, params)
    return None if row is None else row[0]
