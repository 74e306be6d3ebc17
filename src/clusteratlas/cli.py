"""The ``clusteratlas`` command line: a thin layer over the Python API.

Errors in the user's input print one message and exit with code 2; no
traceback. Long steps show a spinner with the elapsed time.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clusteratlas import __version__
from clusteratlas._sql import progress, scalar
from clusteratlas.api import map_files
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.metrics import MapParams
from clusteratlas.model import TABLES
from clusteratlas.report import (
    SHIFT_SHARE_PARTS,
    carry_report,
    cluster_table,
    hotspot_table,
    region_table,
    relate_tables,
    related_table,
    shift_share_table,
    summary_panel,
    unmapped_table,
    validation_table,
)
from clusteratlas.sample import generate_sample
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas
from clusteratlas.store.export import write_table
from clusteratlas.store.schema import EXPORTABLE

app = typer.Typer(help="clusteratlas: map, rate and compare regional industrial clusters.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
show_app = typer.Typer(help="Show stored results as readable tables.", no_args_is_help=True)
app.add_typer(show_app, name="show")

out = Console()
err = Console(stderr=True)

AtlasOpt = Annotated[Path, typer.Option("--atlas", "-a", help="The atlas file.")]
YearOpt = Annotated[int | None, typer.Option(help="Year (default: the latest).")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Show every table column at full width (lines may "
                                                     "exceed the terminal); by default the columns that do not "
                                                     "fit are hidden, least important first.")]
NutsLevelOpt = Annotated[int | None, typer.Option(help="eurostat: keep regions of this NUTS level only (0 "
                                                       "countries, 1, 2, 3); Eurostat tables mix levels, which "
                                                       "would count jobs twice.")]
NaceLevelOpt = Annotated[str | None, typer.Option(help="eurostat: keep industries of this NACE level only: "
                                                       "section (letter), division (2 digits), group (3), class "
                                                       "(4).")]


@contextlib.contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn ClusterAtlasError into a one-line message and exit code 2."""
    try:
        yield
    except ClusterAtlasError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _fails_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command that fails cleanly (see :func:`failing_cleanly`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with failing_cleanly():
            return fn(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _step(text: str, con: Any = None) -> Iterator[None]:
    """A spinner with elapsed time while a step runs (hidden when not a terminal).

    With a DuckDB connection, also a bar with the progress of the query it runs.
    """
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if con is not None:
        columns += [BarColumn(), TextColumn("{task.percentage:>3.0f}%")]
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task(text, total=100 if con is not None else None)
        if con is None or not err.is_terminal:
            yield
            return
        with progress(con, lambda done: bar.update(task, completed=done)):
            yield


def _rate(rows: int, started: float) -> None:
    """Rows per second of a long step, on a terminal."""
    seconds = time.perf_counter() - started
    if err.is_terminal and seconds > 0:
        err.print(f"{rows:,} rows in {seconds:,.1f} s ({rows / seconds:,.0f} rows/s)")


def _params(base_year: int | None, by_subcluster: bool, peers: list[str] | None,
            **overrides: float | None) -> MapParams:
    given = {k: v for k, v in overrides.items() if v is not None}
    peer_levels = {}
    for pair in peers or []:
        level, sep, peer = pair.partition("=")
        if not sep:
            raise ClusterAtlasError(f"bad --peers {pair!r}; expected LEVEL=PEER_LEVEL, e.g. custom=economic_area")
        peer_levels[level.strip()] = peer.strip()
    return MapParams(base_year=base_year, by_subcluster=by_subcluster, peer_levels=peer_levels, **given)


def _format_options(file_format: str, year: int | None, digits: int, filters: list[str] | None,
                    wide: dict[str, str | None] | None = None, kind: str = "observations", *,
                    nuts_level: int | None = None, nace_level: str | None = None) -> dict:
    """Reader options for an official file format."""
    if file_format != "eurostat" and (nuts_level is not None or nace_level is not None):
        raise ClusterAtlasError("--nuts-level and --nace-level work with --format eurostat")
    extra = {k: v for k, v in (wide or {}).items() if v}
    if file_format == "cbp":
        return {"year": year, "digits": digits}
    if file_format == "qcew":
        return {"digits": digits, "filters": parse_mapping(filters)}
    if file_format == "eurostat":
        return {"filters": parse_mapping(filters), "nuts_level": nuts_level, "nace_level": nace_level}
    if file_format in ("estat", "estat-csv") and kind == "observations":
        given = parse_mapping(filters)
        industry = given.pop("industry", "cat01")
        return {"industry": industry, "filters": given}
    if file_format == "wide":
        keys = ("prefix", "establishments_prefix", "totals_prefix", "region_column")
        return {"year": year, **{k: v for k, v in extra.items() if k in keys}}
    if file_format == "jp-municipalities":
        return {"year": year} if year else {}
    if file_format in ("geojson", "topojson", "shapefile"):
        return {k: v for k, v in extra.items() if k in ("layer", "id_property")}
    return {}


def _recode_option(path: Path | None, columns: str | None) -> dict:
    """The ``recode`` reader option: a region concordance read from ``path``."""
    if path is None:
        return {}
    from clusteratlas.reference.benchmark import read_concordance

    names = [c.strip() for c in columns.split(",")] if columns else []
    if columns and len(names) not in (2, 3):
        raise ClusterAtlasError(f"bad --recode-columns {columns!r}; expected SOURCE,TARGET[,WEIGHT]")
    source, target, weight = [*names, None, None, None][:3]
    return {"recode": read_concordance(path, source=source, target=target, weight=weight)}


def _version(value: bool) -> None:
    if value:
        out.print(f"clusteratlas {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Show the version and exit.")] = False) -> None:
    """clusteratlas: map, rate and compare regional industrial clusters."""


