"""The served atlas: one DuckDB database, many readers, one writer.

DuckDB lets one process write a database file. The serving process opens
it once; every request thread reads through its own cursor (a connection
to the same database, so reads see each committed write and are answered
while a write runs). Writes go through a queue with a single worker thread,
so two uploads never interleave: each runs in its own transaction, the
second after the first.

Served read-only (``--read-only``, or ``--workers`` above 1), any number
of processes may read the file; the write routes then answer 503.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from clusteratlas._sql import connect, plain_connect
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries.provenance import Provenance, atlas_stamp, provenance
from clusteratlas.server.auth import ensure_tables
from clusteratlas.server.cache import DEFAULT_CACHE_MB, ResponseCache

T = TypeVar("T")


class AtlasService:
    """An atlas opened for serving: per-thread read cursors and a one-thread write queue."""

    def __init__(self, path: str | Path, *, read_only: bool = False, memory_limit: str | None = None,
                 cache_bytes: int = int(DEFAULT_CACHE_MB * 1e6)) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.memory_limit = memory_limit
        if not self.path.is_file():
            raise InputError(_("no atlas here"), file=str(self.path),
                             hint=_("Create one with 'clusteratlas init' or 'clusteratlas demo --atlas FILE', "
                                  "or browse the sample with 'clusteratlas serve --demo'"))
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._provenance: tuple[str, Provenance] | None = None
        self.cache = ResponseCache(cache_bytes)
        self._writes = 0  # writes through this server: part of the cache key
        self._memo: tuple[tuple[str, int], dict[tuple, Any]] | None = None
        self.read_limiter: Any = None  # an anyio CapacityLimiter, made on the event loop
        self._generation = 0
        self.live_requests = 0  # requests being computed now, not from the cache (the warm-up waits for 0)
        self.on_clear: Callable[[], None] | None = None  # called when a write empties the cache (the warm-up)
        self.con: duckdb.DuckDBPyConnection | None = None
        self.open()

    def open(self) -> None:
        """Open the database (again, after :meth:`close`); a file that is not an atlas is a clear error."""
        if self.con is not None:
            return
        try:
            if self.read_only:
                con = plain_connect(str(self.path), read_only=True, config={"preserve_insertion_order": False})
            else:
                con = connect(str(self.path), memory_limit=self.memory_limit)
        except duckdb.Error as exc:
            raise InputError(_("cannot open the atlas: {value}").format(value=str(exc).splitlines()[0]),
                             file=str(self.path),
                             hint=_("Another process may be writing it; serve it with --read-only, or stop "
                                  "that process")) from None
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "atlas_meta" not in names:
            con.close()
            raise InputError(_("this DuckDB file is not a clusteratlas atlas"), file=str(self.path))
        if not self.read_only:
            ensure_tables(con)
        self.con = con
        self._generation += 1
        self._writer = None if self.read_only else ThreadPoolExecutor(max_workers=1,
                                                                      thread_name_prefix="atlas-writer")
        self._atlas: Any = None

    # ----------------------------------------------------------------- reads
    def reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's read cursor."""
        generation, cur = getattr(self._local, "cursor", (0, None))
        if cur is None or generation != self._generation:
            if self.con is None:
                self.open()
            cur = self.con.cursor()
            self._local.cursor = (self._generation, cur)
            with self._lock:
                self._cursors.append(cur)
        return cur

    def stamp(self):
        """(version, last-modified) of the atlas file."""
        return atlas_stamp(self.path)

    def cache_version(self) -> tuple[str, int]:
        """(atlas version, writes through this server): what a cached answer must match to be served."""
        return self.stamp()[0], self._writes

    def memo(self) -> dict[tuple, Any]:
        """Facts the queries keep about the atlas (tables, levels, years: :func:`clusteratlas.queries.memo`),
        a new store whenever the atlas changes."""
        version = self.cache_version()
        current = self._memo
        if current is None or current[0] != version:
            current = (version, {})
            self._memo = current
        return current[1]

    def provenance(self) -> Provenance:
        """The provenance of answers now (cached until the atlas changes)."""
        version, _ = self.stamp()
        cached = self._provenance
        if cached and cached[0] == version:
            return cached[1]
        prov = provenance(self.reader(), self.path)
        self._provenance = (version, prov)
        return prov

    # ---------------------------------------------------------------- writes
    def write(self, job: Callable[[Any], T], timeout: float = 3600) -> T:
        """Run ``job(atlas)`` on the writer thread, after any write queued before it; return its result."""
        if self._writer is None:
            raise ReadOnly()
        return self._writer.submit(self._run, job).result(timeout=timeout)

    def write_soon(self, job: Callable[[Any], Any]) -> None:
        """Queue ``job(atlas)`` on the writer thread without waiting (a failure is only logged)."""
        if self._writer is None:
            return

        def logged(atlas: Any) -> None:
            try:
                job(atlas)
            except Exception:
                logging.getLogger("clusteratlas.server").exception("a background write failed")

        self._writer.submit(self._run, logged)

    def _run(self, job: Callable[[Any], T]) -> T:
        if self._atlas is None:
            from clusteratlas.store import Atlas

            self._atlas = Atlas(self.path, memory_limit=self.memory_limit)
        try:
            return job(self._atlas)
        finally:  # committed or not, answers kept before this write are never served again
            self._writes += 1
            self._provenance = self._memo = None
            self.cache.clear()
            if self.on_clear is not None:
                self.on_clear()

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self.con is None:
            return
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self._atlas is not None:
            self._atlas.close()
        with self._lock:
            for cur in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self._cursors.clear()
        self.con.close()
        self.con = None


class ReadOnly(Exception):
    """The atlas is served read-only: write routes answer 503."""
