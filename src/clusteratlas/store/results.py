"""Loading results computed elsewhere (``map --engine spark``) into an atlas.

A results folder (:data:`clusteratlas.engines.spark.RESULT_PARTS`) holds one
Parquet dataset per results table and a one-row ``run`` dataset with the
run's parameters, written last. Importing it replaces the atlas's results
exactly as a ``map`` run does (one transaction, recorded in ``map_runs``
and the import log), so ``show``, the API and the pages read it unchanged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from clusteratlas._sql import scalar
from clusteratlas.errors import InputError
from clusteratlas.metrics import CLUSTER_COLUMNS, REGION_COLUMNS

if TYPE_CHECKING:
    from clusteratlas.store.atlas import Atlas, ImportReport

#: Must match clusteratlas.engines.spark.RESULTS_FORMAT (not imported: that module needs no PySpark, but
#: keeping the store free of engine imports keeps import results working without the extra).
RESULTS_FORMAT = 1
_PARTS = {"clusters": ("results_clusters", CLUSTER_COLUMNS),
          "regions": ("results_regions", REGION_COLUMNS),
          "unmapped": ("results_unmapped", ("industry", "employment", "rows"))}


def _dataset(folder: Path, part: str) -> str:
    files = sorted((folder / part).glob("*.parquet")) if (folder / part).is_dir() else []
    if not files:
        raise InputError(f"the results folder has no {part} data", file=str(folder / part),
                         expected="a folder written by 'clusteratlas map --engine spark'",
                         hint="copy the whole folder from the cluster (e.g. hdfs dfs -get, aws s3 sync)")
    return "read_parquet(" + repr([str(f) for f in files]) + ")"


def import_results(atlas: Atlas, folder: str | Path, *, name: str | None = None,
                   dry_run: bool = False) -> ImportReport:
    """Check a results folder and make it the atlas's current results, all or nothing.

    ``name`` is the definition the results were mapped with, as imported in
    the atlas (for cluster names); default: the definition file's stem.
    """
    from clusteratlas.store.atlas import ImportReport

    folder = Path(folder)
    con = atlas.con
    if not (folder / "run").is_dir():
        raise InputError("not a complete results folder (no 'run' part: the map did not finish, or this is "
                         "another kind of folder)", file=str(folder),
                         expected="a folder written by 'clusteratlas map --engine spark'")
    manifest_text = scalar(con, f"SELECT manifest FROM {_dataset(folder, 'run')} LIMIT 1")
    manifest = json.loads(manifest_text)
    if manifest.get("format") != RESULTS_FORMAT:
        raise InputError("results folder of another clusteratlas version", file=str(folder / "run"),
                         value=manifest.get("format"), expected=f"format {RESULTS_FORMAT}")
    sources = {}
    for part, (_table, columns) in _PARTS.items():
        source = _dataset(folder, part)
        found = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        missing = [c for c in columns if c not in found]
        if missing:
            raise InputError(f"the {part} data lack columns", file=str(folder / part), column=", ".join(missing),
                             expected=", ".join(columns))
        sources[part] = source
    rows = int(scalar(con, f"SELECT count(*) FROM {sources['clusters']}"))
    if rows != manifest.get("clusters"):
        raise InputError("the clusters data do not have the rows the run wrote (a part is missing or extra)",
                         file=str(folder / "clusters"), value=rows, expected=str(manifest.get("clusters")))
    definition = name or Path(str(manifest["definition"]).rstrip("/")).name.split(".")[0]
    report = ImportReport("results", definition, str(folder), rows, dry_run=dry_run,
                          notes=[f"computed by {manifest.get('engine')}; LQ reference economy: "
                                 f"{manifest.get('reference')}"])
    if dry_run:
        return report
    reference = str(manifest.get("reference", ""))
    spec = "totals" if reference.startswith("reference totals") else "observations"
    label = reference.removeprefix("observations: ")
    with atlas._transaction():
        for part, (table, columns) in _PARTS.items():
            cols = ", ".join(f'"{c}"' for c in columns)
            # clusters as a map run stores them (by level, year, region: the API's lookups skip row groups)
            order = {"unmapped": " ORDER BY employment DESC",
                     "clusters": " ORDER BY level, year, region, cluster, subcluster"}.get(part, "")
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {cols} FROM {sources[part]}{order}")
        for table in ("results_clusters", "results_regions"):
            con.execute(f"ALTER TABLE {table} ADD COLUMN reference_economy VARCHAR DEFAULT '{spec}'")
        last = scalar(con, "SELECT max(year) FROM results_regions")
        employment = (None if spec == "totals" else
                      scalar(con, "SELECT sum(employment) FROM results_regions WHERE year = ? AND level = 'region'",
                             [last]))
        con.execute(
            "INSERT INTO map_runs (run_at, definition, parameters, clusters, unmapped_employment, reference, "
            "reference_label, reference_employment) VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
            [definition, json.dumps(manifest.get("parameters")), rows, manifest.get("unmapped_employment"),
             spec, label, employment])
        con.execute("INSERT INTO imports VALUES (now(), 'results', ?, ?, ?, ?)",
                    [definition, str(folder.resolve()), rows, hashlib.sha256(manifest_text.encode()).hexdigest()])
    return report
