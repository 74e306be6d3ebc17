"""Issue 21 items 1-2, the store's part: one writer at a time, many readers, copy-and-swap beside readers.

Each test runs writers in real processes (a lock that only works inside one
process would pass in-process tests) against the small sample atlas, while
this process reads it or not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusteratlas import Atlas
from clusteratlas.store.access import SWAP, lock_file
from tests.conftest import atlas_fingerprint

CLI = str(Path(sys.executable).with_name("clusteratlas"))


def _python(code: str, *args: object) -> subprocess.Popen:
    """A Python process running ``code`` (its stdout piped, one line per step)."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _meta(path: Path, key: str) -> str | None:
    with Atlas(path, read_only=True) as atlas:
        rows = atlas.con.execute("SELECT value FROM atlas_meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def _strays(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if SWAP in p.name)


def _kill_when(proc: subprocess.Popen, word: str) -> None:
    """Kill -9 ``proc`` as soon as it prints a line starting with ``word``."""
    line = proc.stdout.readline()
    assert line.startswith(word), (line, proc.stderr.read() if proc.poll() is not None else "")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


def test_a_write_beside_a_reader_is_a_copy_swapped_in(mapped_atlas):
    """While this process reads the atlas, the CLI writes it (before: DuckDB's lock error); the reader keeps its
    version, a new reader sees the write, nothing is left beside the atlas. Without readers: in place."""
    path = mapped_atlas
    reader = Atlas(path, read_only=True)
    inode = path.stat().st_ino
    done = subprocess.run([CLI, "token", "create", "--role", "editor", "--atlas", path], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert reader.con.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 0
    with Atlas(path, read_only=True) as fresh:
        assert fresh.con.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 1
    reader.close()
    assert _strays(path) == []
    inode = path.stat().st_ino
    done = subprocess.run([CLI, "token", "create", "--role", "admin", "--atlas", path], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert path.stat().st_ino == inode  # nobody read it: written in place
    with Atlas(path, read_only=True) as fresh:
        assert fresh.con.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 2


WRITER = """
import sys
from clusteratlas import Atlas
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    with Atlas(path) as atlas:
        atlas.con.execute("INSERT INTO atlas_meta VALUES (?, ?)", [f"w-{who}-{i}", who])
"""


def test_writers_in_several_processes_lose_no_write(mapped_atlas):
    """Three processes write four times each at once while the atlas is read (every write a copy): every one
    of the twelve lands. Without the write lock two copies of the same version would race and one be lost."""
    path = mapped_atlas
    with Atlas(path, read_only=True):
        procs = [_python(WRITER, path, who, 4) for who in "abc"]
        for proc in procs:
            assert proc.wait(300) == 0, proc.stderr.read()
    with Atlas(path, read_only=True) as atlas:
        keys = {r[0] for r in atlas.con.execute("SELECT key FROM atlas_meta WHERE key LIKE 'w-%'").fetchall()}
    assert keys == {f"w-{who}-{i}" for who in "abc" for i in range(4)}
    assert _strays(path) == []


HOLD = """
import sys, time
from clusteratlas import Atlas
atlas = Atlas(sys.argv[1])
atlas.con.execute("INSERT INTO atlas_meta VALUES ('killed', 'written')")
print("written", atlas._access.target, flush=True)
time.sleep(120)
"""


def test_a_writer_killed_mid_write_beside_a_reader_leaves_the_old_atlas(mapped_atlas):
    """kill -9 while a writer has written its copy but not swapped it in: the atlas is as it was; its copy is
    not taken for an atlas and the next write removes it."""
    path = mapped_atlas
    before = atlas_fingerprint(path)
    with Atlas(path, read_only=True):
        writer = _python(HOLD, path)
        _kill_when(writer, "written")
        assert _strays(path)  # its copy (and the copy's log)
    assert atlas_fingerprint(path) == before
    assert _meta(path, "killed") is None
    with Atlas(path) as atlas:  # the next write cleans up
        atlas.con.execute("INSERT INTO atlas_meta VALUES ('next', 'write')")
    assert _strays(path) == []
    assert _meta(path, "next") == "write"


COPYING = """
import os, shutil, sys, time
from clusteratlas import Atlas

def half(src, dst, **kw):  # copy half of the atlas, then hang: to be killed mid-copy
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read(os.path.getsize(src) // 2))
    print("copying", flush=True)
    time.sleep(120)

shutil.copyfile = half
Atlas(sys.argv[1])
"""


def test_a_writer_killed_mid_copy_leaves_the_old_atlas(mapped_atlas):
    path = mapped_atlas
    before = atlas_fingerprint(path)
    with Atlas(path, read_only=True):
        writer = _python(COPYING, path)
        _kill_when(writer, "copying")
        assert len(_strays(path)) == 1  # the half copy
        with Atlas(path, read_only=True) as other:  # readers go on reading the atlas, not the half copy
            assert other.con.execute("SELECT count(*) FROM results_clusters").fetchone()[0] > 0
    assert atlas_fingerprint(path) == before
    with Atlas(path) as atlas:
        atlas.con.execute("SELECT 1")
    assert _strays(path) == []


IN_PLACE = """
import os, sys
from clusteratlas import Atlas
atlas = Atlas(sys.argv[1])
assert atlas._access.in_place
atlas.con.execute("INSERT INTO atlas_meta VALUES ('committed', 'yes')")
atlas.con.execute("BEGIN TRANSACTION")
atlas.con.execute("INSERT INTO atlas_meta VALUES ('uncommitted', 'yes')")
print("written", flush=True)
import time; time.sleep(120)
"""


def test_a_writer_killed_in_place_leaves_what_it_committed(mapped_atlas):
    """Nobody reading: the write is in place, and a kill -9 keeps its committed transactions only (DuckDB's log)."""
    path = mapped_atlas
    writer = _python(IN_PLACE, path)
    _kill_when(writer, "written")
    assert _meta(path, "committed") == "yes"
    assert _meta(path, "uncommitted") is None


LEAVE_LOG = """
import os, signal, sys
from clusteratlas import Atlas
atlas = Atlas(sys.argv[1])
atlas.con.execute("INSERT INTO atlas_meta VALUES ('from the log', 'yes')")
os.kill(os.getpid(), signal.SIGKILL)
"""
SWAP_THEN_DIE = """
import os, signal, sys
from clusteratlas import Atlas
from clusteratlas.store import access

real = os.replace

def replace_then_die(src, dst):  # killed right after the rename, before the old log is removed
    real(src, dst)
    os.kill(os.getpid(), signal.SIGKILL)

access.os.replace = replace_then_die
with Atlas(sys.argv[1]) as atlas:
    atlas.con.execute("INSERT INTO atlas_meta VALUES ('swapped', 'yes')")
"""


def test_a_log_left_by_a_killed_swap_is_not_replayed_on_the_new_file(mapped_atlas):
    """An in-place writer killed leaves a write-ahead log (committed work); a copy-and-swap beside a reader
    takes it along, and if killed just after the rename leaves the old log beside the new file, which DuckDB
    refuses to open. The next opening removes that log (the lock file named the replaced file), and the atlas
    holds both writes."""
    path = mapped_atlas
    wal = Path(f"{path}.wal")
    first = _python(LEAVE_LOG, path)
    assert first.wait(120) == -signal.SIGKILL
    assert wal.exists()
    with Atlas(path, read_only=True) as reader:
        assert reader.con.execute("SELECT value FROM atlas_meta WHERE key = 'from the log'").fetchone() == ("yes",)
        second = _python(SWAP_THEN_DIE, path)
        assert second.wait(120) == -signal.SIGKILL, second.stderr.read()
    assert wal.exists() and b"swapping" in lock_file(path).read_bytes()
    assert _meta(path, "from the log") == "yes"
    assert _meta(path, "swapped") == "yes"
    assert not wal.exists()


def test_a_reader_in_a_writing_process_is_refused_not_deadlocked(mapped_atlas):
    """A process writing in place that opens a reader on the same atlas would wait for itself forever."""
    from clusteratlas.errors import InputError

    with Atlas(mapped_atlas) as atlas, pytest.raises(InputError, match="this process is writing the atlas"):
        assert atlas._access.in_place
        Atlas(mapped_atlas, read_only=True)


def test_an_old_atlas_is_brought_to_the_current_schema_before_it_is_read(mapped_atlas):
    """A reader cannot add tables; an atlas that lacks one (made by an older version) is upgraded by a write."""
    import duckdb

    con = duckdb.connect(str(mapped_atlas))
    con.execute("DROP TABLE api_writes")
    con.close()
    start = time.perf_counter()
    with Atlas(mapped_atlas, read_only=True) as atlas:
        assert atlas.con.execute("SELECT count(*) FROM api_writes").fetchone() == (0,)
    assert time.perf_counter() - start < 60