@app.command()
@_fails_cleanly
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
@_fails_cleanly
def import_(kind: Annotated[str, typer.Argument(help=f"What the file holds: {', '.join(TABLES)}.")],
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
    if kind not in TABLES:
        raise ClusterAtlasError(f"unknown kind {kind!r}; expected one of {', '.join(TABLES)}")
    started = time.perf_counter()
    with Atlas(atlas) as a, _step(f"Importing {file}", a.con):
        report = a.import_file(kind, file, name=name, mapping=parse_mapping(map_), encoding=encoding,
                               replace=replace, dry_run=dry_run, file_format=file_format,
                               options={**_format_options(file_format, year, digits, filter_, {
                                   "prefix": prefix, "establishments_prefix": establishments_prefix,
                                   "totals_prefix": totals_prefix, "region_column": region_column,
                                   "layer": layer, "id_property": id_property}, kind,
                                   nuts_level=nuts_level, nace_level=nace_level),
                                   **_recode_option(recode, recode_columns)},
                               strict=strict, drop_unknown=drop_unknown)
    _rate(report.rows, started)
    verb = "Checked (dry run, nothing stored)" if dry_run else "Imported"
    label = f" as '{report.name}'" if report.name else ""
    replaced = f", replacing {report.replaced:,} rows" if report.replaced else ""
    out.print(f"{verb} {report.rows:,} {kind} rows from {file}{label}{replaced}.")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command("map")
@_fails_cleanly
def map_(atlas: AtlasOpt = DEFAULT_PATH,
         definition: Annotated[str | None, typer.Option(help="Cluster definition (atlas mode).")] = None,
         level: Annotated[list[str] | None, typer.Option(help="Also map this parent/custom level, "
                                                         "repeatable (atlas mode).")] = None,
         data: Annotated[Path | None, typer.Option(help="Observations file (stateless mode).")] = None,
         clusters: Annotated[Path | None, typer.Option(help="Definitions file (stateless mode).")] = None,
         out_file: Annotated[Path | None, typer.Option("--out", help="Output .csv/.parquet/.xlsx "
                                                       "(stateless mode).")] = None,
         regions_out: Annotated[Path | None, typer.Option(help="Also write region summaries here.")] = None,
         reference_totals: Annotated[Path | None, typer.Option(help="Reference-area totals (industry, year, "
                                                               "employment) for the LQ denominator.")] = None,
         year: YearOpt = None,
         base_year: Annotated[int | None, typer.Option(help="Base year for growth (default: first).")] = None,
         by_subcluster: Annotated[bool, typer.Option(help="Rate subclusters instead of clusters.")] = False,
         peers: Annotated[list[str] | None, typer.Option(help="Compare a level with another level's regions, "
                                                         "LEVEL=PEER_LEVEL, e.g. custom=economic_area "
                                                         "(repeatable; default: each level with itself).")]
         = None,
         strict: Annotated[bool, typer.Option(help="Fail if any industry is missing from the definition.")]
         = False,
         specialisation_lq: Annotated[float | None, typer.Option(help="LQ for the specialisation star "
                                                                 "(default 2).")] = None,
         size_top: Annotated[float | None, typer.Option(help="Share of peers earning the size star "
                                                        "(default 0.10).")] = None,
         focus_top: Annotated[float | None, typer.Option(help="Share of peers earning the focus star "
                                                         "(default 0.10).")] = None,
         map_cols: Annotated[list[str] | None, typer.Option("--map", help="Column mapping for --data, "
                                                            "CANONICAL=YOURS.")] = None,
         memory_limit: Annotated[str | None, typer.Option(help="Cap DuckDB's memory, e.g. 800MB (it spills "
                                                          "to disk above); default: $CLUSTERATLAS_MEMORY_LIMIT, "
                                                          "else 1/32 of RAM (512 MB–4 GB).")] = None,
         file_format: Annotated[str, typer.Option("--format", help="Format of --data: generic, cbp or "
                                                  "eurostat.")] = "generic",
         digits: Annotated[int, typer.Option(help="NAICS digits to keep from a CBP file.")] = 6,
         filter_: Annotated[list[str] | None, typer.Option("--filter", help="Eurostat dimension=value.")] = None,
         nuts_level: NutsLevelOpt = None, nace_level: NaceLevelOpt = None,
         reference: Annotated[str | None, typer.Option(help="Reference economy of every LQ (atlas mode): "
                                                       "totals (imported reference totals), observations "
                                                       "(the observed regions no other observed region "
                                                       "contains), level:LEVEL (the observed regions of one "
                                                       "level), region:CODE (one region). Default: totals if "
                                                       "imported, else level:country if observed, else "
                                                       "observations.")] = None,
         ) -> None:
    """Compute cluster results: LQs, stars, strong clusters, growth.

    Atlas mode (default) stores results in the atlas. Stateless mode
    (--data, --clusters, --out) needs no atlas and writes one file.
    """
    params = _params(base_year, by_subcluster, peers, specialisation_lq=specialisation_lq, size_top=size_top,
                     focus_top=focus_top)
    if data or clusters or out_file:
        if not (data and clusters and out_file):
            raise ClusterAtlasError("stateless map needs --data, --clusters and --out together")
        with _step("Mapping clusters"):
            report = map_files(data, clusters, out_file, year=year, reference_totals=reference_totals,
                               regions_out=regions_out, mapping=parse_mapping(map_cols), params=params,
                               strict=strict, memory_limit=memory_limit, file_format=file_format,
                               options=_format_options(file_format, year, digits, filter_,
                                                       nuts_level=nuts_level, nace_level=nace_level))
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)
        out.print(f"Wrote {report.rows:,} region × cluster rows to {report.out} "
                  f"({report.mapped_share:.1%} of employment mapped to a cluster).\n"
                  f"LQ reference economy: {report.reference}.")
        if report.unmapped.num_rows:
            out.print(unmapped_table(report.unmapped))
        return
    started = time.perf_counter()
    with Atlas(atlas, memory_limit=memory_limit) as a, _step("Mapping clusters", a.con):
        summary = a.map(definition, levels=level, params=params, strict=strict, reference=reference)
        unmapped = a.con.table("results_unmapped").limit(10).to_arrow_table()
        _rate(scalar(a.con, "SELECT count(*) FROM observations"), started)
    out.print(summary_panel(summary))
    if unmapped.num_rows:
        out.print(unmapped_table(unmapped))


