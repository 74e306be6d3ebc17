"""The served atlas: read-only snapshots of the file, reopened when a write replaces it; one writer queue.

A server only ever reads the atlas file: it opens it read-only (registered
as a reader, see :mod:`clusteratlas.store.access`), so any number of server
processes (``--workers N``, or separate ``serve`` processes) and command-line
readers can read it at once. Every write, from this server's routes or from
anywhere else, takes the atlas's write lock and, since the file is being
read, writes a copy that is renamed over the file when done.

Each open version of the file is a :class:`Snapshot`. Every request pins the
current snapshot for its whole life (its answer comes from one version); at
its start the server compares the file at the path with the one it has open
(one ``stat``), and when a write has replaced it, opens the new version for
the requests that follow, drops the answers cached for the old one, and
closes the old one once its last request has finished. Writes through this
server run on one writer thread, so they keep their order within the
process; the write lock orders them with every other process's.

Served read-only (``--read-only``) the write routes answer 503.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries.provenance import Provenance, provenance
from clusteratlas.server.cache import DEFAULT_CACHE_MB, ResponseCache
from clusteratlas.store.access import Notify, Reading, identity, ping, read_cursor, say, version_of
from clusteratlas.store.atlas import read_connection

T = TypeVar("T")
log = logging.getLogger("clusteratlas.server")


@dataclass(eq=False)
class Snapshot:
    """One version of the atlas file, open read-only, with a cursor per thread that reads it."""

    con: duckdb.DuckDBPyConnection
    identity: tuple[int, int, int, int] | None  # of the file it opened (device, inode, mtime, size)
    version: str
    modified: datetime
    generation: int
    pins: int = 0
    retired: bool = False
    cursors: dict[int, duckdb.DuckDBPyConnection] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on this version."""
        key = threading.get_ident()
        cur = self.cursors.get(key)
        if cur is None:
            with self.lock:
                cur = read_cursor(self.con)
                self.cursors[key] = cur
        return cur

    def close(self) -> None:
        with self.lock:
            for cur in self.cursors.values():
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self.cursors.clear()
        with contextlib.suppress(duckdb.Error):
            self.con.close()


