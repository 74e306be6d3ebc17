"""Map runs in the atlas: each :class:`~clusteratlas.metrics.run.MapRun` stored once, read back whole.

``map_runs`` holds one row per run: its spec and its outcome as JSON
(``spec``, ``outcome``), plus the columns older clusteratlas versions and
plain SQL read (definition, parameters, rows, the reference economy …),
written from the same value. A row written before the spec was stored
(schema 1 and 2) is read back as a run marked ``legacy``: what it recorded
is shown, nothing is guessed, and it cannot be replayed.

The readers take the columns a table has, so an atlas that an older
version made, served read-only (no migration), still answers.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from clusteratlas.metrics.run import MapRun, MapSpec, params_from_dict

#: What a run recorded before clusteratlas recorded its reference economy (schema 1) says about it.
UNRECORDED_REFERENCE = "per level (before clusteratlas recorded it)"


def save_run(con: duckdb.DuckDBPyConnection, run: MapRun) -> None:
    """Append ``run`` to ``map_runs`` (inside the caller's transaction)."""
    outcome = run.to_dict()
    spec = outcome.pop("spec")
    con.execute(
        "INSERT INTO map_runs (run_at, definition, parameters, clusters, unmapped_employment, reference, "
        "reference_label, reference_employment, outside_regions, outside_employment, run_id, spec, outcome) "
        "VALUES (CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run.run_at, run.definition, json.dumps(spec["params"]), run.cluster_rows, run.unmapped_employment,
         run.reference, run.reference_label, run.reference_employment, run.outside_regions,
         run.outside_employment, run.run_id, json.dumps(spec), json.dumps(outcome)])


def clock(con: duckdb.DuckDBPyConnection) -> str:
    """The atlas's clock now, as ``map_runs.run_at`` records it (ISO 8601, to the microsecond)."""
    return con.execute("SELECT now()::TIMESTAMP").fetchall()[0][0].isoformat()


def load_runs(con: duckdb.DuckDBPyConnection, *, limit: int | None = None) -> list[MapRun]:
    """The atlas's map runs, newest first (all, or the ``limit`` newest)."""
    names = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'map_runs' AND schema_name = 'main' "
        "AND database_name = current_database()").fetchall()}
    if not names:
        return []
    cursor = con.execute(f"SELECT * FROM map_runs ORDER BY run_at DESC{f' LIMIT {int(limit)}' if limit else ''}")
    columns = [d[0] for d in cursor.description]
    return [_from_row(dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def latest_run(con: duckdb.DuckDBPyConnection) -> MapRun | None:
    """The run whose results the atlas holds now, or None before any."""
    runs = load_runs(con, limit=1)
    return runs[0] if runs else None


def _from_row(row: dict[str, Any]) -> MapRun:
    if row.get("spec") and row.get("outcome"):
        return MapRun.from_dict({**json.loads(row["outcome"]), "spec": json.loads(row["spec"])})
    return _legacy(row)


def _legacy(row: dict[str, Any]) -> MapRun:
    """A run recorded before the spec was: what its row says, marked legacy."""
    run_at = row.get("run_at")
    reference = row.get("reference")
    spec = MapSpec(definition=row.get("definition"), params=params_from_dict(json.loads(row.get("parameters") or "{}")),
                   reference=reference)
    return MapRun(
        spec=spec, run_id=None, run_at=run_at.isoformat() if isinstance(run_at, datetime) else str(run_at or ""),
        engine="", cluster_rows=int(row.get("clusters") or 0), regions={}, years=(), unmapped_industries=None,
        unmapped_employment=float(row.get("unmapped_employment") or 0.0), mapped_share=None,
        reference_label=(row.get("reference_label") or "") if reference is not None else UNRECORDED_REFERENCE,
        reference_employment=row.get("reference_employment"), outside_regions=int(row.get("outside_regions") or 0),
        outside_employment=row.get("outside_employment"), legacy=True)