@show_app.command("region")
@_fails_cleanly
def show_region(region: str, atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None,
                all_: Annotated[bool, typer.Option("--all", help="Include clusters with no jobs.")] = False,
                wide: WideOpt = False) -> None:
    """A region's clusters: stars, LQ, employment, wages, growth, estimate flags."""
    with Atlas(atlas) as a:
        summary, rows = a.region_profile(region, year=year, include_empty=all_)
        economy = a.reference_economy()
    out.print(region_table(summary, rows, economy, wide=wide), crop=not wide)


@show_app.command("cluster")
@_fails_cleanly
def show_cluster(cluster: str, atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None,
                 top: Annotated[int, typer.Option(help="How many regions.")] = 20,
                 level: Annotated[str | None, typer.Option(help="Region level (default: the one with "
                                                           "the most regions).")] = None,
                 wide: WideOpt = False) -> None:
    """A cluster's top regions by employment, with their ratings."""
    with Atlas(atlas) as a:
        rows = a.cluster_profile(cluster, year=year, top=top, level=level)
        economy = a.reference_economy()
    out.print(cluster_table(cluster, rows, economy, wide=wide), crop=not wide)


ByOpt = Annotated[str, typer.Option(help="Work on clusters (from the map results) or industries "
                                          "(from the observations).")]