class AtlasService:
    """An atlas opened for serving: the current snapshot (reopened after a write) and a one-thread write queue."""

    def __init__(self, path: str | Path, *, read_only: bool = False, memory_limit: str | None = None,
                 cache_bytes: int = int(DEFAULT_CACHE_MB * 1e6), notify: Notify | None = say) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.memory_limit = memory_limit
        self.notify = notify
        if not self.path.is_file():
            raise InputError(_("no atlas here"), file=str(self.path),
                             hint=_("Create one with 'clusteratlas init' or 'clusteratlas demo --atlas FILE', "
                                    "or browse the sample with 'clusteratlas serve --demo'"))
        self._switch = threading.Lock()
        self._pinned: ContextVar[Snapshot | None] = ContextVar(f"atlas-snapshot-{id(self)}", default=None)
        self._provenance: tuple[tuple[str, int], Provenance] | None = None
        self.cache = ResponseCache(cache_bytes)
        self._memos: dict[tuple[str, int], dict[tuple, Any]] = {}  # per version: the current and the last
        self.read_limiter: Any = None  # an anyio CapacityLimiter, made on the event loop
        self._generation = 0
        self.live_requests = 0  # requests being computed now, not from the cache (the warm-up waits for 0)
        self.on_clear: Callable[[], None] | None = None  # called when the cache is emptied (the warm-up restarts)
        self._snapshot: Snapshot | None = None
        self._reading: Reading | None = None
        self._writer: ThreadPoolExecutor | None = None
        self.open()

    # ------------------------------------------------------------- versions
    def open(self) -> None:
        """Register as a reader and open the current version (again, after :meth:`close`).

        Waits, saying so, while a writer writes the file in place; a file
        that is not an atlas is a clear error.
        """
        if self._snapshot is not None:
            return
        self._reading = Reading(self.path, notify=self.notify)
        try:
            self._snapshot = self._open_snapshot(wait=True)
        except BaseException:
            self._reading.close()
            self._reading = None
            raise
        self._writer = None if self.read_only else ThreadPoolExecutor(max_workers=1,
                                                                      thread_name_prefix="atlas-writer")

    def _open_snapshot(self, *, wait: bool) -> Snapshot:
        """The file at the path now, opened; the identity recorded is the opened file's (retried if it moved)."""
        for _attempt in range(20):
            before = identity(self.path)
            con = read_connection(self.path, memory_limit=self.memory_limit, notify=self.notify, wait=wait)
            if identity(self.path) == before:
                break
            con.close()  # replaced while opening: open the newer one
        else:
            raise InputError(_("the atlas file kept changing while it was being opened"), file=str(self.path))
        self._generation += 1
        version = version_of(self.path, before)
        modified = datetime.fromtimestamp((before[2] if before else 0) / 1e9, UTC).replace(microsecond=0)
        return Snapshot(con, before, version, modified, self._generation)

    def refresh(self) -> Snapshot:
        """The current snapshot, reopened first when a write has replaced the file (one ``stat`` otherwise).

        A version that cannot be opened yet (another program holds the file)
        leaves the old one served; the next request tries again.
        """
        current = self._snapshot
        if current is None:
            raise RuntimeError("the atlas service is closed")
        now = identity(self.path)
        if now is None or now == current.identity:
            return current
        with self._switch:
            if self._snapshot is not current:
                return self._snapshot or current
            try:
                fresh = self._open_snapshot(wait=False)
            except (duckdb.Error, InputError, OSError):
                log.warning("the atlas file changed but cannot be opened yet; serving the previous version",
                            exc_info=True)
                return current
            self._prepare(fresh, self._memos.get((current.version, current.generation)))
            self._snapshot = fresh
            self._provenance = None
            self.cache.clear()
            self._retire(current)
        if self.on_clear is not None:
            self.on_clear()
        return fresh

    def _prepare(self, fresh: Snapshot, previous: dict[tuple, Any] | None) -> None:
        """Read a new version's stored answers into its memo store before it is served, so that no request
        of it reads them from the file (those the last version held for the same run and basis are taken
        as they are: :func:`clusteratlas.queries.answers.load_answers`). A failure here is only logged: the
        version is served all the same, its requests reading their rows."""
        from clusteratlas.queries._core import memo
        from clusteratlas.queries.answers import load_answers

        key = (fresh.version, fresh.generation)
        store = self._memos.setdefault(key, {})
        for old in [k for k in self._memos if k[1] < fresh.generation - 1]:
            self._memos.pop(old, None)
        try:
            with memo(store):
                load_answers(fresh.cursor(), previous)
        except Exception:  # never a reason not to serve the new version
            log.warning("the stored answers of the new version were not read ahead", exc_info=True)

    def watch(self, every: float = 0.5) -> Callable[[], None]:
        """Look at the file every ``every`` seconds on a thread of its own and open a new version as soon as a
        write has replaced it (its answers read ahead: :meth:`_prepare`), rather than at the next request;
        returns the function that stops it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                if self._snapshot is None:
                    continue
                try:
                    self.refresh()
                except Exception:  # the next turn, or the next request, tries again
                    log.warning("could not open the new version of the atlas", exc_info=True)

        thread = threading.Thread(target=loop, daemon=True, name="atlas-watch")
        thread.start()

        def stopped() -> None:
            stop.set()
            thread.join(timeout=5)

        return stopped

    def _retire(self, snapshot: Snapshot) -> None:
        with snapshot.lock:
            snapshot.retired = True
            idle = snapshot.pins == 0
        if idle:
            snapshot.close()

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Snapshot]:
        """The current version for the block (a request): its reads all come from it, it stays open until the
        block ends even if a write replaces the file meanwhile."""
        snapshot = self.refresh()
        with snapshot.lock:
            snapshot.pins += 1
        token = self._pinned.set(snapshot)
        try:
            yield snapshot
        finally:
            self._pinned.reset(token)
            with snapshot.lock:
                snapshot.pins -= 1
                idle = snapshot.retired and snapshot.pins == 0
            if idle:
                snapshot.close()

    def snapshot(self) -> Snapshot:
        """The version this request (or thread) reads: the pinned one, else the current one."""
        pinned = self._pinned.get()
        if pinned is not None:
            return pinned
        if self._snapshot is None:
            self.open()
        assert self._snapshot is not None
        return self._snapshot

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection of the version read now."""
        return self.snapshot().con

    # ----------------------------------------------------------------- reads
    def load_answers(self) -> None:
        """Read the stored answers of the version read now into memory (:meth:`_prepare`): at start-up, so that
        the first requests do not each read their row from the file."""
        with self.pinned() as snapshot:
            self._prepare(snapshot, None)

    def reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's read cursor on the version read now."""
        return self.snapshot().cursor()

    def ping(self) -> None:
        """Ask the version read now the smallest question (the health route's probe): raises when it cannot."""
        ping(self.reader())

    def stamp(self) -> tuple[str, datetime]:
        """(version, last-modified) of the version read now."""
        snapshot = self.snapshot()
        return snapshot.version, snapshot.modified

    def cache_version(self) -> tuple[str, int]:
        """(atlas version, generation): what a cached answer must match to be served; a reopened file is a new
        generation even if its stamp were the same."""
        snapshot = self.snapshot()
        return snapshot.version, snapshot.generation

    def memo(self) -> dict[tuple, Any]:
        """Facts the queries keep about the atlas (tables, levels, years: :func:`clusteratlas.queries.memo`),
        a store for every version (kept for the current version and the one before, whose requests may still
        be running)."""
        version = self.cache_version()
        store = self._memos.get(version)
        if store is None:
            store = self._memos.setdefault(version, {})
        return store

    def provenance(self) -> Provenance:
        """The provenance of answers from the version read now (kept per version)."""
        held = self.held_provenance()
        if held is not None:
            return held
        key = self.cache_version()
        prov = provenance(self.reader(), self.path, stamp=self.stamp())
        self._provenance = (key, prov)
        return prov

    def held_provenance(self) -> Provenance | None:
        """The provenance of the version read now if it is known already (no query runs), else None."""
        cached = self._provenance
        return cached[1] if cached and cached[0] == self.cache_version() else None

    # ---------------------------------------------------------------- writes
    def write(self, job: Callable[[Any], T], timeout: float = 3600) -> T:
        """Run ``job(atlas)`` on the writer thread, after any write queued before it; return its result.

        ``atlas`` is a :class:`clusteratlas.store.Atlas` opened for this one
        write (the write lock held: writes of other processes wait, and this
        one waits for theirs); the write is swapped in when ``job`` returns,
        and thrown away when it raises. The server reads the new version at
        once.
        """
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
        from clusteratlas.store import Atlas

        with Atlas(self.path, memory_limit=self.memory_limit, notify=log.warning) as atlas:
            result = job(atlas)
        self.refresh()
        return result

    def close(self) -> None:
        """Finish queued writes, close every version, stop reading the file."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot.close()
        if self._reading is not None:
            self._reading.close()
            self._reading = None


class ReadOnly(Exception):
    """The atlas is served read-only: write routes answer 503."""
