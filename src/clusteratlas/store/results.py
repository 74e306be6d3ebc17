"""Loading results computed elsewhere (``map --engine spark``) into an atlas.

A results folder (:data:`clusteratlas.engines.spark.RESULT_PARTS`) holds one
Parquet dataset per results table and a one-row ``run`` dataset, written
last, with the :class:`~clusteratlas.metrics.run.MapRun` that made them.
Importing it replaces the atlas's results exactly as a ``map`` run does
(one transaction, the run recorded in ``map_runs`` and the import log), so
``show``, the API and the pages read it unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from clusteratlas._sql import plain_connect, scalar
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.metrics import CLUSTER_COLUMNS, REGION_COLUMNS
from clusteratlas.metrics.run import MapRun, MapSpec, params_from_dict
from clusteratlas.queries.answers import store_answers
from clusteratlas.store.runs import clock, latest_run, save_run

if TYPE_CHECKING:
    from clusteratlas.store.atlas import Atlas, ImportReport

#: Must match clusteratlas.engines.spark.RESULTS_FORMAT (not imported: that module needs no PySpark, but
#: keeping the store free of engine imports keeps import results working without the extra).
RESULTS_FORMAT = 2
#: Folders of format 1 recorded the parameters and the reference economy in words, not the spec: still read,
#: their run marked legacy.
READABLE_FORMATS = (1, RESULTS_FORMAT)
_PARTS = {"clusters": ("results_clusters", CLUSTER_COLUMNS),
          "regions": ("results_regions", REGION_COLUMNS),
          "unmapped": ("results_unmapped", ("industry", "employment", "rows"))}


def _dataset(folder: Path, part: str) -> str:
    files = sorted((folder / part).glob("*.parquet")) if (folder / part).is_dir() else []
    if not files:
        raise InputError(_("the results folder has no {part} data").format(part=part), file=str(folder / part),
                         expected=_("a folder written by 'clusteratlas map --engine spark'"),
                         hint=_("copy the whole folder from the cluster (e.g. hdfs dfs -get, aws s3 sync)"))
    return "read_parquet(" + repr([str(f) for f in files]) + ")"


def _manifest(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[str, dict]:
    if not (folder / "run").is_dir():
        raise InputError(_("not a complete results folder (no 'run' part: the map did not finish, or this is "
                         "another kind of folder)"), file=str(folder),
                         expected=_("a folder written by 'clusteratlas map --engine spark'"))
    text = scalar(con, f"SELECT manifest FROM {_dataset(folder, 'run')} LIMIT 1")
    manifest = json.loads(text)
    if manifest.get("format") not in READABLE_FORMATS:
        raise InputError(_("results folder of another clusteratlas version"), file=str(folder / "run"),
                         value=manifest.get("format"), expected=_("format {value}").format(value=' or '.join(map(str,
                                                                                                                 READABLE_FORMATS))))
    return text, manifest


def read_run(folder: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> MapRun:
    """The map run a results folder records (a folder of format 1: a legacy run, its spec partly known)."""
    own = con is None
    con = con or plain_connect()
    try:
        _, manifest = _manifest(con, Path(folder))
    finally:
        if own:
            con.close()
    if manifest["format"] == RESULTS_FORMAT:
        return MapRun.from_dict(manifest["run"])
    reference = str(manifest.get("reference", ""))
    spec = MapSpec(definition=Path(str(manifest.get("definition", "")).rstrip("/")).name.split(".")[0],
                   params=params_from_dict(manifest.get("parameters") or {}),
                   reference="totals" if reference.startswith("reference totals") else "observations")
    return MapRun(spec=spec, run_id=None, run_at="", engine=str(manifest.get("engine", "")),
                  cluster_rows=int(manifest.get("clusters") or 0), regions={}, years=(), unmapped_industries=None,
                  unmapped_employment=float(manifest.get("unmapped_employment") or 0.0), mapped_share=None,
                  reference_label=reference.removeprefix("observations: "), legacy=True)


def import_results(atlas: Atlas, folder: str | Path, *, name: str | None = None,
                   dry_run: bool = False) -> ImportReport:
    """Check a results folder and make it the atlas's current results, all or nothing.

    ``name`` is the definition the results were mapped with, as imported in
    the atlas (for cluster names); default: the definition file's stem. The
    run is recorded with that definition and the time of the import.
    """
    from clusteratlas.store.atlas import ImportReport

    folder = Path(folder)
    con = atlas.con
    manifest_text, _hash = _manifest(con, folder)
    run = read_run(folder, con)
    sources = {}
    for part, (_table, columns) in _PARTS.items():
        source = _dataset(folder, part)
        found = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        missing = [c for c in columns if c not in found]
        if missing:
            raise InputError(_("the {part} data lack columns").format(part=part), file=str(folder / part),
                             column=", ".join(missing),
                             expected=", ".join(columns))
        sources[part] = source
    rows = int(scalar(con, f"SELECT count(*) FROM {sources['clusters']}"))
    if rows != run.cluster_rows:
        raise InputError(_("the clusters data do not have the rows the run wrote (a part is missing or extra)"),
                         file=str(folder / "clusters"), value=rows, expected=str(run.cluster_rows))
    definition = name or run.definition
    report = ImportReport("results", definition, str(folder), rows, dry_run=dry_run,
                          notes=[f"computed by {run.engine}; LQ reference economy: {run.reference}: "
                                 f"{run.reference_label}"])
    if dry_run:
        return report
    spec = run.reference
    with atlas._transaction():
        for part, (table, columns) in _PARTS.items():
            cols = ", ".join(f'"{c}"' for c in columns)
            # clusters as a map run stores them (by level, year, region: the API's lookups skip row groups)
            order = {"unmapped": " ORDER BY employment DESC",
                     "clusters": " ORDER BY level, year, region, cluster, subcluster"}.get(part, "")
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {cols} FROM {sources[part]}{order}")
        for table in ("results_clusters", "results_regions"):
            con.execute(f"ALTER TABLE {table} ADD COLUMN reference_economy VARCHAR DEFAULT '{spec}'")
        employment = run.reference_employment
        if employment is None and spec == "observations":
            last = scalar(con, "SELECT max(year) FROM results_regions")
            employment = scalar(con, "SELECT sum(employment) FROM results_regions WHERE year = ? AND level = 'region'",
                                [last])
        save_run(con, dataclasses.replace(run, spec=dataclasses.replace(run.spec, definition=definition),
                                          run_at=clock(con), reference_employment=employment))
        con.execute("INSERT INTO imports VALUES (now(), 'results', ?, ?, ?, ?)",
                    [definition, str(folder.resolve()), rows, hashlib.sha256(manifest_text.encode()).hexdigest()])
        store_answers(con, latest_run(con).run_id)  # as a map run here does: the common questions answered now
    return report