LevelOpt = Annotated[str | None, typer.Option(help="Region level (default: the most detailed).")]


@app.command()
@_fails_cleanly
def relate(atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", year: YearOpt = None, level: LevelOpt = None,
           top: Annotated[int, typer.Option(help="Related partners stored per item.")] = 20,
           since: Annotated[int | None, typer.Option(help="Also mark specialisations gained or lost since this "
                                                     "year.")] = None, wide: WideOpt = False) -> None:
    """Relatedness, complexity (ECI/PCI/COI/COG) and concentration indices for one year; stored."""
    with Atlas(atlas) as a, _step("Computing relatedness and complexity"):
        summary = a.relate(by=by, year=year, level=level, top=top, since=since)
        keys = [summary.by, summary.level, summary.year]
        regions = a.con.sql("SELECT * FROM relate_regions WHERE breakdown = ? AND level = ? AND year = ?",
                            params=keys).to_arrow_table()
        items = a.con.sql("SELECT * FROM relate_items WHERE breakdown = ? AND level = ? AND year = ?",
                          params=keys).to_arrow_table()
    out.print(f"Stored relatedness for {summary.regions:,} regions × {summary.items:,} {by}s "
              f"({summary.level}, {summary.year}); {summary.pairs:,} related pairs.")
    if since is not None:
        with Atlas(atlas) as a:
            gained, lost = a.con.execute(
                "SELECT count(*) FILTER (WHERE entered), count(*) FILTER (WHERE exited) FROM relate_cells "
                "WHERE breakdown = ? AND level = ? AND year = ?", keys).fetchall()[0]
        out.print(f"Since {since}: {gained:,} specialisations gained, {lost:,} lost.")
    for table in relate_tables(regions, items, by, wide=wide):
        out.print(table, crop=not wide)


