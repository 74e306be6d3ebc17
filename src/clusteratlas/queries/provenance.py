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

from clusteratlas.metrics.run import MapRun, years_text
from clusteratlas.queries._core import TableResult, tables
from clusteratlas.store.runs import latest_run, load_runs


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
    """What every API answer names: the atlas, the map run whose results it holds (read back as stored, its
    spec included), and the source files behind it."""

    atlas: str
    version: str
    last_modified: str
    map_run: MapRun | None
    sources: list[SourceFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"atlas": self.atlas, "version": self.version, "last_modified": self.last_modified,
                "map_run": None if self.map_run is None else public_run(self.map_run),
                "sources": [asdict(s) for s in self.sources]}


def public_run(run: MapRun) -> dict[str, Any]:
    """A run as answers show it: :meth:`MapRun.to_dict`, its input files named without their folders (a stateless
    run's paths would show where a server keeps its files)."""
    out = run.to_dict()
    files = out["spec"].get("files")
    if files:
        for key in ("data", "definitions", "reference_totals"):
            if files.get(key):
                files[key] = Path(files[key].rstrip("/")).name
    return out


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
    """The map run whose results are in the atlas now, as stored (:func:`clusteratlas.store.runs.latest_run`)."""
    return latest_run(con)


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
    """Every map run, newest first: what it was asked (``spec``, JSON) and what it produced."""
    import pyarrow as pa

    runs = load_runs(con)
    rows = [{"run_id": r.run_id, "run_at": r.run_at, "engine": r.engine, "definition": r.definition,
             "levels": ", ".join(r.levels), "years": years_text(list(r.years)), "reference": r.reference,
             "reference_label": r.reference_label, "reference_employment": r.reference_employment,
             "clusters": r.cluster_rows, "regions": json.dumps(r.regions), "unmapped_industries": r.unmapped_industries,
             "unmapped_employment": r.unmapped_employment, "mapped_share": r.mapped_share,
             "levels_kept": ", ".join(r.levels_kept), "levels_replaced": ", ".join(r.levels_replaced),
             "levels_dropped": ", ".join(r.levels_dropped), "legacy": r.legacy,
             "spec": json.dumps(public_run(r)["spec"])}
            for r in runs]
    schema = pa.schema([("run_id", pa.string()), ("run_at", pa.string()), ("engine", pa.string()),
                        ("definition", pa.string()), ("levels", pa.string()), ("years", pa.string()),
                        ("reference", pa.string()), ("reference_label", pa.string()),
                        ("reference_employment", pa.float64()), ("clusters", pa.int64()), ("regions", pa.string()),
                        ("unmapped_industries", pa.int64()), ("unmapped_employment", pa.float64()),
                        ("mapped_share", pa.float64()), ("levels_kept", pa.string()), ("levels_replaced", pa.string()),
                        ("levels_dropped", pa.string()), ("legacy", pa.bool_()), ("spec", pa.string())])
    return TableResult(pa.Table.from_pylist(rows, schema=schema), {"runs": len(rows)})


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
