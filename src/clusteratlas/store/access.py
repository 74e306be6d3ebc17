"""One writer at a time, many readers: how every process opens an atlas file.

DuckDB lets one process open a database file read-write, or any number of
processes read-only, never both at once. So that a server can keep serving an
atlas while the command line writes it (and several servers can serve one
file), every process follows one protocol, kept in two lock files beside the
atlas ``A`` (advisory ``flock`` locks: the kernel drops them when a process
ends, even by ``kill -9``):

``A.lock``
    Writers take it exclusively for the whole write, so writes in any number
    of processes happen one after another and none is lost. It holds the
    current writer's PID, command and start time, so that a process that has
    to wait can say for whom.
``A.readers``
    Readers (every server process, and the command line's read commands)
    hold it shared for as long as they read.

A writer that gets ``A.readers`` exclusively (nobody reads) writes the file
in place, as DuckDB always does, and keeps readers out until it is done (a
server started meanwhile waits and says so). When someone reads it, the
writer copies the atlas to ``A.swap-<pid>-<random>`` in the same folder,
writes the copy (with the same transactions), checkpoints and closes it,
``fsync``\\ s it and renames it over ``A``: an atomic step, so readers see the
old version or the new one, and a ``kill -9`` at any moment leaves either
(a half-written copy is not named like an atlas, and the next writer
removes it). Readers notice that the path names a new file and reopen it.

Readers open the file through ``ATTACH … (READ_ONLY)`` on an in-memory
connection rather than a plain connect to the path: DuckDB keeps one database
instance per path in a process, so after a swap a plain connect would hand
back the old file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from clusteratlas._sql import connect, literal
from clusteratlas.errors import InputError
from clusteratlas.i18n import _

#: Called with a message when a process has to wait for another (default: printed on stderr).
Notify = Callable[[str], None]
#: What a copy being written is called: ``<atlas name>.swap-<pid>-<random>`` (never ``*.duckdb``).
SWAP = ".swap-"
#: The name under which readers attach the atlas (``USE``-d, so queries name tables as usual).
ALIAS = "atlas"
_in_place: set[Path] = set()  # atlases this process is writing in place now (a reader here would wait forever)
_in_place_guard = threading.Lock()


def lock_file(path: str | os.PathLike[str]) -> Path:
    """The writers' lock file of an atlas: ``<atlas>.lock``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def readers_file(path: str | os.PathLike[str]) -> Path:
    """The readers' lock file of an atlas: ``<atlas>.readers``."""
    path = Path(path)
    return path.with_name(path.name + ".readers")