@app.command("shift-share")
@_fails_cleanly
def shift_share_(start: Annotated[int, typer.Argument(help="Start year.")],
                 end: Annotated[int, typer.Argument(help="End year.")],
                 atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", level: LevelOpt = None,
                 region: Annotated[str | None, typer.Option(help="List one region's items instead.")] = None,
                 top: Annotated[int, typer.Option(help="Rows to show.")] = 15, wide: WideOpt = False) -> None:
    """Shift-share (Dunn; Esteban-Marquillas) of employment change between two years; stored."""
    with Atlas(atlas) as a, _step("Decomposing employment change"):
        table = a.shift_share(start, end, by=by, level=level)
    rows = table.to_pylist()
    if region is not None:
        picked = [dict(r, key=r["item"]) for r in rows if r["region"] == region]
        if not picked:
            raise ClusterAtlasError(f"unknown region {region!r} in the shift-share results")
        title = f"Shift-share of {region}, {start}–{end}, by {by}"
    else:
        sums: dict[str, dict] = {}
        for r in rows:
            acc = sums.setdefault(r["region"], {"key": r["region"], **dict.fromkeys(SHIFT_SHARE_PARTS, 0.0)})
            for part in SHIFT_SHARE_PARTS:
                acc[part] += r[part]
        picked = list(sums.values())
        title = f"Shift-share by region, {start}–{end} (largest regional-share effects)"
    picked.sort(key=lambda r: -abs(r["regional_share"]))
    out.print(shift_share_table(picked[:top], title, wide=wide), crop=not wide)


@app.command()
@_fails_cleanly
def hotspots(atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", year: YearOpt = None, level: LevelOpt = None,
             value: Annotated[str, typer.Option(help="What to test: lq, employment or share.")] = "lq",
             permutations: Annotated[int, typer.Option(help="Conditional permutations.")] = 999,
             alpha: Annotated[float, typer.Option(help="False-discovery rate.")] = 0.05,
             top: Annotated[int, typer.Option(help="Rows to show.")] = 10, wide: WideOpt = False) -> None:
    """Spatial hot spots: Moran's I, local Moran (LISA) and Getis-Ord Gi* for every cluster; stored.

    Needs region neighbours: 'clusteratlas import weights FILE' (region, neighbor, weight).
    """
    with Atlas(atlas) as a, _step("Testing for spatial hot spots"):
        summary = a.hotspots(by=by, year=year, level=level, value=value, permutations=permutations, alpha=alpha)
        keys = [summary.by, summary.level, summary.year, summary.value]
        rows = a.con.sql(
            """SELECT g.item, g.moran_i, g.p_sim, count(*) FILTER (WHERE h.significant AND h.quadrant = 1) AS hot,
                      string_agg(h.region, ', ' ORDER BY h.region) FILTER (WHERE h.significant AND h.quadrant = 1)
                      AS regions
               FROM hotspots_global g JOIN hotspots h USING (item, breakdown, level, year, value)
               WHERE g.breakdown = ? AND g.level = ? AND g.year = ? AND g.value = ?
               GROUP BY ALL ORDER BY g.moran_i DESC LIMIT ?""", params=[*keys, top]).to_arrow_table()
    out.print(f"Tested {summary.items:,} {by}s on {summary.regions:,} regions ({summary.level}, {summary.year}, "
              f"{summary.value}): {summary.hot_spots:,} high-high hot spots at FDR {alpha:.0%}"
              + (f"; {summary.unlinked_regions} region(s) without neighbours" if summary.unlinked_regions else ""))
    out.print(hotspot_table(rows, wide=wide), crop=not wide)


@app.command()
@_fails_cleanly
def define(out_file: Annotated[Path, typer.Option("--out", help="Definitions file to write (.csv/.parquet/.xlsx).")],
           atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None, level: LevelOpt = None,
           k: Annotated[int | None, typer.Option("--k", help="Number of clusters.")] = None,
           k_min: Annotated[int, typer.Option(help="Smallest k to search (without --k).")] = 5,
           k_max: Annotated[int, typer.Option(help="Largest k to search (without --k).")] = 60,
           io: Annotated[Path | None, typer.Option(help="Input-output flows: from_industry, to_industry, "
                                                 "value.")] = None,
           occupations: Annotated[Path | None, typer.Option(help="Occupation mix: industry, occupation, "
                                                          "employment.")] = None) -> None:
    """Derive cluster definitions from co-location (and IO/occupation links), Delgado-Porter-Stern style."""
    with Atlas(atlas) as a, _step("Deriving cluster definitions"):
        result, lvl, yr = a.define(out_file, k=k, k_range=None if k else (k_min, k_max), year=year, level=level,
                                   io_path=io, occupations_path=occupations)
    out.print(f"Wrote {len(result.labels):,} industries in {result.k} clusters to {out_file} "
              f"(from {lvl} regions, {yr}). Import it with 'clusteratlas import definitions {out_file}'.")
    out.print(validation_table(result.scores))


