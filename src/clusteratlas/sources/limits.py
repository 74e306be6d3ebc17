"""What reading one file may cost: columns, cells held in memory, unpacked size, time.

A broken or hostile file must end in a clear error, not in an
out-of-memory kill or a server whose one writer is busy for minutes. The
readers that hold a table in memory (Excel workbooks, Census JSON, the
assessment forms) count what they keep; CSV and Parquet are streamed by
DuckDB within its memory limit, so only their header width is capped here.

Limit            Default    Raise it with
---------------  ---------  -------------------------------------------
columns          16,384     ``CLUSTERATLAS_MAX_COLUMNS`` (Excel's own width)
cells            10,000,000 ``CLUSTERATLAS_MAX_CELLS`` (rows × columns kept)
unpacked size    256 MB     ``CLUSTERATLAS_MAX_UNPACKED_MB`` (an .xlsx's parts)
time             none       ``serve --upload-seconds`` (per upload, server)

The environment variables apply to the CLI, the Python API and the server
alike; :func:`applied` sets limits for one block of code (the server uses it
to give each upload its time budget). Blank rows cost nothing: readers skip
them without holding them.
"""

from __future__ import annotations

import contextlib
import os
import time
import zipfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

ENV = {"max_columns": "CLUSTERATLAS_MAX_COLUMNS", "max_cells": "CLUSTERATLAS_MAX_CELLS",
       "max_unpacked_mb": "CLUSTERATLAS_MAX_UNPACKED_MB"}


class LimitError(InputError):
    """A file is over one of the read limits (the server answers 413)."""


@dataclass(frozen=True)
class ReadLimits:
    """The limits on reading one file (see the module's table)."""

    max_columns: int = 16_384
    max_cells: int = 10_000_000
    max_unpacked_mb: float = 256.0
    #: Wall-clock seconds for reading and checking one file; None: no limit.
    seconds: float | None = None
    #: ``time.monotonic()`` by which the reading must end (set by :func:`applied` from ``seconds``).
    deadline: float | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ReadLimits:
        """The defaults, with any CLUSTERATLAS_MAX_* environment variable applied; a bad value is an error."""
        env = os.environ if env is None else env
        given = {}
        for name, var in ENV.items():
            text = env.get(var)
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not value > 0:
                raise InputError(_("bad {var}").format(var=var), value=text, expected=_("a number above 0"))
            given[name] = value if name == "max_unpacked_mb" else int(value)
        return cls(**given)


_CURRENT: ContextVar[ReadLimits | None] = ContextVar("clusteratlas_read_limits", default=None)


def current() -> ReadLimits:
    """The limits in force here: those :func:`applied` set, else the defaults and environment."""
    return _CURRENT.get() or ReadLimits.from_env()


@contextlib.contextmanager
def applied(**changes: float | int | None) -> Iterator[ReadLimits]:
    """Change some limits for the code inside the block (``seconds`` starts the clock now)."""
    limits = replace(current(), **changes)
    if limits.seconds is not None:
        limits = replace(limits, deadline=time.monotonic() + limits.seconds)
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def check_columns(count: int, label: str, row: int | None = 1) -> None:
    """Refuse a header (or row) wider than the column limit."""
    limit = current().max_columns
    if count > limit:
        raise LimitError(_("the table has more columns than the limit"), file=label, row=row, value=count,
                         expected=_("at most {limit:,} columns").format(limit=limit),
                         hint=_("Raise the limit with the environment variable CLUSTERATLAS_MAX_COLUMNS"))


def check_time(label: str, row: int | None = None) -> None:
    """Refuse to go on past the deadline (only set for server uploads)."""
    limits = current()
    if limits.deadline is not None and time.monotonic() > limits.deadline:
        raise time_error(label, row, limits.seconds)


def time_error(label: str, row: int | None, seconds: float | None) -> LimitError:
    """The error for a file that took longer to read than its time limit (also raised on a DuckDB interrupt)."""
    return LimitError(_("reading the file took longer than the time limit"), file=label, row=row,
                      expected=f"at most {seconds:g} s per upload" if seconds else None,
                      hint=_("Split the file, or ask the server's operator to raise serve --upload-seconds"))


class CellBudget:
    """Counts the cells a reader keeps (rows × the widest row so far) and watches the clock.

    Call :meth:`row` once per kept row; it raises :class:`LimitError` as soon
    as the table would pass the cell or column limit, or the deadline has
    passed (checked every 1,024 rows, blank ones included).
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.limits = current()
        self.rows = 0
        self.width = 0
        self._seen = 0

    def row(self, width: int, line: int | None) -> None:
        """Account for one kept row ``width`` cells wide, at ``line`` of the file."""
        if width > self.width:
            self.width = width
            check_columns(width, self.label, line)
        self.rows += 1
        if self.rows * self.width > self.limits.max_cells:
            raise LimitError(_("the table has more cells (rows × columns) than the limit"), file=self.label,
                             row=line, value=f"{self.rows:,} rows × {self.width:,} columns",
                             expected=_("at most {max_cells:,} cells").format(max_cells=self.limits.max_cells),
                             hint=_("Raise the limit with the environment variable CLUSTERATLAS_MAX_CELLS"))
        self.tick(line)

    def tick(self, line: int | None) -> None:
        """Check the clock every 1,024 calls (for rows skipped as blank, too)."""
        self._seen += 1
        if not self._seen & 1023:
            check_time(self.label, line)


def check_unpacked(path: Path, label: str) -> None:
    """Refuse a zip-packed workbook whose parts unpack to more than the limit (a zip bomb).

    The sizes are those the archive declares; :mod:`zipfile` never unpacks
    more than a part declares (it stops, then fails its checksum), so a
    lying archive cannot get past this either.
    """
    limit = current().max_unpacked_mb
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the Excel reader says what it is
    if size > limit * 1e6:
        raise LimitError(_("the workbook unpacks to more than the limit"), file=label, value=f"{size / 1e6:,.0f} MB",
                         expected=_("at most {limit:,.0f} MB unpacked").format(limit=limit),
                         hint=_("Raise the limit with the environment variable CLUSTERATLAS_MAX_UNPACKED_MB"))
