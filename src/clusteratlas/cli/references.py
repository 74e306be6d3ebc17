"""Built-in reference data and carrying definitions across classifications: reference, carry."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.compute
import typer
from rich.markup import escape

from clusteratlas import i18n
from clusteratlas.cli._common import (
    AtlasOpt,
    WideOpt,
    app,
    fails_cleanly,
    out,
    step,
)
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
from clusteratlas.report import (
    Folded,
    carry_report,
)
from clusteratlas.store import DEFAULT_PATH, Atlas


@app.command()
@fails_cleanly
def reference(name: Annotated[str, typer.Argument(help="Built-in reference data: jp-prefectures, "
                                                   "jp-prefecture-neighbours (weights), jp-programmes (the "
                                                   "Japanese programme registry), jp-benchmark (the US "
                                                   "benchmark carried onto JSIC, shipped), us-benchmark.")],
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
                                                          "(default: us-benchmark).")] = None,
              jsic: Annotated[int, typer.Option(help="jp-benchmark: JSIC revision, 13 (2013; the 2014 and 2016 "
                                                "censuses) or 14 (2023).")] = 13,
              verbose: Annotated[bool, typer.Option("--verbose", "-v", help="jp-programmes: list every programme "
                                                    "region the data cover only in part (default: a summary).")]
              = False,
              wide: WideOpt = False) -> None:
    """Load built-in reference data into the atlas: Japan's prefectures, or the US benchmark clusters."""
    from clusteratlas.reference.japan import prefecture_neighbours, prefectures

    if name == "jp-prefectures":
        from clusteratlas.store.geometry import import_geometry

        with Atlas(atlas) as a:
            report = a.import_table("regions", prefectures(), name=name)
            import_geometry(a.con, "", level="prefecture", file_format="japanmap", tolerance=0)  # bundled shapes
        out.print(_("Loaded {rows} {name} regions (with English and Japanese names).").format(rows=report.rows,
                                                                                           name=name))
        return
    if name == "jp-programmes":
        from clusteratlas.reference.programmes import coverage, nistep_profiles_path, observed_regions, region_names

        with Atlas(atlas) as a:
            n = a.load_programmes()
            profiles = a.import_assessments(nistep_profiles_path())
            observed = observed_regions(a.con)
            partial = coverage(observed, region_names(a.con)) if observed else []
        out.print(_("Loaded {entries} programme entries (custom regions 'PROGRAMME:ID' over their named cities "
                    "when the data hold them, else their prefectures or METI bureaus) and {profiles} NISTEP (2004) "
                    "worked profiles.").format(entries=n, profiles=profiles.assessments))
        if not observed:
            out.print("[yellow]" + _("note:") + "[/] " + _("no observations yet: the programme regions were built from "
                      "prefectures; load them again after importing municipal data to roll them up from their "
                      "cities."))
        if partial and not verbose:
            kinds = [c["kind"] for c in partial]
            out.print(Folded("[yellow]" + _("coverage:") + "[/] " + escape(_(
                "{n} of {total} programme regions are not wholly in the data: {none} not rated (no data for them), "
                "{part} with some of their prefectures or cities missing, {whole} rated from their whole "
                "prefecture (their cities are not in the data); --verbose lists them.").format(
                    n=len(partial), total=n, none=kinds.count("none"), part=kinds.count("part"),
                    whole=kinds.count("whole")))))
        for c in partial if verbose else []:
            out.print(Folded("[yellow]" + _("coverage:") + f"[/] {escape(c['region'])}: {escape(c['note'])}"))
        return
    if name == "jp-prefecture-neighbours":
        with Atlas(atlas) as a:  # the built-in prefectures come along, so the links name known regions
            a.import_table("regions", prefectures(), name="jp-prefectures")
            report = a.import_table("weights", prefecture_neighbours(), name=name, replace=False)  # merged
        out.print(_("Loaded {rows} neighbour links between prefectures (shared land borders).").format(
            rows=report.rows))
        return
    if name == "jp-benchmark":
        from clusteratlas.reference import jp_benchmark

        table = jp_benchmark.definitions(jsic)
        lost = jp_benchmark.lost(jsic)
        bench = jp_benchmark.benchmark(jsic)
        with Atlas(atlas) as a:
            report = a.import_table("definitions", table, name=as_name or f"jp-benchmark-jsic{jsic}")
            a.import_table("industries", jp_benchmark.industries(jsic), name=f"jsic{jsic}")
        impure = bench.filter(pa.compute.less(bench["purity"], 0.999))
        levels = bench["level"].to_pylist()
        out.print(Folded(escape(_(
            "Loaded {rows:,} JSIC Rev. {jsic} codes ({groups} 3-digit groups and {classes} 4-digit classes) into "
            "{clusters} benchmark clusters as '{name}'; {split} codes have split links (purity < 1; see 'export "
            "definitions' or clusteratlas.reference.jp_benchmark.benchmark()); {lost} codes were lost on the "
            "way.").format(rows=report.rows, jsic=jsic, groups=levels.count("3"), classes=levels.count("4"),
                           clusters=len(set(table["cluster"].to_pylist())), name=report.name,
                           split=impure.num_rows, lost=lost.num_rows))))
        for step_name in sorted(set(lost["step"].to_pylist())):
            codes = [c for c, s in zip(lost["code"].to_pylist(), lost["step"].to_pylist(), strict=True)
                     if s == step_name]
            shown = ", ".join(codes[:12]) + (" …" if len(codes) > 12 else "")
            out.print(Folded(escape("  " + _("lost at {step}: {n} ({codes})").format(
                step=_(step_name) if i18n.has(step_name) else step_name, n=len(codes), codes=shown))))
        if jsic == 14:
            matches = bench["match"].to_pylist()
            for kind in ("same code, same name", "renumbered", "same code, renamed"):
                out.print(escape("  " + _("Rev. 14 codes matched as '{kind}': {n}").format(
                    kind=_(kind), n=sum(str(m).startswith(kind) for m in matches))), highlight=False)
        return
    if name != "us-benchmark":
        raise ClusterAtlasError(_("unknown reference data {name!r}; available: jp-prefectures, "
                                  "jp-prefecture-neighbours, "
                                  "jp-programmes, jp-benchmark, us-benchmark").format(name=name))
    from clusteratlas.api import benchmark_definitions

    with step("Reading the benchmark cluster definitions"):
        bench = benchmark_definitions(naics or [2012], definitions=definitions, subclusters=subclusters,
                                      concordances=concordance, base_url=base_url, concordance_url=concordance_url)
    with Atlas(atlas) as a:
        report = a.import_table("definitions", bench.definitions, name=as_name or "us-benchmark")
    origin = "NAICS " + (" + ".join(map(str, naics)) if naics and len(naics) > 1 else str(bench.vintage))
    out.print(carry_report(report, bench.definitions, bench.lost, bench.split,
                           origin + "".join(f", then {s}" for s in bench.steps), wide=wide), crop=not wide)

@app.command()
@fails_cleanly
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
          wide: WideOpt = False) -> None:
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
                raise ClusterAtlasError(_("--by-employment needs observations in the atlas"))
        carried = carry_chain(table, steps, sizes=sizes)
        if carried.definitions.num_rows == 0:
            raise ClusterAtlasError(_("the concordance places none of {definition!r}'s codes; check its "
                                      "columns").format(definition=definition))
        report = a.import_table("definitions", carried.definitions, name=as_name)
    out.print(carry_report(report, carried.definitions, carried.lost, carried.split,
                           f"{definition} through {len(concordance)} concordance(s)", wide=wide), crop=not wide)