@show_app.command("related")
@_fails_cleanly
def show_related(item: str, atlas: AtlasOpt = DEFAULT_PATH,
                 top: Annotated[int, typer.Option(help="How many partners.")] = 10, wide: WideOpt = False) -> None:
    """The clusters (or industries) most related to one, from the latest relate run."""
    with Atlas(atlas) as a:
        rows = a.related(item, top=top)
    out.print(related_table(item, rows, wide=wide), crop=not wide)


@app.command()
@_fails_cleanly
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
                                   _format_options(source, year, 6, None, nuts_level=nuts_level,
                                                   nace_level=nace_level) if source == "eurostat" else None)
        out.print(f"Imported {report.rows:,} observations into {into} as '{report.name}'.")
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command()
@_fails_cleanly
def indicators(indicator: Annotated[str, typer.Argument(help="The indicator (e.g. patents).")],
               atlas: AtlasOpt = DEFAULT_PATH,
               per: Annotated[str, typer.Option(help="Denominator: employment (from the map) or another "
                                                "indicator (e.g. population).")] = "employment",
               scale: Annotated[float, typer.Option(help="Per how many units of the denominator.")] = 1000.0,
               year: YearOpt = None, top: Annotated[int, typer.Option(help="Rows to show.")] = 15,
               out_file: Annotated[Path | None, typer.Option("--out", help="Also write all rows here.")] = None,
               wide: WideOpt = False) -> None:
    """An innovation or context indicator per employee or per head, region by region."""
    from clusteratlas.report import Col, FitTable, _num

    with Atlas(atlas) as a:
        rows = a.indicator_rates(indicator, per=per, scale=scale, year=year)
        if out_file is not None:
            write_table(a.con.from_arrow(rows), out_file)
    table = FitTable(f"{indicator} per {scale:,.0f} {per}", [
        Col("Region", priority=0, flex=True), Col("Year", "right", 2), Col(indicator, "right", 1),
        Col(per, "right", 1), Col("Rate", "right", 0)], wide=wide)
    for r in rows.slice(0, top).to_pylist():
        label = " / ".join(x for x in (r["name"], r["name_ja"]) if x) or r["region"]
        table.add_row(label, str(r["year"]), _num(r["value"], "{:,.1f}"), _num(r["base"]),
                      _num(r["rate"], "{:,.2f}"))
    out.print(table, crop=not wide)