def say(text: str) -> None:
    """The default :data:`Notify`: one line on stderr."""
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------- locks
def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _try(fd: int, op: int) -> bool:
    try:
        fcntl.flock(fd, op | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take(fd: int, op: int, waiting: Callable[[], str], notify: Notify | None) -> None:
    """Take a lock, saying first (once) that this process waits and for whom, when it must."""
    if _try(fd, op):
        return
    if notify is not None:
        notify(waiting())
    fcntl.flock(fd, op)  # Ctrl+C interrupts the wait


def _command() -> str:
    """This process's command line, short (to name it to others)."""
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = " ".join(args)
    return text if len(text) <= 160 else text[:159] + "…"


def holder(path: str | os.PathLike[str]) -> dict:
    """What the latest writer of an atlas wrote in its lock file (pid, command, since, mode); {} if nothing.

    Only meaningful while the lock is held: a process that could not take it reads who has it.
    """
    try:
        return json.loads(lock_file(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _process(pid: object, command: object = None) -> str:
    """'process 1234 (clusteratlas import …)', the command read from /proc when not given."""
    if not command and pid:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if command:
        command = " ".join(str(command).split())  # one line, however the program was started
        command = command if len(command) <= 160 else command[:159] + "…"
    return _("process {pid}").format(pid=pid or "?") + (f" ({command})" if command else "")


def _writer_text(path: Path) -> str:
    info = holder(path)
    return _process(info.get("pid"), info.get("command")) + (
        _(", since {time}").format(time=info["since"]) if info.get("since") else "")


def _write_holder(fd: int, info: dict) -> None:
    data = json.dumps(info, ensure_ascii=False).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _wal(path: Path) -> Path:
    return Path(str(path) + ".wal")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _recover(path: Path, previous: dict) -> None:
    """Undo what a killed writer left (called by the next writer, under the write lock).

    Copies it was writing are removed. A write-ahead log left beside the atlas
    by a killed in-place writer belongs to the file and is kept (DuckDB
    replays it); one that a copy-and-swap had already replayed into the new
    file (killed between the rename and removing the log) is removed: the
    lock file then names the replaced file's inode.
    """
    for stray in path.parent.glob(f"{glob_escape(path.name)}{SWAP}*"):
        _remove(stray)
    swapped = previous.get("swapping")
    if swapped and _wal(path).exists():
        with contextlib.suppress(OSError):
            if path.stat().st_ino != swapped:
                _wal(path).unlink()


def glob_escape(name: str) -> str:
    """A file name with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


# ------------------------------------------------------------------ writes
class Writing:
    """One write on an atlas: the write lock taken, then the file to write (the atlas itself, or a copy).

    Use :attr:`target` (open it read-write), then :meth:`commit` (a copy is
    swapped in) or :meth:`abort` (a copy is thrown away); both release the
    locks.

    Parameters
    ----------
    path
        The atlas file (it may not exist yet: it is then created in place).
    notify
        Told, once, when this write has to wait for another.
    """

    def __init__(self, path: str | os.PathLike[str], *, notify: Notify | None = say) -> None:
        self.path = Path(path).absolute()
        self.in_place = True
        self.target = self.path
        self._readers: int | None = None
        self._stale_wal = False
        self._info: dict = {}
        try:
            self._lock: int | None = _open_lock(lock_file(self.path))
        except OSError as exc:
            raise InputError(_("cannot create the lock file beside the atlas"), file=str(lock_file(self.path)),
                             value=exc.strerror, expected=_("a folder this process may write in")) from None
        try:
            _take(self._lock, fcntl.LOCK_EX, lambda: _("{atlas} is being written by {process}; this write waits "
                                                       "for it to finish (Ctrl+C stops waiting).").format(
                atlas=self.path.name, process=_writer_text(self.path)), notify)
            _recover(self.path, _read_holder(self._lock))
            self._info = {"pid": os.getpid(), "command": _command(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            _write_holder(self._lock, self._info)
            self._readers = _open_lock(readers_file(self.path))
            if _try(self._readers, fcntl.LOCK_EX) or not self.path.exists():
                with _in_place_guard:
                    _in_place.add(self.path)
            else:  # someone reads the atlas: write a copy, swapped in at the end
                self.to_copy()
        except BaseException:
            self._release()
            raise

    def to_copy(self) -> None:
        """Write a copy instead of the file itself (someone reads it; it is swapped in by :meth:`commit`)."""
        if not self.in_place:
            return
        if self._readers is not None:
            os.close(self._readers)
            self._readers = None
        with _in_place_guard:
            _in_place.discard(self.path)
        self.in_place = False
        self.target = self._copy()
        _write_holder(self._lock, {**self._info, "mode": "copy"})

    def _copy(self) -> Path:
        copy = self.path.with_name(f"{self.path.name}{SWAP}{os.getpid()}-{secrets.token_hex(4)}")
        shutil.copyfile(self.path, copy)
        shutil.copymode(self.path, copy)
        if _wal(self.path).exists():  # left by a killed in-place writer: it goes along, and is replayed there
            shutil.copyfile(_wal(self.path), _wal(copy))
            self._stale_wal = True
        return copy

    def commit(self) -> None:
        """Make the write visible: a copy is synced to disk and renamed over the atlas; the locks are released.

        Call it after closing every connection to :attr:`target`.
        """
        try:
            if not self.in_place and self._lock is not None:
                fd = os.open(self.target, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if self._stale_wal:  # the next writer removes the old log if this one is killed after the rename
                    _write_holder(self._lock, {**self._info, "mode": "copy", "swapping": self.path.stat().st_ino})
                os.replace(self.target, self.path)
                _fsync_dir(self.path.parent)
                if self._stale_wal:
                    _wal(self.path).unlink(missing_ok=True)
                    _fsync_dir(self.path.parent)
                for leftover in (_wal(self.target), Path(str(self.target) + ".tmp")):
                    _remove(leftover)
        finally:
            self._release()

    def abort(self) -> None:
        """Throw the copy away (an in-place write keeps what its transactions committed); release the locks."""
        try:
            if not self.in_place:
                for leftover in (self.target, _wal(self.target), Path(str(self.target) + ".tmp")):
                    _remove(leftover)
        finally:
            self._release()

    def _release(self) -> None:
        with _in_place_guard:
            _in_place.discard(self.path)
        for name in ("_readers", "_lock"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)  # closing drops the lock
                setattr(self, name, None)


# ------------------------------------------------------------------- reads
class Reading:
    """A reader's registration: ``<atlas>.readers`` held shared until :meth:`close`.

    While it is held, writers write copies and swap them in. Taking it waits
    (saying so) while a writer writes the file in place. Where no lock file
    can be made (a read-only folder), nobody can write the atlas either, and
    the reader goes on without one.
    """

    def __init__(self, path: str | os.PathLike[str], *, notify: Notify | None = say) -> None:
        self.path = Path(path).absolute()
        self._fd: int | None = None
        with _in_place_guard:
            if self.path in _in_place:
                raise InputError(_("this process is writing the atlas; read it through the writing connection"),
                                 file=str(self.path))
        try:
            self._fd = _open_lock(readers_file(self.path))
        except OSError:
            return
        try:
            _take(self._fd, fcntl.LOCK_SH, lambda: _("{atlas} is being written in place by {process}; waiting for "
                                                     "it to finish before reading (Ctrl+C stops waiting).").format(
                atlas=self.path.name, process=_writer_text(self.path)), notify)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def conflict(exc: duckdb.Error) -> str | None:
    """The holder named by DuckDB's lock error ('process 1234 (…)'), or None when ``exc`` is another error."""
    text = str(exc)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    found = re.search(r"PID (\d+)", text)
    return _process(found.group(1) if found else None)


def open_read_only(path: str | os.PathLike[str], *, memory_limit: str | None = None,
                   ) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the atlas file as it is now (its own instance, so never a replaced file's).

    A leftover write-ahead log of a file that a swap replaced is removed
    (under the write lock) and the file opened again.
    """
    path = Path(path).absolute()
    con = connect(":memory:", memory_limit=memory_limit)
    try:
        try:
            con.execute(f"ATTACH {literal(str(path))} AS {ALIAS} (READ_ONLY)")
        except duckdb.IOException as exc:
            if "WAL" not in str(exc) or not _wal(path).exists():
                raise
            repair(path)
            con.execute(f"ATTACH {literal(str(path))} AS {ALIAS} (READ_ONLY)")
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def read_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor of a connection from :func:`open_read_only`, reading the atlas.

    A cursor is a new connection to the same instance: it starts in the in-memory database, not the attached
    atlas, until told to use it.
    """
    cur = con.cursor()
    cur.execute(f"USE {ALIAS}")
    return cur


def ping(con: duckdb.DuckDBPyConnection) -> None:
    """Ask the database the smallest question: raises when the connection no longer answers (a health probe)."""
    con.execute("SELECT 1").fetchall()


def repair(path: str | os.PathLike[str], notify: Notify | None = say) -> None:
    """Take the write lock and undo what a killed writer left (see :func:`_recover`)."""
    path = Path(path).absolute()
    fd = _open_lock(lock_file(path))
    try:
        _take(fd, fcntl.LOCK_EX, lambda: _("{atlas} is being written by {process}; this write waits for it to "
                                           "finish (Ctrl+C stops waiting).").format(
            atlas=path.name, process=_writer_text(path)), notify)
        _recover(path, _read_holder(fd))
    finally:
        os.close(fd)


def identity(path: str | os.PathLike[str]) -> tuple[int, int, int, int] | None:
    """(device, inode, mtime ns, size) of the file at ``path`` now, or None: a swap changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


def version_of(path: str | os.PathLike[str], stamp: tuple[int, int, int, int] | None) -> str:
    """The atlas version of the file at ``path`` whose :func:`identity` is ``stamp``: what a server sends as
    ``X-Atlas-Version`` and keys its cache by, and what a static edition records (any write, in place or by a
    swap, moves it; a copy of the file elsewhere is another version)."""
    return hashlib.sha256(f"{Path(path).resolve()}|{stamp}".encode()).hexdigest()[:16]


def wait_for_open(opener: Callable[[], duckdb.DuckDBPyConnection], *, notify: Notify | None = say,
                  every: float = 0.5) -> duckdb.DuckDBPyConnection:
    """``opener()``, retried while another program (one that does not take clusteratlas's locks) holds the
    file, saying once which process it waits for."""
    told = False
    while True:
        try:
            return opener()
        except duckdb.Error as exc:
            who = conflict(exc)
            if who is None:
                raise
            if not told and notify is not None:
                notify(_("the atlas is held open by {process}, which does not take clusteratlas's locks; "
                         "waiting for it to close the file (Ctrl+C stops waiting).").format(process=who))
                told = True
            time.sleep(every)
