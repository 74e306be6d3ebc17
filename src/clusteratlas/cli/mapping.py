"""Mapping clusters and reading the results: map, show region|cluster, indicators, demo."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from clusteratlas import queries as Q
from clusteratlas.api import build_demo_atlas, map_files
from clusteratlas.cli._common import (
    AtlasOpt,
    NaceLevelOpt,
    NutsLevelOpt,
    TimingsOpt,
    WideOpt,
    YearOpt,
    app,
    fails_cleanly,
    format_options,
    map_params,
    out,
    rate,
    records_timings,
    show_app,
    step,
    year_parser,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
from clusteratlas.report import (
    Folded,
    cluster_table,
    reference_line,
    region_table,
    summary_panel,
    unmapped_table,
)
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas
from clusteratlas.store.export import write_table


@app.command("map")
@fails_cleanly
@records_timings("map")
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
         year: Annotated[int | None, typer.Option(parser=year_parser, metavar="YEAR", help="Map this year only "
                                                  "(default: every year); a year without observations is an "
                                                  "error.")] = None,
         drop_level: Annotated[list[str] | None, typer.Option(help="Drop a level the previous map added (atlas "
                                                              "mode; repeatable): by default a re-map keeps them.")]
         = None,
         replay: Annotated[bool, typer.Option(help="Map again with the latest run's spec exactly: definition, "
                                              "levels, years, parameters, reference economy (atlas mode).")]
         = False,
         base_year: Annotated[int | None, typer.Option(
                parser=year_parser, metavar="YEAR", help="Base year for growth (default: first).")] = None,
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
         wide: WideOpt = False,
         engine: Annotated[str, typer.Option(help="duckdb (one machine) or spark (stateless mode; --data, "
                                             "--clusters and --reference-totals may be any path Spark reads, "
                                             "Parquet or CSV, or --data a local file of a --format read on the "
                                             "driver; --out becomes a results folder for 'import "
                                             "results'; --memory-limit sets the local driver's memory; run it "
                                             "under spark-submit for a cluster).")] = "duckdb",
         timings: TimingsOpt = False,
         ) -> None:
    """Compute cluster results: LQs, stars, strong clusters, growth.

    Atlas mode (default) stores results in the atlas. Stateless mode
    (--data, --clusters, --out) needs no atlas and writes one file.
    """
    params = map_params(base_year, by_subcluster, peers, specialisation_lq=specialisation_lq, size_top=size_top,
                     focus_top=focus_top)
    if replay and any(v not in (None, False, [], "duckdb") for v in (
            definition, level, data, clusters, out_file, year, drop_level, base_year, by_subcluster, peers, strict,
            specialisation_lq, size_top, focus_top, reference, engine)):
        raise ClusterAtlasError(_("--replay maps with the latest run's spec: it takes no other map option"))
    if data or clusters or out_file:
        if not (data and clusters and out_file):
            raise ClusterAtlasError(_("stateless map needs --data, --clusters and --out together"))
        if drop_level:
            raise ClusterAtlasError(_("--drop-level is for atlas mode (a stateless map has no previous run)"))
        if engine != "duckdb":
            _map_elsewhere(engine, data, clusters, out_file, year=year, reference_totals=reference_totals,
                           regions_out=regions_out, map_cols=map_cols, params=params, strict=strict,
                           memory_limit=memory_limit, file_format=file_format,
                           options=format_options(file_format, year, digits, filter_, nuts_level=nuts_level,
                                                  nace_level=nace_level))
            return
        with step("Mapping clusters"):
            report = map_files(Path(data), Path(clusters), Path(out_file), year=year,
                               reference_totals=Path(reference_totals) if reference_totals else None,
                               regions_out=regions_out, mapping=parse_mapping(map_cols), params=params,
                               strict=strict, memory_limit=memory_limit, file_format=file_format,
                               options=format_options(file_format, year, digits, filter_,
                                                       nuts_level=nuts_level, nace_level=nace_level))
        for note in report.notes:
            out.print("[yellow]" + _("note:") + f"[/] {escape(note)}", highlight=False)
        out.print(_("Wrote {rows:,} region × cluster rows to {out} ({share:.1%} of employment mapped to a "
                    "cluster).").format(rows=report.rows, out=report.out, share=report.mapped_share)
                  + reference_line(report.run))
        if report.unmapped.num_rows:
            out.print(unmapped_table(report.unmapped, wide=wide), crop=not wide)
        return
    if engine != "duckdb":
        raise ClusterAtlasError(_("--engine {engine} maps files (--data, --clusters, --out); load its results into an "
                                  "atlas with 'clusteratlas import results FOLDER'").format(engine=engine))
    started = time.perf_counter()
    with Atlas(atlas, memory_limit=memory_limit) as a, step("Mapping clusters", a.con):
        if replay:
            summary = a.remap()
        else:
            summary = a.map(definition, levels=level, params=params, strict=strict, reference=reference,
                            years=year, drop_levels=drop_level)
        unmapped = a.con.table("results_unmapped").limit(10).to_arrow_table()
        rate(len(a.con.table("observations")), started)
    out.print(summary_panel(summary))
    if unmapped.num_rows:
        out.print(unmapped_table(unmapped, wide=wide), crop=not wide)

MinEmploymentOpt = Annotated[float, typer.Option(help="Leave out cells with fewer jobs than this: with few "
                                                 "regions (47 prefectures) tiny cells rank high on LQ alone.")]


def print_notes(notes: list[str]) -> None:
    """The query layer's plain-text notes, their leading 'note:' or 'coverage:' in colour."""
    for note in notes:
        head, sep, rest = note.partition(" ")
        if sep and head in (_("note:"), _("coverage:")):
            out.print(Folded(f"[yellow]{escape(head)}[/] {escape(rest)}"))
        else:
            out.print(Folded(escape(note)))