@app.command()
@_fails_cleanly
def reference(name: Annotated[str, typer.Argument(help="Built-in reference data: jp-prefectures, "
                                                   "jp-prefecture-neighbours (weights), jp-programmes (the "
                                                   "Japanese programme registry), us-benchmark.")],
              atlas: AtlasOpt = DEFAULT_PATH,
              naics: Annotated[list[int] | None, typer.Option(help="us-benchmark: NAICS vintage wanted (1997, "
                                                              "2002, 2007, 2012 as published; 2017, 2022 carried "
                                                              "by concordance); repeat for the union of "
                                                              "published vintages (a 2000-2011 series).")]
              = None,
              definitions: Annotated[Path | None, typer.Option(help="us-benchmark: read the definition from this "
                                                               "file instead of downloading it.")] = None,
              subclusters: Annotated[Path | None, typer.Option(help="us-benchmark: NAICS → subcluster file "
                                                               "(NAICS, Cluster, SubclusterName).")] = None,
              concordance: Annotated[list[Path] | None, typer.Option(help="us-benchmark: Census concordance "
                                                                     "file per step, in order (default: "
                                                                     "download).")] = None,
              base_url: Annotated[str | None, typer.Option(help="Download the definition from another server.")]
              = None,
              concordance_url: Annotated[str | None, typer.Option(help="Download concordances from another "
                                                                  "server.")] = None,
              as_name: Annotated[str | None, typer.Option("--name", help="Store the definition under this name "
                                                          "(default: us-benchmark).")] = None) -> None:
    """Load built-in reference data into the atlas: Japan's prefectures, or the US benchmark clusters."""
    from clusteratlas.reference.japan import prefecture_neighbours, prefectures

    if name == "jp-prefectures":
        with Atlas(atlas) as a:
            report = a.import_table("regions", prefectures(), name=name)
        out.print(f"Loaded {report.rows} {name} regions (with English and Japanese names).")
        return
    if name == "jp-programmes":
        from clusteratlas.reference.programmes import nistep_profiles_path

        with Atlas(atlas) as a:
            n = a.load_programmes()
            profiles = a.import_assessments(nistep_profiles_path())
        out.print(f"Loaded {n} programme entries (custom regions 'PROGRAMME:ID' over their prefectures or METI "
                  f"bureaus, with the 47 prefectures) and {profiles.assessments} NISTEP (2004) worked profiles.")
        return
    if name == "jp-prefecture-neighbours":
        with Atlas(atlas) as a:  # the built-in prefectures come along, so the links name known regions
            a.import_table("regions", prefectures(), name="jp-prefectures")
            report = a.import_table("weights", prefecture_neighbours(), name=name, replace=False)  # merged
        out.print(f"Loaded {report.rows} neighbour links between prefectures (shared land borders).")
        return
    if name != "us-benchmark":
        raise ClusterAtlasError(f"unknown reference data {name!r}; available: jp-prefectures, "
                                "jp-prefecture-neighbours, jp-programmes, us-benchmark")
    from clusteratlas.api import benchmark_definitions

    with _step("Reading the benchmark cluster definitions"):
        bench = benchmark_definitions(naics or [2012], definitions=definitions, subclusters=subclusters,
                                      concordances=concordance, base_url=base_url, concordance_url=concordance_url)
    with Atlas(atlas) as a:
        report = a.import_table("definitions", bench.definitions, name=as_name or "us-benchmark")
    origin = "NAICS " + (" + ".join(map(str, naics)) if naics and len(naics) > 1 else str(bench.vintage))
    out.print(carry_report(report, bench.definitions, bench.lost, bench.split,
                           origin + "".join(f", then {s}" for s in bench.steps)))


@app.command()
@_fails_cleanly
def carry(definition: Annotated[str, typer.Argument(help="A cluster definition in the atlas.")],
          concordance: Annotated[list[str], typer.Option(help="Concordance file (source and target code columns) "
                                                         "or the built-in isic4-nace2-division; repeatable for "
                                                         "a chain, e.g. NAICS→ISIC then isic4-nace2-division.")],
          as_name: Annotated[str, typer.Option("--name", help="Name of the new definition.")],
          atlas: AtlasOpt = DEFAULT_PATH,
          source_column: Annotated[str | None, typer.Option(help="Source code column (default: the first "
                                                            "column named …code…).")] = None,
          target_column: Annotated[str | None, typer.Option(help="Target code column (default: the second).")]
          = None,
          weight_column: Annotated[str | None, typer.Option(help="Weight column (e.g. an employment share).")]
          = None,
          by_employment: Annotated[bool, typer.Option(help="Weigh each source code's vote by its employment in "
                                                      "the atlas (all regions, latest year; carried along a "
                                                      "chain), so purity is an employment share.")] = False,
          ) -> None:
    """Carry a cluster definition onto another classification through concordances (e.g. NAICS → NACE)."""
    from clusteratlas.reference.benchmark import (
        BUILTIN_CONCORDANCES,
        builtin_concordance,
        carry_chain,
        read_concordance,
    )

    steps = [(spec, functools.partial(builtin_concordance, spec) if spec in BUILTIN_CONCORDANCES
              else read_concordance(Path(spec), source=source_column, target=target_column, weight=weight_column))
             for spec in concordance]
    with Atlas(atlas) as a:
        a._pick_definition(definition)
        table = a.con.sql("SELECT * EXCLUDE (definition) FROM definitions WHERE definition = ?",
                          params=[definition]).to_arrow_table()
        sizes = None
        if by_employment:
            sizes = dict(a.con.execute(
                "SELECT industry, sum(employment) FROM observations WHERE year = (SELECT max(year) FROM "
                "observations) GROUP BY 1").fetchall())
            if not sizes:
                raise ClusterAtlasError("--by-employment needs observations in the atlas")
        carried = carry_chain(table, steps, sizes=sizes)
        if carried.definitions.num_rows == 0:
            raise ClusterAtlasError(f"the concordance places none of {definition!r}'s codes; check its columns")
        report = a.import_table("definitions", carried.definitions, name=as_name)
    out.print(carry_report(report, carried.definitions, carried.lost, carried.split,
                           f"{definition} through {len(concordance)} concordance(s)"))


