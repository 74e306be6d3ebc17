"""Commands that bring data in and out: init, import, export, fetch, sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TextColumn

from clusteratlas.cli._common import (
    AtlasOpt,
    NaceLevelOpt,
    NutsLevelOpt,
    app,
    err,
    fails_cleanly,
    format_options,
    out,
    recode_option,
    step,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.model import TABLES
from clusteratlas.sample import generate_sample
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas
from clusteratlas.store.schema import EXPORTABLE


@app.command()
@fails_cleanly
def init(atlas: AtlasOpt = DEFAULT_PATH,
         force: Annotated[bool, typer.Option(help="Replace an existing atlas file.")] = False) -> None:
    """Create an empty atlas (a DuckDB file; no server needed)."""
    if atlas.exists():
        if not force:
            raise ClusterAtlasError(f"{atlas} already exists; pass --force to replace it")
        atlas.unlink()
    Atlas(atlas, create=True).close()
    out.print(f"Created atlas [bold]{atlas}[/]")

@app.command("import")
@fails_cleanly
def import_(kind: Annotated[str, typer.Argument(help=f"What the file holds: {', '.join(TABLES)}; or results (a "
                                                 "folder written by 'map --engine spark').")],
            file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or Shift_JIS), Parquet or Excel file.")],
            atlas: AtlasOpt = DEFAULT_PATH,
            name: Annotated[str | None, typer.Option(help="Dataset or definition name (default: file name).")]
            = None,
            map_: Annotated[list[str] | None, typer.Option("--map", help="Column mapping CANONICAL=YOURS, "
                                                           "repeatable (e.g. --map employment=EMP).")] = None,
            encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detect UTF-8/CP932).")]
            = None,
            replace: Annotated[bool, typer.Option(help="Replace a dataset, definition or indicator of the same "
                                                  "name; for weights, replace every stored link (without it "
                                                  "links are added, same pairs updated).")]
            = False,
            strict: Annotated[bool, typer.Option(help="Refuse the file if it has region codes in no region system "
                                                 "of the atlas (observations, indicators, custom regions), or "
                                                 "reference totals for years without observations.")] = False,
            drop_unknown: Annotated[bool, typer.Option(help="weights: leave out (and list) rows naming regions "
                                                       "the atlas does not hold, instead of refusing the "
                                                       "file.")] = False,
            dry_run: Annotated[bool, typer.Option(help="Check the file and report; store nothing.")] = False,
            file_format: Annotated[str, typer.Option("--format", help="generic; observations: cbp (US County "
                                                     "Business Patterns), qcew (BLS QCEW annual averages), "
                                                     "eurostat (TSV, wide CSV, SDMX-CSV), "
                                                     "estat (e-Stat API JSON), estat-csv (e-Stat CSV), wide (a "
                                                     "column per industry); industries: jsic; regions: "
                                                     "us-regions (OMB delineations), bea-ea (BEA economic "
                                                     "areas), nuts (GISCO GeoJSON), jp-municipalities (Kondo's "
                                                     "converter), estat; weights: geojson, topojson, shapefile "
                                                     "(neighbours from map geometry).")]
            = "generic",
            year: Annotated[int | None, typer.Option(help="Reference year, for CBP files without a year "
                                                     "column; census year for jp-municipalities.")] = None,
            digits: Annotated[int, typer.Option(help="NAICS digits to keep from a CBP or QCEW file.")] = 6,
            filter_: Annotated[list[str] | None, typer.Option("--filter", help="Eurostat dimension=value or "
                                                              "e-Stat class=code, repeatable (e.g. age=Y15-64; "
                                                              "industry=cat02 picks e-Stat's industry class).")]
            = None,
            nuts_level: NutsLevelOpt = None, nace_level: NaceLevelOpt = None,
            prefix: Annotated[str | None, typer.Option(help="wide: prefix of the value columns (e.g. SEmp_).")]
            = None,
            establishments_prefix: Annotated[str | None, typer.Option(help="wide: prefix of establishment "
                                                                        "columns.")] = None,
            totals_prefix: Annotated[str | None, typer.Option(help="wide: prefix of total columns to check the "
                                                            "details against.")] = None,
            region_column: Annotated[str | None, typer.Option(help="wide: the region column (default: the "
                                                            "first).")] = None,
            recode: Annotated[Path | None, typer.Option(help="observations: convert region codes through this "
                                                        "concordance (e.g. NUTS 2013 → 2016); unlisted regions "
                                                        "keep their code.")] = None,
            recode_columns: Annotated[str | None, typer.Option(help="Columns of --recode: SOURCE,TARGET[,WEIGHT] "
                                                               "(default: the first two named …code…).")]
            = None,
            layer: Annotated[str | None, typer.Option(help="topojson: the layer (object) to read.")] = None,
            id_property: Annotated[str | None, typer.Option(help="geojson/topojson/shapefile: the property "
                                                            "holding region ids (default: the feature id, "
                                                            "NUTS_ID or GEOID).")] = None,
            ) -> None:
    """Check a file completely and store it in the atlas, all or nothing."""
    if kind == "results":
        from clusteratlas.store.results import import_results

        with Atlas(atlas) as a, step(f"Importing results from {file}"):
            report = import_results(a, file, name=name, dry_run=dry_run)
        verb = "Checked (dry run, nothing stored)" if dry_run else "Imported"
        out.print(f"{verb} {report.rows:,} region × cluster results from {file} (definition '{report.name}').")
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)
        return
    if kind not in TABLES:
        raise ClusterAtlasError(f"unknown kind {kind!r}; expected one of {', '.join(TABLES)}")
    with Atlas(atlas) as a, step(f"Importing {file}"):
        report = a.import_file(kind, file, name=name, mapping=parse_mapping(map_), encoding=encoding,
                               replace=replace, dry_run=dry_run, file_format=file_format,
                               options={**format_options(file_format, year, digits, filter_, {
                                   "prefix": prefix, "establishments_prefix": establishments_prefix,
                                   "totals_prefix": totals_prefix, "region_column": region_column,
                                   "layer": layer, "id_property": id_property}, kind,
                                   nuts_level=nuts_level, nace_level=nace_level),
                                   **recode_option(recode, recode_columns)},
                               strict=strict, drop_unknown=drop_unknown)
    verb = "Checked (dry run, nothing stored)" if dry_run else "Imported"
    label = f" as '{report.name}'" if report.name else ""
    replaced = f", replacing {report.replaced:,} rows" if report.replaced else ""
    out.print(f"{verb} {report.rows:,} {kind} rows from {file}{label}{replaced}.")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False)

@app.command()
@fails_cleanly
def export(what: Annotated[str, typer.Argument(help=f"One of: {', '.join(EXPORTABLE)}.")],
           file: Annotated[Path, typer.Argument(help="Output .csv, .parquet or .xlsx.")],
           atlas: AtlasOpt = DEFAULT_PATH) -> None:
    """Export a table of the atlas to CSV, Parquet or Excel."""
    with Atlas(atlas) as a, step(f"Exporting {what}"):
        n = a.export(what, file)
    out.print(f"Wrote {n:,} rows to {file}")

@app.command()
@fails_cleanly
def fetch(source: Annotated[str, typer.Argument(help="cbp, qcew, eurostat, estat (JSON), estat-csv, cmp (US benchmark "
                                                 "cluster definitions), naics-concordance, gisco (NUTS "
                                                 "GeoJSON) or census-geo (cartographic boundary "
                                                 "shapefiles).")],
          dataset: Annotated[str | None, typer.Argument(help="Eurostat dataset code (e.g. sbs_r_nuts06_r2), or "
                                                        "the NAICS concordance step (e.g. 2012-2017).")]
          = None,
          year: Annotated[int | None, typer.Option(help="CBP reference year, or NUTS version year.")] = None,
          level: Annotated[str, typer.Option(help="CBP level: state, county, metro, national; NUTS level 0-3; "
                                             "census-geo: state, county, cbsa.")] = "metro",
          table: Annotated[str | None, typer.Option(help="e-Stat statsDataId.")] = None,
          app_id: Annotated[str | None, typer.Option(help="e-Stat application ID.")] = None,
          base_url: Annotated[str | None, typer.Option(help="Use another server (a mirror, or a test server).")]
          = None,
          sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 of the file.")] = None,
          into: Annotated[Path | None, typer.Option("--import", help="Also import the file into this atlas.")]
          = None, nuts_level: NutsLevelOpt = None, nace_level: NaceLevelOpt = None) -> None:
    """Download an official file into the local cache (resumable, checksummed), optionally importing it."""
    from rich.progress import BarColumn, DownloadColumn, TransferSpeedColumn

    from clusteratlas.sources.download import fetch as download
    from clusteratlas.sources.download import source_url, unpack

    url = source_url(source, base=base_url, year=year, level=level, dataset=dataset, table=table, app_id=app_id)
    name = {"eurostat": f"{dataset}.tsv", "estat": f"estat_{table}.json", "estat-csv": f"estat_{table}.csv",
            "cmp": "cmp_clusters.json"}.get(source)
    if (nuts_level is not None or nace_level is not None) and (source != "eurostat" or into is None):
        raise ClusterAtlasError("--nuts-level and --nace-level work with 'fetch eurostat … --import ATLAS'")
    if into is not None and source not in ("cbp", "qcew", "eurostat", "estat", "estat-csv"):
        raise ClusterAtlasError(f"--import works for observations (cbp, qcew, eurostat, estat); load {source} files "
                                "with 'clusteratlas reference us-benchmark' or 'clusteratlas carry'")
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"Downloading {source}", total=None)
        got = download(url, name=name, expected_sha256=sha256,
                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    path = got.path if source == "census-geo" else unpack(got.path, discard_bad=True)  # a shapefile stays zipped
    state = ("downloaded again: the cached copy no longer matched its checksum" if got.repaired
             else "downloaded" if got.downloaded else "from the cache, checksum verified")
    out.print(f"{path} ({got.size:,} bytes, {state}; sha256 {got.sha256})")
    if into is not None:
        file_format = source
        with Atlas(into, create=not into.exists()) as a:
            report = a.import_file("observations", path, file_format=file_format, replace=True,
                                   options={"year": year} if source == "cbp" else
                                   format_options(source, year, 6, None, nuts_level=nuts_level,
                                                   nace_level=nace_level) if source == "eurostat" else None)
        out.print(f"Imported {report.rows:,} observations into {into} as '{report.name}'.")
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)

@app.command()
@fails_cleanly
def sample(folder: Annotated[Path, typer.Argument(help="Where to write the sample CSV files.")],
           seed: Annotated[int, typer.Option(help="Random seed.")] = 7) -> None:
    """Write the synthetic sample economy (with planted clusters) as CSV files."""
    paths = generate_sample(seed).write(folder)
    for kind, path in paths.items():
        out.print(f"{kind:15} {path}")
