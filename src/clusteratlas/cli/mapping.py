"""Mapping clusters and reading the results: map, show region|cluster, indicators, demo."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from clusteratlas._sql import scalar
from clusteratlas.api import map_files
from clusteratlas.cli._common import (
    AtlasOpt,
    NaceLevelOpt,
    NutsLevelOpt,
    WideOpt,
    YearOpt,
    app,
    fails_cleanly,
    format_options,
    map_params,
    out,
    show_app,
    step,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.report import (
    cluster_table,
    region_table,
    summary_panel,
    unmapped_table,
)
from clusteratlas.sample import generate_sample
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas
from clusteratlas.store.export import write_table


@app.command("map")
@fails_cleanly
def map_(atlas: AtlasOpt = DEFAULT_PATH,
         definition: Annotated[str | None, typer.Option(help="Cluster definition (atlas mode).")] = None,
         level: Annotated[list[str] | None, typer.Option(help="Also map this parent/custom level, "
                                                         "repeatable (atlas mode).")] = None,
         data: Annotated[str | None, typer.Option(help="Observations file (stateless mode).")] = None,
         clusters: Annotated[str | None, typer.Option(help="Definitions file (stateless mode).")] = None,
         out_file: Annotated[str | None, typer.Option("--out", help="Output .csv/.parquet/.xlsx "
                                                      "(stateless mode).")] = None,
         regions_out: Annotated[Path | None, typer.Option(help="Also write region summaries here.")] = None,
         reference_totals: Annotated[str | None, typer.Option(help="Reference-area totals (industry, year, "
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
                                                          "to disk above); default: 80% of RAM.")] = None,
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
         engine: Annotated[str, typer.Option(help="duckdb (one machine) or spark (stateless mode; --data, "
                                             "--clusters and --reference-totals may be any path Spark reads, "
                                             "Parquet or CSV; --out becomes a results folder for 'import "
                                             "results'; --memory-limit sets the local driver's memory; run it "
                                             "under spark-submit for a cluster).")] = "duckdb",
         ) -> None:
    """Compute cluster results: LQs, stars, strong clusters, growth.

    Atlas mode (default) stores results in the atlas. Stateless mode
    (--data, --clusters, --out) needs no atlas and writes one file.
    """
    params = map_params(base_year, by_subcluster, peers, specialisation_lq=specialisation_lq, size_top=size_top,
                     focus_top=focus_top)
    if data or clusters or out_file:
        if not (data and clusters and out_file):
            raise ClusterAtlasError("stateless map needs --data, --clusters and --out together")
        if engine != "duckdb":
            _map_elsewhere(engine, data, clusters, out_file, year=year, reference_totals=reference_totals,
                           regions_out=regions_out, map_cols=map_cols, params=params, strict=strict,
                           memory_limit=memory_limit, file_format=file_format)
            return
        with step("Mapping clusters"):
            report = map_files(Path(data), Path(clusters), Path(out_file), year=year,
                               reference_totals=Path(reference_totals) if reference_totals else None,
                               regions_out=regions_out, mapping=parse_mapping(map_cols), params=params,
                               strict=strict, memory_limit=memory_limit, file_format=file_format,
                               options=format_options(file_format, year, digits, filter_,
                                                       nuts_level=nuts_level, nace_level=nace_level))
        for note in report.notes:
            out.print(f"[yellow]note:[/] {note}", highlight=False)
        out.print(f"Wrote {report.rows:,} region × cluster rows to {report.out} "
                  f"({report.mapped_share:.1%} of employment mapped to a cluster).\n"
                  f"LQ reference economy: {report.reference}.")
        if report.unmapped.num_rows:
            out.print(unmapped_table(report.unmapped))
        return
    if engine != "duckdb":
        raise ClusterAtlasError(f"--engine {engine} maps files (--data, --clusters, --out); load its results "
                                "into an atlas with 'clusteratlas import results FOLDER'")
    with Atlas(atlas, memory_limit=memory_limit) as a, step("Mapping clusters"):
        summary = a.map(definition, levels=level, params=params, strict=strict, reference=reference)
        unmapped = a.con.table("results_unmapped").limit(10).to_arrow_table()
    out.print(summary_panel(summary))
    if unmapped.num_rows:
        out.print(unmapped_table(unmapped))

def _map_elsewhere(engine: str, data: str, clusters: str, out_file: str, *, regions_out: Path | None,
                   map_cols: list[str] | None, memory_limit: str | None, file_format: str, **kwargs) -> None:
    """A stateless map on another engine (Spark): results folder at ``out_file``."""
    from clusteratlas.engines import ENGINES

    if engine not in ENGINES:
        raise ClusterAtlasError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if regions_out is not None or file_format != "generic":
        raise ClusterAtlasError("--engine spark reads generic Parquet or CSV inputs (no --format) and writes the "
                                "region summaries into the --out folder (no --regions-out)")
    from clusteratlas.engines.spark import map_with_spark

    with step("Mapping clusters with Spark"):
        report = map_with_spark(data, clusters, out_file, mapping=parse_mapping(map_cols), memory=memory_limit,
                                **kwargs)
    out.print(f"Wrote {report.rows:,} region × cluster rows to the results folder {report.out} "
              f"({report.mapped_share:.1%} of employment mapped to a cluster).\n"
              f"LQ reference economy: {report.reference}.\n"
              f"Load them into an atlas with: clusteratlas import results {report.out}")
    if report.unmapped.num_rows:
        out.print(unmapped_table(report.unmapped))


@show_app.command("region")
@fails_cleanly
def show_region(region: str, atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None,
                all_: Annotated[bool, typer.Option("--all", help="Include clusters with no jobs.")] = False,
                wide: WideOpt = False) -> None:
    """A region's clusters: stars, LQ, employment, wages, growth, estimate flags."""
    with Atlas(atlas) as a:
        summary, rows = a.region_profile(region, year=year, include_empty=all_)
        economy = a.reference_economy()
    out.print(region_table(summary, rows, economy, wide=wide), crop=not wide)

