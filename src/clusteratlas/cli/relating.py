"""Relatedness, complexity, shift-share, hot spots and data-driven definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from clusteratlas import queries as Q
from clusteratlas.cli._common import (
    AtlasOpt,
    ByOpt,
    LevelOpt,
    WideOpt,
    YearOpt,
    app,
    fails_cleanly,
    out,
    show_app,
    step,
    year_parser,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
from clusteratlas.relate.spatial import FIRST, power_shortfall
from clusteratlas.report import (
    SHIFT_SHARE_PARTS,
    Folded,
    hotspot_table,
    level_name,
    named,
    relate_tables,
    related_table,
    shift_share_table,
)
from clusteratlas.store import DEFAULT_PATH, Atlas


def _plural(by: str) -> str:
    """'clusters' or 'industries', in the current language."""
    return _("industries") if by == "industry" else _("clusters")


@app.command()
@fails_cleanly
def relate(atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", year: YearOpt = None, level: LevelOpt = None,
           top: Annotated[int, typer.Option(help="Related partners stored per item.")] = 20,
           since: Annotated[int | None, typer.Option(
                parser=year_parser, metavar="YEAR", help="Also mark specialisations gained or lost since this "
                                                     "year.")] = None,
           convention: Annotated[str, typer.Option(help="Settle density, COI and the ECI scale as: atlas (the "
                                                   "default: density counts an item's own proximity, COI is "
                                                   "the raw sum, ECI/PCI divided by the population standard "
                                                   "deviation), ecomplexity (the Growth Lab's Python package: "
                                                   "COI z-scored) or stata (its Stata package: density leaves "
                                                   "the own proximity out, COI z-scored, sample standard "
                                                   "deviation over region × item rows, presence RCA > 1), to "
                                                   "compare with those tools.")] = "atlas",
           wide: WideOpt = False) -> None:
    """Relatedness, complexity (ECI/PCI/COI/COG) and concentration indices for one year; stored."""
    with Atlas(atlas) as a, step(_("Computing relatedness and complexity")):
        summary = a.relate(by=by, year=year, level=level, top=top, since=since, convention=convention)
        run = Q.relate_run(a.con, by=summary.by, level=summary.level, year=summary.year)
        region_names, item_names = Q.names(a.con, "region"), Q.names(a.con, by)
    out.print(Folded(escape(_("Stored relatedness for {regions:,} regions × {items:,} {plural} ({level}, {year}); "
                              "{pairs:,} related pairs.").format(
        regions=summary.regions, items=summary.items, plural=_plural(by), level=level_name(summary.level),
        year=summary.year, pairs=summary.pairs))))
    if summary.convention != "atlas":
        out.print(Folded(escape(_("Complexity convention: {name} (density, COI and the ECI scale as that package "
                                  "computes them; docs/methods.md).").format(name=summary.convention))))
    if summary.complexity_reason:
        out.print(Folded("[yellow]" + _("note:") + "[/] " + escape(_(
            "ECI, PCI, COI and COG are undefined: the network of regions and {items} has {n} components (the "
            "second eigenvector of a network in pieces only marks the pieces).").format(
                items=_plural(by), n=summary.components))))
    if since is not None:
        out.print(Folded(escape(_("Since {since}: {gained:,} specialisations gained, {lost:,} lost.").format(
            since=since, gained=run.gained, lost=run.lost))))
    for table in relate_tables(run.regions, run.items, by, wide=wide, region_names=region_names, item_names=item_names):
        out.print(table, crop=not wide)

@app.command("shift-share")
@fails_cleanly
def shift_share_(start: Annotated[int, typer.Argument(parser=year_parser, metavar="YEAR", help="Start year.")],
                 end: Annotated[int, typer.Argument(parser=year_parser, metavar="YEAR", help="End year.")],
                 atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", level: LevelOpt = None,
                 region: Annotated[str | None, typer.Option(help="List one region's items instead.")] = None,
                 top: Annotated[int, typer.Option(help="Rows to show.")] = 15, wide: WideOpt = False) -> None:
    """Shift-share (Dunn; Esteban-Marquillas) of employment change between two years; stored."""
    with Atlas(atlas) as a, step(_("Decomposing employment change")):
        table = a.shift_share(start, end, by=by, level=level)
        region_names, item_names = Q.names(a.con, "region"), Q.names(a.con, by)
    rows = table.to_pylist()
    if region is not None:
        picked = [dict(r, key=named(r["item"], item_names)) for r in rows if r["region"] == region]
        if not picked:
            raise ClusterAtlasError(_("unknown region {region!r} in the shift-share results").format(region=region))
        title = _("Shift-share of {region}, {start}–{end}, by {by}").format(
            region=named(region, region_names), start=start, end=end, by=_(by))
    else:
        sums: dict[str, dict] = {}
        for r in rows:
            acc = sums.setdefault(r["region"], {"key": named(r["region"], region_names),
                                                **dict.fromkeys(SHIFT_SHARE_PARTS, 0.0)})
            for part in SHIFT_SHARE_PARTS:
                acc[part] += r[part]
        picked = list(sums.values())
        title = _("Shift-share by region, {start}–{end} (largest regional-share effects)").format(start=start,
                                                                                                   end=end)
    picked.sort(key=lambda r: -abs(r["regional_share"]))
    out.print(shift_share_table(picked[:top], title, wide=wide), crop=not wide)

@app.command()
@fails_cleanly
def hotspots(atlas: AtlasOpt = DEFAULT_PATH, by: ByOpt = "cluster", year: YearOpt = None, level: LevelOpt = None,
             value: Annotated[str, typer.Option(help="What to test: lq, employment or share.")] = "lq",
             permutations: Annotated[int | None, typer.Option(
                 help="Conditional permutations per local test (default: sequential, 999 and more where a "
                      "p-value is small, up to what one region needs to pass the false-discovery control; a "
                      "number: that many for every test, as esda).")] = None,
             alpha: Annotated[float, typer.Option(help="False-discovery rate, in each direction (hot spots and "
                                                  "clusters; cold spots and outliers).")] = 0.05,
             top: Annotated[int, typer.Option(help="Rows to show.")] = 10, wide: WideOpt = False) -> None:
    """Spatial hot spots: Moran's I, local Moran (LISA) and Getis-Ord Gi* for every cluster; stored.

    Needs region neighbours: 'clusteratlas import weights FILE' (region, neighbor, weight).
    """
    with Atlas(atlas) as a, step(_("Testing for spatial hot spots")):
        summary = a.hotspots(by=by, year=year, level=level, value=value, permutations=permutations, alpha=alpha)
        rows = Q.hotspot_summary(a.con, by=summary.by, level=summary.level, year=summary.year,
                                 value=summary.value, top=top).table
        region_names, item_names = Q.names(a.con, "region"), Q.names(a.con, by)
    values = {"lq": _("LQ"), "employment": _("employment"), "share": _("share")}
    text = _("Tested {items:,} {plural} on {regions:,} regions ({level}, {year}, {value}): {hot:,} high-high hot "
             "spots at FDR {alpha:.0%}").format(items=summary.items, plural=_plural(by), regions=summary.regions,
                                                level=level_name(summary.level), year=summary.year,
                                                value=values.get(summary.value, summary.value),
                                                hot=summary.hot_spots, alpha=alpha)
    if summary.unlinked_regions:
        text += _("; regions without neighbours (no statistic): {n}").format(n=summary.unlinked_regions)
    if summary.constant_items:
        text += _("; {plural} without variation (no statistic, no p-value): {n}").format(
            plural=_plural(by), n=summary.constant_items)
    out.print(Folded(escape(text)))
    how = (_("sequential: {first:,} to {most:,} per local test").format(first=FIRST, most=summary.max_permutations)
           if summary.fixed_permutations is None else
           _("{n:,} per test").format(n=summary.fixed_permutations))
    out.print(Folded(escape(_("Permutations: {how}. p-values: one-sided in the observed direction (p_sim, as esda) "
                              "and two-sided (p_two_sided = min(2 p_sim, 1)).").format(how=how))))
    short = (power_shortfall(summary.fixed_permutations, summary.tests, alpha)
             if summary.fixed_permutations is not None else None)
    if short is not None:
        smallest, k, needed = short
        out.print(Folded("[yellow]" + _("note:") + "[/] " + escape(_(
            "with {permutations:,} permutations the smallest p is {smallest:.3g}: after the false-discovery "
            "control over {tests:,} regions no region is significant unless at least {k:,} are that extreme; use "
            "{needed:,} or more, or the default (sequential)").format(
                permutations=summary.fixed_permutations, smallest=smallest, tests=summary.tests, k=k,
                needed=needed))))
    out.print(hotspot_table(rows, wide=wide, region_names=region_names, item_names=item_names), crop=not wide)


@app.command()
@fails_cleanly
def define(out_file: Annotated[Path, typer.Option("--out", help="Definitions file to write (.csv/.parquet/.xlsx).")],
           atlas: AtlasOpt = DEFAULT_PATH, year: YearOpt = None, level: LevelOpt = None,
           k: Annotated[int | None, typer.Option("--k", help="Number of clusters.")] = None,
           k_min: Annotated[int, typer.Option(help="Smallest k to search (without --k).")] = 5,
           k_max: Annotated[int, typer.Option(help="Largest k to search (without --k).")] = 60,
           io: Annotated[Path | None, typer.Option(help="Input-output table: BEA's detail Use table as published "
                                                 "(or long: from_industry, to_industry, value).")] = None,
           io_crosswalk: Annotated[Path | None, typer.Option(help="BEA's crosswalk from BEA detail codes to "
                                                           "NAICS.")] = None,
           io_make: Annotated[Path | None, typer.Option(help="BEA's detail Make table (industry × industry "
                                                      "flows from Use and Make).")] = None,
           occupations: Annotated[Path | None, typer.Option(help="BLS industry × occupation matrix as published "
                                                          "(NEM long file or OEWS national industry file).")]
           = None,
           method: Annotated[str, typer.Option(help="average, complete, single, ward (hierarchical) or "
                                               "kmeans.")] = "ward",
           weight: Annotated[list[str] | None, typer.Option(help="Weight of a measure, e.g. occupations=2 "
                                                            "(repeatable; default 1 each).")] = None,
           occupation_transform: Annotated[str, typer.Option(help="shares (DPS) or sqrt (Hellinger).")] = "shares",
           colocation_transform: Annotated[str, typer.Option(help="Co-location: loglq (correlation of "
                                                             "log(1 + LQ)) or shares (DPS as published).")]
           = "loglq",
           seed: Annotated[int, typer.Option(help="Seed of k-means starts and random baselines.")] = 0,
           starts: Annotated[int, typer.Option(help="k-means starts.")] = 20,
           traded_only: Annotated[bool, typer.Option(help="Cluster traded industries only (the reference's "
                                                     "with --compare, else the data's split).")] = False,
           compare: Annotated[str | None, typer.Option(help="Reference definition (file or name in the atlas) "
                                                       "to compare with.")] = None,
           wide: WideOpt = False) -> None:
    """Derive cluster definitions from co-location, IO and occupation links, Delgado-Porter-Stern style."""
    from clusteratlas.report import comparison_table, validation_table

    weights = {}
    for w in weight or []:
        name, _sep, value = w.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ClusterAtlasError(_("--weight takes measure=number, got {w!r}").format(w=w)) from None
    with Atlas(atlas) as a, step("Deriving cluster definitions"):  # define stages its inputs in the atlas
        rep = a.define(out_file, k=k, k_range=None if k else (k_min, k_max), year=year, level=level, io_path=io,
                       io_crosswalk=io_crosswalk, io_make=io_make, occupations_path=occupations, method=method,
                       weights=weights or None, seed=seed, starts=starts, occupation_transform=occupation_transform,
                       colocation_transform=colocation_transform, traded_only=traded_only, compare=compare)
    out.print(f"Wrote {rep.industries:,} industries in {rep.result.k} clusters to {out_file} "
              f"(from {rep.level} regions, {rep.year}; {method}, seed {seed}; relatedness: "
              f"{', '.join(rep.measures)}). Import it with 'clusteratlas import definitions {out_file}'.")
    for note in rep.notes:
        out.print(f"  {note}")
    out.print(validation_table(rep.result.scores, wide=wide), crop=not wide)
    if rep.split is not None:
        s = rep.split
        found = "; ".join(f"{s[key]:.0%} of its {kind} industries found" for key, kind in
                          (("local_found", "local"), ("traded_found", "traded")) if s[key] == s[key])
        out.print(f"Traded/local split from the data vs the reference ({s['industries']:,} industries): "
                  f"{s['agreement']:.0%} agree; {found or 'no industry typed'}"
                  + ("" if s["local_found"] == s["local_found"] else "; the reference marks none local") + ".")
    if rep.comparison:
        out.print(comparison_table(f"Against {compare}", rep.comparison, wide=wide), crop=not wide)
    if rep.contributions:
        out.print(comparison_table(f"Contribution of each measure (k = {rep.result.k})", rep.contributions,
                                   wide=wide), crop=not wide)


@show_app.command("related")
@fails_cleanly
def show_related(item: str, atlas: AtlasOpt = DEFAULT_PATH,
                 top: Annotated[int, typer.Option(help="How many partners.")] = 10, wide: WideOpt = False) -> None:
    """The clusters (or industries) most related to one, from the latest relate run."""
    with Atlas(atlas, read_only=True) as a:
        rows = Q.related_clusters(a.con, item, top=top).table
        names = Q.names(a.con, rows["breakdown"][0].as_py())
    out.print(related_table(item, rows, wide=wide, names=names), crop=not wide)
