"""Shared fixtures: the real-data folder, the sample economy, a CLI runner."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest
from typer.testing import CliRunner

from clusteratlas import Atlas, generate_sample
from clusteratlas.cli import app

SHARED_DATA = Path(os.environ.get("CLUSTERATLAS_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; skip when it is absent outside CI, fail in CI."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared test data {path} is missing")
        pytest.skip(f"shared test data {path} is absent (outside CI only)")
    return path


@pytest.fixture(scope="session")
def sample():
    return generate_sample(7)


@pytest.fixture(scope="session")
def sample_files(sample, tmp_path_factory):
    return sample.write(tmp_path_factory.mktemp("sample"))


@pytest.fixture
def runner():
    return CliRunner(env={"COLUMNS": "200"})


def invoke(runner: CliRunner, *args: str):
    """Run the CLI in-process; return the result (exit_code, stdout, stderr)."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def mapped_atlas(tmp_path, sample_files):
    """A sample atlas with regions, custom regions, definitions, observations and results."""
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.map(levels=["state", "custom"])
    return path


def rate_template(template: Path, *, assessed_on: str | None = None) -> None:
    """Fill an `assess template` CSV as an assessor would: one ◎, one ○ and one △ per column (the
    framework's rule), the rest blank; ``assessed_on`` also sets every row's date."""
    with open(template, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[str, int] = {}
    for r in rows:
        n = seen[r["column"]] = seen.get(r["column"], -1) + 1
        r["value"] = ("◎", "○", "△", "")[min(n, 3)]
        if assessed_on is not None:
            r["assessed_on"] = assessed_on
    with open(template, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def query_atlas(path: Path, sql: str) -> list[tuple]:
    """Rows of a query on an atlas file, opened read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def atlas_fingerprint(path: Path) -> str:
    """A digest of every row of every table, to prove an atlas did not change."""
    con = duckdb.connect(str(path), read_only=True)
    digest = hashlib.sha256()
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    for table in tables:
        rows = con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
        digest.update(f"{table}:{rows!r}".encode())
    con.close()
    return digest.hexdigest()


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support and counts requests."""

    requests: ClassVar[list[str]] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        type(self).requests.append(self.headers.get("Range") or "")
        path = self.translate_path(self.path.split("?")[0])
        try:
            data = open(path, "rb").read()  # noqa: SIM115
        except OSError:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    monkeypatch.setenv("CLUSTERATLAS_CACHE", str(tmp_path / "cache"))
    RangeHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def cbp2019_inputs(folder: Path) -> tuple[Path, Path]:
    """CBP 2019 by CBSA (933 metros and micros × six-digit NAICS 2017) as ``obs.parquet`` and the benchmark
    definition (NAICS → cluster, type, subcluster; the crosswalk in ../shared/data/clusters) as
    ``crosswalk.csv``, both in ``folder``; the inputs of every real-data test of a US atlas."""
    import duckdb

    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    crosswalk = shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv")
    obs, definitions = folder / "obs.parquet", folder / "crosswalk.csv"
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT cbsa_code AS region, naics_code AS industry, year, emp AS employment,
            est AS establishments FROM read_csv('{cbp}', types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}})
            WHERE naics_level = 6) TO '{obs}'""")
        con.execute(f"""COPY (SELECT NAICS AS industry, Cluster AS cluster, lower(TradedLocal) AS type,
            SubclusterName AS subcluster FROM read_csv('{crosswalk}', types={{'NAICS': 'VARCHAR'}})
            WHERE Cluster IS NOT NULL) TO '{definitions}' (HEADER)""")
    return obs, definitions


def cbp2019_atlas(folder: Path, name: str = "cbp.duckdb") -> Path:
    """An atlas ``folder/name`` of :func:`cbp2019_inputs`, mapped with the benchmark definition (also the
    benchmarks' real-data atlas)."""
    obs, definitions = cbp2019_inputs(folder)
    path = folder / name
    with Atlas(path, create=True) as atlas:
        atlas.import_file("definitions", definitions, name="benchmark")
        atlas.import_file("observations", obs, name="cbp2019")
        atlas.map()
    return path


@pytest.fixture(scope="session")
def cbp2019_built(tmp_path_factory) -> Path:
    """The atlas of :func:`cbp2019_atlas`, built once per test session (its map is the costly part; the inputs
    ``obs.parquet`` and ``crosswalk.csv`` lie beside it). Tests that only read it share it; a test that writes
    works on its own copy (:func:`copy_atlas`)."""
    return cbp2019_atlas(tmp_path_factory.mktemp("cbp2019"))


def copy_atlas(source: Path, folder: Path, name: str = "cbp.duckdb") -> Path:
    """A private copy ``folder/name`` of the atlas file ``source`` (closed, so one file holds it all)."""
    target = folder / name
    shutil.copyfile(source, target)
    return target