def _map_elsewhere(engine: str, data: str, clusters: str, out_file: str, *, regions_out: Path | None,
                   map_cols: list[str] | None, memory_limit: str | None, file_format: str, **kwargs) -> None:
    """A stateless map on another engine (Spark): results folder at ``out_file``."""
    from clusteratlas.engines import ENGINES

    if engine not in ENGINES:
        raise ClusterAtlasError(_("unknown engine {engine!r}; expected one of {value}").format(
            engine=engine, value=', '.join(ENGINES)))
    if regions_out is not None:
        raise ClusterAtlasError(_("--engine spark writes the region summaries into the --out folder (no "
                                "--regions-out)"))
    from clusteratlas.engines.spark import map_with_spark

    with step("Mapping clusters with Spark"):
        report = map_with_spark(data, clusters, out_file, mapping=parse_mapping(map_cols), memory=memory_limit,
                                file_format=file_format, **kwargs)
    for note in report.notes:
        out.print("[yellow]" + _("note:") + f"[/] {escape(note)}", highlight=False)
    out.print(f"Wrote {report.rows:,} region × cluster rows to the results folder {report.out} "
              f"({report.mapped_share:.1%} of employment mapped to a cluster)." + reference_line(report.run) + "\n"
              f"Load them into an atlas with: clusteratlas import results {report.out}")
    if report.unmapped.num_rows:
        out.print(unmapped_table(report.unmapped))


@show_app.command("region")
@fails_cleanly
def show_region(region: Annotated[str, typer.Argument(help="The region: its code, or its name in English or "
                                                     "Japanese (case, width and kana forgiven).")],
                atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None,
                all_: Annotated[bool, typer.Option("--all", help="Include clusters with no jobs.")] = False,
                min_employment: MinEmploymentOpt = 0.0, wide: WideOpt = False,
                story: Annotated[bool, typer.Option("--story", help="Tell the region in words instead (as its web "
                                                    "page does), with the sources of the figures as footnotes.")]
                = False) -> None:
    """A region's clusters: stars, LQ, employment, wages, growth, estimate flags.

    Ranked by stars, then employment: a cell of a few dozen jobs with a high LQ does not come first.
    """
    with Atlas(atlas, read_only=True) as a:
        found = Q.find_region(a.con, region)
        if story:
            _print_story(a.con, found, year)
            return
        profile = Q.region_profile(a.con, found.code, year=year, include_empty=all_, opportunities=0,
                                   min_employment=min_employment)
        economy = a.last_run()
    print_notes([found.note()] if found.note() else [])
    out.print(region_table(profile.summary, profile.clusters, economy, wide=wide), crop=not wide)
    print_notes(profile.notes)


def _print_story(con, found, year: int | None) -> None:
    """``show region --story``: the story's paragraphs, then its figures' sources as numbered footnotes (the
    addresses of the server's API answers, ``clusteratlas serve``)."""
    from clusteratlas.queries.story import plain_text, region_story
    from clusteratlas.report import level_name

    told = region_story(con, found.code, year=year)
    print_notes([found.note()] if found.note() else [])
    out.print(Folded(f"[bold]{escape(told.name)}[/] ({escape(told.region)} · {escape(level_name(told.level))} · "
                     f"{told.year})"))
    paragraphs, sources = plain_text(told)
    for paragraph in paragraphs:
        out.print()
        out.print(Folded(escape(paragraph)))
    if sources:
        out.print()
        out.print(Folded(escape(_("Sources of the figures (addresses on 'clusteratlas serve'):"))))
        for i, href in enumerate(sources, start=1):
            out.print(escape(f"[{i}] {href}"), soft_wrap=True, highlight=False)


