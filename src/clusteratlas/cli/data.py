"""Commands that bring data in and out: init, import, export, fetch, sample."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn

from clusteratlas.cli._common import (
    AtlasOpt,
    BomOpt,
    NaceLevelOpt,
    NutsLevelOpt,
    TimingsOpt,
    app,
    err,
    fails_cleanly,
    format_options,
    out,
    rate,
    recode_option,
    records_timings,
    step,
    year_parser,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
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
            raise ClusterAtlasError(_("{atlas} already exists; pass --force to replace it").format(atlas=atlas))
        atlas.unlink()
    Atlas(atlas, create=True).close()
    out.print(_("Created atlas [bold]{atlas}[/]").format(atlas=atlas))

@app.command("import")
@fails_cleanly
@records_timings("import {kind}")
def import_(kind: Annotated[str, typer.Argument(help=f"What the file holds: {', '.join(TABLES)}, geometry; or "
                                                  "results (a folder written by 'map --engine spark').")],
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
                                                     "column per industry), jp-census (an Economic Census table "
                                                     "by area × JSIC: national row → reference totals, cities "
                                                     "→ municipality level, letter columns kept as details); "
                                                     "industries: jsic; regions: "
                                                     "us-regions (OMB delineations), bea-ea (BEA economic "
                                                     "areas), nuts (GISCO GeoJSON), jp-municipalities (Kondo's "
                                                     "converter), estat; weights: geojson, topojson, shapefile "
                                                     "(neighbours from map geometry).")]
            = "generic",
            year: Annotated[int | None, typer.Option(
                parser=year_parser, metavar="YEAR", help="Reference year, for CBP files without a year "
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
            level: Annotated[str | None, typer.Option(help="geometry: the region level the shapes are for (e.g. "
                                                      "county, msa, nuts2).")] = None,
            simplify: Annotated[float, typer.Option(help="geometry: simplification tolerance in the file's "
                                                    "units (degrees for lon/lat; 0 keeps every point).")]
            = 0.01,
            unit: Annotated[str | None, typer.Option(help="observations: the unit of the employment column: "
                                                   "persons (the default; at most 10,000,000,000 in one cell) "
                                                   "or a unit of value such as USD, for a matrix of trade "
                                                   "values (no upper limit).")] = None,
            timings: TimingsOpt = False,
            ) -> None:
    """Check a file completely and store it in the atlas, all or nothing.

    'import geometry FILE --format topojson|geojson|shapefile --level LEVEL' stores simplified region shapes
    for the web maps (replacing that level's shapes); 'import geometry japanmap --format japanmap --level
    prefecture' stores Japan's prefectures from the outlines bundled with the package (also loaded by
    'reference jp-prefectures').
    """
    if kind == "results":
        from clusteratlas.store.results import import_results

        with Atlas(atlas) as a, step(f"Importing results from {file}"):
            report = import_results(a, file, name=name, dry_run=dry_run)
        verb = "Checked (dry run, nothing stored)" if dry_run else "Imported"
        out.print(f"{verb} {report.rows:,} region × cluster results from {file} (definition '{report.name}').")
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)
        return
    if kind == "geometry":
        from clusteratlas.store.geometry import import_geometry

        if not level:
            raise ClusterAtlasError(_("import geometry needs --level (the region level the shapes are for)"))
        with Atlas(atlas) as a, step(f"Importing {file}"):
            shapes = import_geometry(a.con, file, level=level, file_format="geojson" if file_format == "generic"
                                     else file_format, layer=layer, id_property=id_property, tolerance=simplify)
        out.print(f"Stored {shapes} shapes for level [bold]{escape(level)}[/] from {escape(str(file))}")
        return
    if kind not in TABLES:
        raise ClusterAtlasError(_("unknown kind {kind!r}; expected one of {value}").format(kind=kind,
                                                                                           value=', '.join(TABLES)))
    if kind == "reference-totals" and file_format in ("wide", "jp-census"):
        # a wide table's national row (00000, or the only row) holds the reference totals
        from clusteratlas.sources.jp_census import read_census, store_table

        table = read_census(file, year=year, **{k: v for k, v in {
            "prefix": prefix, "establishments_prefix": establishments_prefix,
            "region_column": region_column}.items() if v}, national_only=True)
        with Atlas(atlas) as a, step(f"Importing {file}"):
            report = store_table(a, "reference-totals", table.reference_totals, name or file.name.split(".")[0],
                                 dry_run=dry_run, strict=strict, replace=replace)
        report.file, report.notes[:0] = str(file), table.notes
        _print_import(report, kind, file, dry_run)
        return
    if file_format == "jp-census":
        if kind != "observations":
            raise ClusterAtlasError(_("--format jp-census reads observations (it also stores the table's regions, "
                                    "industries and national reference totals)"))
        from clusteratlas.sources.jp_census import import_census

        with Atlas(atlas) as a, step(f"Importing {file}"):
            census_options = {k: v for k, v in {"prefix": prefix, "establishments_prefix": establishments_prefix,
                                                "region_column": region_column}.items() if v}
            report = import_census(a, file, name=name, year=year, replace=replace, dry_run=dry_run, strict=strict,
                                   **census_options)[0]
    else:
        started = time.perf_counter()
        with Atlas(atlas) as a, step(f"Importing {file}", a.con):
            report = a.import_file(kind, file, name=name, mapping=parse_mapping(map_), encoding=encoding,
                                   replace=replace, dry_run=dry_run, file_format=file_format,
                                   options={**format_options(file_format, year, digits, filter_, {
                                       "prefix": prefix, "establishments_prefix": establishments_prefix,
                                       "totals_prefix": totals_prefix, "region_column": region_column,
                                       "layer": layer, "id_property": id_property}, kind,
                                       nuts_level=nuts_level, nace_level=nace_level),
                                       **recode_option(recode, recode_columns),
                                       **({"unit": unit} if unit is not None else {})},
                                   strict=strict, drop_unknown=drop_unknown)
        rate(report.rows, started)
    _print_import(report, kind, file, dry_run)


#: The kinds of table ``import`` takes, said in the current language in its report.
IMPORT_KINDS = ("observations", "definitions", "regions", "custom-regions", "industries", "reference-totals",
                "weights", "indicators")


def _print_import(report, kind: str, file: Path, dry_run: bool) -> None:
    verb = _("Checked (dry run, nothing stored)") if dry_run else _("Imported")
    label = _(" as '{name}'").format(name=report.name) if report.name else ""
    replaced = _(", replacing {rows:,} rows").format(rows=report.replaced) if report.replaced else ""
    from clusteratlas.report import Folded

    out.print(Folded(escape(_("{verb} {rows:,} {kind} rows from {file}{label}{replaced}.").format(
        verb=verb, rows=report.rows, kind=_(kind) if kind in IMPORT_KINDS else kind, file=file, label=label,
        replaced=replaced))))
    for note in report.notes:
        out.print(Folded("[yellow]" + _("note:") + f"[/] {escape(note)}"))

@app.command()
@fails_cleanly
def export(what: Annotated[str, typer.Argument(help=f"One of: {', '.join(EXPORTABLE)}.")],
           file: Annotated[Path, typer.Argument(help="Output .csv, .parquet or .xlsx.")],
           atlas: AtlasOpt = DEFAULT_PATH, bom: BomOpt = False,
           keep_formulas: Annotated[bool, typer.Option(
               "--keep-formulas", envvar="CLUSTERATLAS_CSV_KEEP_FORMULAS",
               help="Write CSV text cells as stored. By default a cell that begins with = + - @ (or a tab or "
                    "carriage return) gets a leading apostrophe, so that a spreadsheet shows it as text instead "
                    "of running it as a formula (names come from imported files). Excel files always keep text "
                    "as text.")] = False) -> None:
    """Export a table of the atlas to CSV, Parquet or Excel."""
    with Atlas(atlas, read_only=True) as a, step(f"Exporting {what}"):
        n = a.export(what, file, keep_formulas=keep_formulas)
    if bom:
        from clusteratlas.store.export import add_bom

        add_bom(file)
    out.print(_("Wrote {rows:,} rows to {file}").format(rows=n, file=file))

@app.command()
@fails_cleanly
def fetch(source: Annotated[str, typer.Argument(help="cbp, qcew, eurostat, estat (JSON), estat-csv, cmp (US benchmark "
                                                 "cluster definitions), naics-concordance, gisco (NUTS "
                                                 "GeoJSON), census-geo (cartographic boundary "
                                                 "shapefiles), bea-io (BEA AllTablesIO), bls-matrix (one "
                                                 "industry's matrix) or oews (national industry file).")],
          dataset: Annotated[str | None, typer.Argument(help="Eurostat dataset code (e.g. sbs_r_nuts06_r2), or "
                                                        "the NAICS concordance step (e.g. 2012-2017), or "
                                                        "the BLS matrix industry code.")]
          = None,
          year: Annotated[int | None, typer.Option(
                parser=year_parser, metavar="YEAR", help="CBP reference year, or NUTS version year.")] = None,
          level: Annotated[str, typer.Option(help="CBP level: state, county, metro, national; NUTS level 0-3; "
                                             "census-geo: state, county, cbsa.")] = "metro",
          table: Annotated[str | None, typer.Option(help="e-Stat statsDataId.")] = None,
          app_id: Annotated[str | None, typer.Option(help="e-Stat application ID.")] = None,
          base_url: Annotated[str | None, typer.Option(help="Use another server (a mirror, or a test server).")]
          = None,
          sha256: Annotated[str | None, typer.Option(help="Expected SHA-256 of the file.")] = None,
          into: Annotated[Path | None, typer.Option("--import", help="Also import the file into this atlas.")]
          = None, nuts_level: NutsLevelOpt = None, nace_level: NaceLevelOpt = None,
          survey: Annotated[str | None, typer.Option(help="estat: find the table of this survey with getStatsList "
                                                     "instead of --table: economic-census-activity (経済センサス‐"
                                                     "活動調査, statsCode 00200553; --year 2012, 2016 or 2021).")]
          = None,
          area: Annotated[str, typer.Option(help="estat --survey: the area level of the table, prefecture or "
                                            "municipality.")] = "prefecture") -> None:
    """Download an official file into the local cache (resumable, checksummed), optionally importing it."""
    from rich.progress import BarColumn, DownloadColumn, TransferSpeedColumn

    from clusteratlas.sources.download import fetch as download
    from clusteratlas.sources.download import source_url, unpack

    if survey is not None:
        table = _find_estat_table(source, survey, year, area, table=table, app_id=app_id, base=base_url)
    url = source_url(source, base=base_url, year=year, level=level, dataset=dataset, table=table, app_id=app_id)
    name = {"eurostat": f"{dataset}.tsv", "estat": f"estat_{table}.json", "estat-csv": f"estat_{table}.csv",
            "cmp": "cmp_clusters.json"}.get(source)
    if (nuts_level is not None or nace_level is not None) and (source != "eurostat" or into is None):
        raise ClusterAtlasError(_("--nuts-level and --nace-level work with 'fetch eurostat … --import ATLAS'"))
    if into is not None and source not in ("cbp", "qcew", "eurostat", "estat", "estat-csv"):
        raise ClusterAtlasError(_("--import works for observations (cbp, qcew, eurostat, estat); load {source} "
                                  "files with "
                                  "'clusteratlas reference us-benchmark' or "
                                  "'clusteratlas carry'").format(source=source))
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"Downloading {source}", total=None)
        got = download(url, name=name, expected_sha256=sha256,
                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    # a shapefile stays zipped; so does BEA's AllTablesIO (many workbooks)
    path = got.path if source in ("census-geo", "bea-io") else unpack(got.path, discard_bad=True)
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
        out.print(_("Imported {rows:,} observations into {atlas} as '{name}'.").format(rows=report.rows, atlas=into,
                                                                                    name=report.name))
        for note in report.notes:
            out.print("[yellow]" + _("note:") + f"[/] {escape(note)}", highlight=False)

def _find_estat_table(source: str, survey: str, year: int | None, area: str, *, table: str | None,
                      app_id: str | None, base: str | None) -> str:
    """The statsDataId of ``survey``'s table of employees by ``area`` × industry, found with getStatsList."""
    from clusteratlas.sources import estat_catalogue
    from clusteratlas.sources.download import base_url
    from clusteratlas.sources.download import fetch as download

    if source not in ("estat", "estat-csv"):
        raise ClusterAtlasError(_("--survey works with 'fetch estat' or 'fetch estat-csv'"))
    if table is not None:
        raise ClusterAtlasError(_("give --survey (to find the table) or --table (a statsDataId), not both"))
    if year is None or not app_id:
        raise ClusterAtlasError(_("--survey needs --year (e.g. 2021) and --app-id (your e-Stat application ID)"))
    code = estat_catalogue.SURVEYS.get(survey, ("?",))[0]
    url = estat_catalogue.stats_list_url(base_url("estat", base), app_id=app_id, survey=survey, year=year)
    listed = download(url, name=f"estat_list_{code}_{year}.json")
    chosen, others = estat_catalogue.choose_table(estat_catalogue.read_stats_list(listed.path), area,
                                                  survey=survey, year=year)
    out.print(f"e-Stat table {escape(chosen.describe())}", highlight=False)
    for other in others[:5]:
        out.print(f"  also: {escape(other.describe())} (--table {other.id})", highlight=False)
    return chosen.id


@app.command()
@fails_cleanly
def sample(folder: Annotated[Path, typer.Argument(help="Where to write the sample CSV files.")],
           seed: Annotated[int, typer.Option(help="Random seed.")] = 7) -> None:
    """Write the synthetic sample economy (with planted clusters) as CSV files."""
    paths = generate_sample(seed).write(folder)
    for kind, path in paths.items():
        out.print(f"{kind:15} {path}")
