"""Where an answer comes from: the atlas, its map runs and the source files imported."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from clusteratlas.queries._core import TableResult, tables


@dataclass
class MapRun:
    """One map run: the definition, its parameters, the reference economy, when."""

    run_at: str
    definition: str
    parameters: dict[str, Any]
    reference_economy: str
    clusters: int | None
    unmapped_employment: float | None


@dataclass
class SourceFile:
    """One imported file, with its checksum."""

    kind: str
    name: str | None
    file: str
    rows: int
    sha256: str
    imported_at: str


@dataclass
class Provenance:
    """What every API answer names: the atlas, its latest map run, and the source files behind it."""

    atlas: str
    version: str
    last_modified: str
    map_run: MapRun | None
    sources: list[SourceFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def atlas_stamp(path: str | os.PathLike[str]) -> tuple[str, datetime]:
    """A version string and a last-change time of an atlas file (the file and its write-ahead log).

    Cheap (two ``stat`` calls), so every request can answer ETag and
    Last-Modified; any committed change moves it.
    """
    path = Path(path)
    stamps = []
    for p in (path, Path(str(path) + ".wal")):
        try:
            st = p.stat()
            stamps.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((0, 0))
    newest = max(s[0] for s in stamps) / 1e9
    version = hashlib.sha256(f"{path.resolve()}|{stamps}".encode()).hexdigest()[:16]
    return version, datetime.fromtimestamp(newest, UTC).replace(microsecond=0)


def latest_map_run(con: duckdb.DuckDBPyConnection) -> MapRun | None:
    """The map run whose results are in the atlas now, or None."""
    rows = con.execute("SELECT run_at, definition, parameters, clusters, unmapped_employment FROM map_runs "
                       "ORDER BY run_at DESC LIMIT 1").fetchall()
    if not rows:
        return None
    run_at, definition, parameters, clusters, unmapped = rows[0]
    has_reference = con.execute("SELECT count(*) FROM reference_totals").fetchall()[0][0] > 0
    reference = ("reference totals imported into the atlas (reference_totals)" if has_reference
                 else "the sum of all observed regions in the atlas")
    return MapRun(run_at.isoformat() if run_at else "", definition, json.loads(parameters or "{}"), reference,
                  clusters, unmapped)


def source_files(con: duckdb.DuckDBPyConnection) -> list[SourceFile]:
    """Every import, oldest first (the file is named without its folder: no server paths leak)."""
    rows = con.execute("SELECT kind, name, file, rows, sha256, imported_at FROM imports ORDER BY imported_at"
                       ).fetchall()
    return [SourceFile(k, n, Path(f or "").name, int(r or 0), s or "", t.isoformat() if t else "")
            for k, n, f, r, s, t in rows]


def provenance(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str]) -> Provenance:
    """The provenance of answers from the atlas at ``path``."""
    version, modified = atlas_stamp(path)
    return Provenance(Path(path).name, version, modified.isoformat(), latest_map_run(con), source_files(con))


def map_runs(con: duckdb.DuckDBPyConnection) -> TableResult:
    """Every map run, newest first."""
    table = con.sql("SELECT run_at, definition, parameters, clusters, unmapped_employment FROM map_runs "
                    "ORDER BY run_at DESC").to_arrow_table()
    return TableResult(table, {"runs": table.num_rows})


def imports(con: duckdb.DuckDBPyConnection) -> TableResult:
    """Every import (kind, name, file name, rows, SHA-256, when), oldest first."""
    table = con.sql("SELECT imported_at, kind, name, regexp_extract(file, '[^/\\\\]*$') AS file, rows, sha256 "
                    "FROM imports ORDER BY imported_at").to_arrow_table()
    return TableResult(table, {"imports": table.num_rows})


def writes(con: duckdb.DuckDBPyConnection) -> TableResult:
    """Every write made through the API (who, when, what, checksum), newest first."""
    if "api_writes" not in tables(con):
        import pyarrow as pa

        return TableResult(pa.table({"written_at": pa.array([], pa.timestamp("us")), "token": pa.array([], pa.string()),
                                     "name": pa.array([], pa.string()), "role": pa.array([], pa.string()),
                                     "action": pa.array([], pa.string()), "detail": pa.array([], pa.string()),
                                     "sha256": pa.array([], pa.string())}), {"writes": 0})
    table = con.sql("SELECT * FROM api_writes ORDER BY written_at DESC").to_arrow_table()
    return TableResult(table, {"writes": table.num_rows})
