"""Issue 21 items 1-2: the CLI works on a served atlas; several server processes serve one atlas.

Everything here runs as a user would: ``clusteratlas serve`` in real processes
on 127.0.0.1, the CLI in other processes, HTTP between them. The design under
test (docs/architecture.md, "One writer, many readers"): servers and CLI
reads open the atlas read-only; every write takes the atlas's write lock and
writes a copy that is renamed over the file; servers reopen the new file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import pytest

from clusteratlas.store.access import SWAP
from tests.test_server_security import _assessment_file

CLI = str(Path(sys.executable).with_name("clusteratlas"))
API = "/api/v1"
#: What the CLI steps of the main test write: every other table must come out exactly as it went in.
WRITTEN = {"api_tokens", "datasets", "observations_unflagged", "observations_flagged", "imports", "results_clusters",
           "results_regions", "results_unmapped", "map_runs", "stored_answers", "assessments", "assessment_scores",
           "evaluation_frameworks", "api_writes"}


def _cli(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", "CLUSTERATLAS_LANG": "en"})


def _ok(*args: object) -> str:
    done = _cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(path: Path, log: Path, *extra: str, wait: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """``clusteratlas serve`` on ``path`` in its own process (stderr in ``log``); stopped afterwards."""
    port = _free_port()
    with open(log, "w") as err:
        proc = subprocess.Popen([CLI, "serve", "--atlas", str(path), "--port", str(port), "--no-warm", *extra],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                env={**os.environ, "CLUSTERATLAS_LANG": "en"})
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            _wait_healthy(base, proc, log)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}{API}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the server did not start: {log.read_text()}")


def _get(base: str, url: str, **kw) -> dict:
    r = httpx.get(f"{base}{url}", timeout=120, **kw)
    assert r.status_code == 200, (url, r.text)
    return r.json()


def _fingerprint(path: Path, skip: set[str] = WRITTEN) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table but ``skip``, and of the observations of 2019 and earlier imports."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        queries = {t: f'SELECT * FROM "{t}"' for t in tables if t not in skip}
        queries["observations 2019"] = "SELECT * FROM observations WHERE dataset = 'cbp2019'"
        out = {}
        for name, sql in queries.items():
            rows = con.execute(f"{sql} ORDER BY ALL").fetchall()
            out[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def _strays(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if SWAP in p.name)


@pytest.fixture(scope="module")
def cbp(cbp2019_built) -> Path:
    """The CBP 2019 metro atlas (real data), built once; each test serves its own copy."""
    return cbp2019_built


@pytest.fixture
def served_copy(cbp, tmp_path) -> Path:
    path = tmp_path / "atlas.duckdb"
    shutil.copyfile(cbp, path)
    return path


@pytest.mark.realdata
def test_the_cli_writes_beside_a_running_server(cbp, served_copy, tmp_path):
    """Serve the CBP metros; from the CLI create a token, import a second year, re-map, import an assessment.
    The server answers with the new year, the new map run in its provenance, and accepts the new token; the
    stored tables the commands did not write are as they were. (Before: every CLI command failed on DuckDB's
    lock, 'expected a clusteratlas DuckDB file'.)"""
    path = served_copy
    obs2020 = tmp_path / "cbp2020.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT region, industry, 2020 AS year, round(employment * 1.05) AS employment, "
                    f"establishments FROM '{cbp.parent / 'obs.parquet'}') TO '{obs2020}'")
    assessments = tmp_path / "assessments.csv"
    assessments.write_bytes(_assessment_file("cli"))
    before = _fingerprint(path)
    with served(path, tmp_path / "serve.log") as (base, _):
        first = _get(base, f"{API}/regions/41940")
        assert first["data"]["summary"]["year"] == 2019
        old_run = first["provenance"]["map_run"]["run_id"]
        assert "2019" in _ok("show", "region", "41940", "--atlas", path)  # a read beside the server
        token = _ok("token", "create", "--role", "editor", "--name", "cli", "--atlas", path).strip()
        assert token.startswith("ca_")
        _ok("import", "observations", obs2020, "--name", "cbp2020", "--atlas", path)
        _ok("map", "--atlas", path)
        _ok("assess", "import", assessments, "--atlas", path)
        listed = _ok("token", "list", "--atlas", path)
        assert "cli" in listed

        profile = _get(base, f"{API}/regions/41940")
        assert profile["data"]["summary"]["year"] == 2020
        runs = _get(base, f"{API}/map-runs")["data"]
        assert runs[0]["run_id"] != old_run and profile["provenance"]["map_run"]["run_id"] == runs[0]["run_id"]
        assert _get(base, f"{API}/overview")["data"]["year"] == 2020
        ids = {a["assessment"] for a in _get(base, f"{API}/assessments")["data"]}
        assert any(i.endswith("-cli") for i in ids)
        r = httpx.post(f"{base}{API}/assessments", headers={"Authorization": f"Bearer {token}"}, timeout=300,
                       files={"file": ("web.csv", _assessment_file("web"), "text/csv")})
        assert r.status_code == 201, r.text
        assert any(a["assessment"].endswith("-web") for a in _get(base, f"{API}/assessments")["data"])
        shown = _ok("show", "region", "41940", "--atlas", path)  # the CLI reads the server's write
        assert "2020" in shown
    assert _fingerprint(path) == before
    assert _strays(path) == []


@pytest.mark.realdata
def test_kill_9_during_writes_leaves_the_old_or_the_new_atlas(served_copy, tmp_path):
    """The server killed while it re-maps (its copy being written), then a CLI re-map killed the same way
    beside a running server: the atlas opens and holds either the old or the new state, never a broken one."""
    path = served_copy
    admin = _ok("token", "create", "--role", "admin", "--atlas", path).strip()
    runs_before = _map_runs(path)
    before = _fingerprint(path, skip=set())
    with served(path, tmp_path / "serve.log") as (base, proc):
        call = threading.Thread(target=_quietly, args=(httpx.post, f"{base}{API}/map"),
                                kwargs={"headers": {"Authorization": f"Bearer {admin}"}, "json": {}, "timeout": 300})
        call.start()
        _wait_for_copy(path)
        time.sleep(0.5)  # into the write itself
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        call.join(60)
    runs = _map_runs(path)
    assert runs in (runs_before, runs_before + 1)
    if runs == runs_before:
        assert _fingerprint(path, skip=set()) == before
    with served(path, tmp_path / "serve2.log") as (base, _):
        state = _fingerprint(path, skip=set())
        runs_now = _map_runs(path)
        cli = subprocess.Popen([CLI, "map", "--atlas", str(path)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        _wait_for_copy(path)
        time.sleep(0.5)
        cli.send_signal(signal.SIGKILL)
        cli.wait(30)
        assert _get(base, f"{API}/health")["status"] == "ok"  # the server serves on, from the old file
        assert _get(base, f"{API}/regions/41940")["data"]["summary"]["year"] == 2019
    assert _map_runs(path) == runs_now and _fingerprint(path, skip=set()) == state
    _ok("token", "list", "--atlas", path)
    _ok("token", "create", "--role", "editor", "--atlas", path)  # the next write removes what the killed left
    assert _strays(path) == []


def _quietly(call, *args, **kw) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under the request
        call(*args, **kw)


def _wait_for_copy(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not _strays(path):
        assert time.monotonic() < deadline, "no write started"
        time.sleep(0.02)


def _map_runs(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM map_runs").fetchone()[0]
    finally:
        con.close()


@pytest.mark.realdata
def test_two_servers_and_workers_take_concurrent_uploads_and_lose_none(served_copy, tmp_path):
    """``serve --workers 2`` and a second ``serve`` on the same file (before: --workers forced read-only, and a
    second process could not open the file): concurrent editor uploads to both all land, both servers list
    every one of them, and the file is intact."""
    path = served_copy
    editor = _ok("token", "create", "--role", "editor", "--atlas", path).strip()
    before = _fingerprint(path)
    with served(path, tmp_path / "a.log", "--workers", "2") as (a, _), served(path, tmp_path / "b.log") as (b, _):
        def upload(i: int) -> int:
            base = (a, b)[i % 2]
            r = httpx.post(f"{base}{API}/assessments", headers={"Authorization": f"Bearer {editor}"},
                           files={"file": (f"u{i}.csv", _assessment_file(f"u{i}"), "text/csv")}, timeout=600)
            return r.status_code

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(upload, range(6))) == [201] * 6
        for base in (a, b, a):
            ids = {x["assessment"].rsplit("-", 1)[-1] for x in _get(base, f"{API}/assessments")["data"]}
            assert {f"u{i}" for i in range(6)} <= ids
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM api_writes WHERE action = 'assess-import'").fetchone()[0] == 6
    con.close()
    assert _fingerprint(path) == before
    assert _strays(path) == []


# --------------------------------------------------------------------- messages
HOLD_IN_PLACE = """
import sys, time
from pathlib import Path
from clusteratlas import Atlas
atlas = Atlas(sys.argv[1])
assert atlas._access.in_place
atlas.con.execute("INSERT INTO atlas_meta VALUES ('held', 'yes')")
print("holding", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.05)
atlas.close()
"""


def _holder(path: Path, release: Path, code: str = HOLD_IN_PLACE) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(release)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("holding"), proc.stderr.read()
    return proc


def _wait_for_text(log: Path, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return log.read_text()


def test_a_server_started_while_the_cli_writes_in_place_waits_and_says_for_whom(mapped_atlas, tmp_path):
    """Before: 'cannot open the atlas: Could not set lock …' and the server did not start."""
    release = tmp_path / "release"
    writer = _holder(mapped_atlas, release)
    log = tmp_path / "serve.log"
    with served(mapped_atlas, log, wait=False) as (base, proc):
        said = _wait_for_text(log, "waiting")
        assert f"process {writer.pid}" in said and "written in place" in said
        assert proc.poll() is None  # waiting, not failed
        release.touch()
        assert writer.wait(60) == 0
        _wait_healthy(base, proc, log)
        assert _get(base, f"{API}/health")["status"] == "ok"
    assert "expected a clusteratlas DuckDB file" not in log.read_text()


def test_a_cli_write_waits_for_another_write_and_says_for_whom(mapped_atlas, tmp_path):
    release = tmp_path / "release"
    writer = _holder(mapped_atlas, release)
    cli = subprocess.Popen([CLI, "token", "create", "--role", "editor", "--atlas", str(mapped_atlas)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = cli.stderr.readline()
    assert f"process {writer.pid}" in line and "waits for it to finish" in line, line
    assert cli.poll() is None
    release.touch()
    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0 and out.startswith("ca_"), err
    assert writer.wait(60) == 0


FOREIGN = """
import sys, time
from pathlib import Path
import duckdb
con = duckdb.connect(sys.argv[1])  # a program that takes no clusteratlas lock
print("holding", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.05)
con.close()
"""


def test_a_file_held_by_another_program_is_named_with_its_process(mapped_atlas, tmp_path):
    """A write fails saying which process holds the file and what to do; a read waits for it, saying so.
    Never 'expected a clusteratlas DuckDB file'."""
    release = tmp_path / "release"
    holder = _holder(mapped_atlas, release, FOREIGN)
    done = _cli("token", "create", "--role", "editor", "--atlas", mapped_atlas)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert f"process {holder.pid}" in message and "does not take clusteratlas's locks" in message, message
    assert "Let it finish or stop it" in message and "expected a clusteratlas DuckDB file" not in message
    reader = subprocess.Popen([CLI, "token", "list", "--atlas", str(mapped_atlas)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    line = reader.stderr.readline()
    assert f"process {holder.pid}" in line and "waiting" in line, line
    release.touch()
    listed, err = reader.communicate(timeout=120)
    assert reader.returncode == 0 and "No tokens" in listed, err
    assert holder.wait(60) == 0