@app.command()
@_fails_cleanly
def export(what: Annotated[str, typer.Argument(help=f"One of: {', '.join(EXPORTABLE)}.")],
           file: Annotated[Path, typer.Argument(help="Output .csv, .parquet or .xlsx.")],
           atlas: AtlasOpt = DEFAULT_PATH) -> None:
    """Export a table of the atlas to CSV, Parquet or Excel."""
    with Atlas(atlas) as a, _step(f"Exporting {what}"):
        n = a.export(what, file)
    out.print(f"Wrote {n:,} rows to {file}")


@app.command()
@_fails_cleanly
def sample(folder: Annotated[Path, typer.Argument(help="Where to write the sample CSV files.")],
           seed: Annotated[int, typer.Option(help="Random seed.")] = 7) -> None:
    """Write the synthetic sample economy (with planted clusters) as CSV files."""
    paths = generate_sample(seed).write(folder)
    for kind, path in paths.items():
        out.print(f"{kind:15} {path}")


@app.command()
@_fails_cleanly
def demo(atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Atlas file to create "
                                                    "(default: a temporary one).")] = None,
         seed: Annotated[int, typer.Option(help="Random seed of the sample economy.")] = 7,
         wide: WideOpt = False) -> None:
    """Run the whole job on the bundled sample economy and show the results."""
    workdir = Path(tempfile.mkdtemp(prefix="clusteratlas-demo-"))
    atlas = atlas or workdir / "demo.duckdb"
    if atlas.exists():
        raise ClusterAtlasError(f"{atlas} already exists; choose another --atlas path")
    with _step("Generating the sample economy"):
        paths = generate_sample(seed).write(workdir / "sample")
    out.print(f"Sample economy written to {paths['observations'].parent}")
    with Atlas(atlas, create=True) as a:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            with _step(f"Importing {kind}"):
                report = a.import_file(kind, paths[kind], name="sample" if kind in ("observations",
                                                                                    "definitions") else None)
            out.print(f"  imported {report.rows:>7,} {kind}")
        with _step("Mapping clusters"):
            summary = a.map(levels=["state", "custom"])
        out.print(summary_panel(summary))
        top = scalar(a.con, "SELECT region FROM results_regions WHERE level = 'county' "
                            "ORDER BY three_star_clusters DESC, employment DESC LIMIT 1")
        profile, rows = a.region_profile(top)
        out.print(region_table(profile, rows, wide=wide), crop=not wide)
        out.print(cluster_table("C01", a.cluster_profile("C01", top=8), wide=wide), crop=not wide)
    out.print(f"\nAtlas: {atlas}\nTry: clusteratlas show region S2C3 --atlas {atlas}")


def _register_evaluation() -> None:
    from clusteratlas.cli_evaluate import assess_app, registry, scoreboard

    app.add_typer(assess_app, name="assess")
    app.command()(registry)
    app.command()(scoreboard)


_register_evaluation()


def run() -> None:
    """Entry point that keeps Rich's output readable when piped."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