@show_app.command("cluster")
@fails_cleanly
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

@app.command()
@fails_cleanly
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
@fails_cleanly
def demo(atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Atlas file to create "
                                                    "(default: a temporary one).")] = None,
         seed: Annotated[int, typer.Option(help="Random seed of the sample economy.")] = 7,
         wide: WideOpt = False) -> None:
    """Run the whole job on the bundled sample economy and show the results."""
    workdir = Path(tempfile.mkdtemp(prefix="clusteratlas-demo-"))
    atlas = atlas or workdir / "demo.duckdb"
    if atlas.exists():
        raise ClusterAtlasError(f"{atlas} already exists; choose another --atlas path")
    with step("Generating the sample economy"):
        paths = generate_sample(seed).write(workdir / "sample")
    out.print(f"Sample economy written to {paths['observations'].parent}")
    with Atlas(atlas, create=True) as a:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            with step(f"Importing {kind}"):
                report = a.import_file(kind, paths[kind], name="sample" if kind in ("observations",
                                                                                    "definitions") else None)
            out.print(f"  imported {report.rows:>7,} {kind}")
        with step("Mapping clusters"):
            summary = a.map(levels=["state", "custom"])
        out.print(summary_panel(summary))
        top = scalar(a.con, "SELECT region FROM results_regions WHERE level = 'county' "
                            "ORDER BY three_star_clusters DESC, employment DESC LIMIT 1")
        profile, rows = a.region_profile(top)
        out.print(region_table(profile, rows, wide=wide), crop=not wide)
        out.print(cluster_table("C01", a.cluster_profile("C01", top=8), wide=wide), crop=not wide)
    out.print(f"\nAtlas: {atlas}\nTry: clusteratlas show region S2C3 --atlas {atlas}")