@show_app.command("cluster")
@fails_cleanly
def show_cluster(cluster: Annotated[str, typer.Argument(help="The cluster: its code, or its name in English or "
                                                       "Japanese (case, width and kana forgiven).")],
                 atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None,
                 top: Annotated[int, typer.Option(help="How many regions.")] = 20,
                 level: Annotated[str | None, typer.Option(help="Region level (default: the largest level "
                                                           "whose regions do not overlap).")] = None,
                 min_employment: MinEmploymentOpt = 0.0, wide: WideOpt = False) -> None:
    """A cluster's top regions by employment, with their ratings."""
    with Atlas(atlas, read_only=True) as a:
        found = Q.find_cluster(a.con, cluster)
        ranking = Q.cluster_ranking(a.con, found.code, year=year, top=top, level=level,
                                    min_employment=min_employment, order="stars")
        economy = a.last_run()
    print_notes([found.note()] if found.note() else [])
    out.print(cluster_table(found.code, ranking.table, economy, wide=wide), crop=not wide)
    print_notes(ranking.meta["notes"] if ranking.table.num_rows else [])


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
    from clusteratlas.report import Col, FitTable, _label, _num

    with Atlas(atlas, read_only=True) as a:
        rows = a.indicator_rates(indicator, per=per, scale=scale, year=year)
        if out_file is not None:
            write_table(a.con.from_arrow(rows), out_file)
    base = _("jobs") if per == "employment" else per
    title = _("{indicator} per {scale:,.0f} {base}").format(indicator=indicator, scale=scale, base=base)
    table = FitTable(title, [
        Col("Region", priority=0, flex=True), Col("Year", "right", 2), Col(indicator, "right", 1),
        Col(base, "right", 1), Col("Rate", "right", 0)], wide=wide,
        legend=_("Rate: {indicator} per {scale:,.0f} {base} of the region, highest first.").format(
            indicator=indicator, scale=scale, base=base))
    for r in rows.slice(0, top).to_pylist():
        table.add_row(_label(r["name"], r["name_ja"], r["region"]), str(r["year"]), _num(r["value"], "{:,.1f}"),
                      _num(r["base"]), _num(r["rate"], "{:,.2f}"))
    out.print(table, crop=not wide)

def _demo_step(step_: str, n: int) -> str:
    """One progress line of ``demo``: what a step of :func:`clusteratlas.api.build_demo_atlas` stored."""
    lines = {
        "regions": _("imported {n:,} regions (a country, 6 states, 36 counties)"),
        "custom-regions": _("imported a custom region ({n:,} members)"),
        "industries": _("imported {n:,} industry names (NAICS 2017, English and Japanese)"),
        "definitions": _("imported a cluster definition of {n:,} industries (20 benchmark clusters)"),
        "observations": _("imported {n:,} observations (county × industry × year)"),
        "weights": _("imported {n:,} neighbour links"),
        "indicators": _("imported {n:,} values of an indicator (patents)"),
        "map": _("mapped {n:,} region × cluster × year rows (counties, states, the custom region)"),
        "geometry": _("stored {n:,} map shapes"),
        "relate": _("relatedness and complexity: {n:,} related pairs"),
        "shift-share": _("shift-share: {n:,} rows"),
        "hotspots": _("hot spots: {n:,} high-high counties"),
        "assessments": _("assessments: {n:,} (success factors, with radars)"),
        "network": _("actors and networks: {n:,} actors in the demo network, and a spin-off tree"),
    }
    return lines[step_].format(n=n)


@app.command()
@fails_cleanly
def demo(atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Atlas file to create and keep "
                                                    "(default: a temporary one, removed when the demo ends).")]
         = None,
         seed: Annotated[int, typer.Option(help="Random seed of the sample economy.")] = 7,
         wide: WideOpt = False,
         serve_: Annotated[bool, typer.Option("--serve", help="Then serve the demo atlas over HTTP "
                                                               "(as 'clusteratlas serve').")] = False) -> None:
    """Build every part of the observatory on the bundled sample economy and show the results.

    Maps, relatedness and complexity, shift-share, hot spots, an indicator, assessments and a network; nothing is
    left in the system's temporary folder.
    """
    if atlas is not None and atlas.exists():
        raise ClusterAtlasError(_("{atlas} already exists; choose another --atlas path").format(atlas=atlas))
    with contextlib.ExitStack() as stack:
        path = atlas if atlas is not None else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="clusteratlas-demo-"))) / "demo.duckdb"
        with step(_("Building the demo atlas on the sample economy")):
            summary = build_demo_atlas(path, seed=seed, on_step=lambda s, n: out.print("  " + _demo_step(s, n),
                                                                                       highlight=False))
        out.print(summary_panel(summary))
        with Atlas(path, read_only=True) as a:
            top = Q.top_region(a.con, level="county")
            profile = Q.region_profile(a.con, top, opportunities=0)
            out.print(region_table(profile.summary, profile.clusters, wide=wide), crop=not wide)
            out.print(cluster_table("C01", Q.cluster_ranking(a.con, "C01", top=8).table, wide=wide), crop=not wide)
        from clusteratlas.cli.network import demo_network

        demo_network(path)
        if atlas is None:
            out.print("\n" + _("The demo atlas is temporary. Keep one with: clusteratlas demo --atlas demo.duckdb"),
                      highlight=False)
        else:
            out.print("\n" + _("Atlas: {atlas}").format(atlas=path) + "\n"
                      + _("Try: clusteratlas show region 'East County 3' --atlas {atlas}").format(atlas=path) + "\n"
                      + _("Browse: clusteratlas serve --atlas {atlas}").format(atlas=path), highlight=False)
        if serve_:
            from clusteratlas.cli.serve import serve

            serve(atlas=path)
