"""The Python API: the same jobs as the CLI, as functions.

``map_files`` is the stateless job (files in, one file out, no atlas);
:class:`clusteratlas.Atlas` is the stateful one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import narwhals as nw
import pyarrow as pa

from clusteratlas._sql import connect, scalar
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.metrics import Engine, MapParams
from clusteratlas.metrics.pipeline import CLUSTER_COLUMNS
from clusteratlas.metrics.run import FileMapReport, MapFiles, MapInputs, MapRun, MapSpec, describe_results, run_map
from clusteratlas.sources.files import LINE
from clusteratlas.sources.generic import stage
from clusteratlas.store.export import export_format, write_table


def stateless_columns(by_subcluster: bool) -> list[str]:
    """Columns of the stateless ``map`` output (no level; subcluster only when asked)."""
    skip = {"level"} | (set() if by_subcluster else {"subcluster"})
    return [c for c in CLUSTER_COLUMNS if c not in skip]


def file_spec(data: str | os.PathLike[str], clusters: str | os.PathLike[str], *, year: int | None = None,
              reference_totals: str | os.PathLike[str] | None = None, mapping: Mapping[str, str] | None = None,
              encoding: str | None = None, params: MapParams | None = None, strict: bool = False,
              file_format: str = "generic", options: Mapping[str, object] | None = None) -> MapSpec:
    """The spec of a stateless map of files (``map --data``; also what ``map --engine spark`` runs)."""
    files = MapFiles(str(data), str(clusters), None if reference_totals is None else str(reference_totals),
                     dict(mapping or {}), file_format, dict(options or {}), encoding)
    return MapSpec(definition=Path(str(clusters).rstrip("/")).name.split(".")[0],
                   years=None if year is None else (int(year), int(year)), params=params or MapParams(),
                   reference="observations" if reference_totals is None else "totals", strict=strict, files=files)


def file_reference_label(files: MapFiles) -> str:
    """The reference economy of a stateless run, in words."""
    if files.reference_totals is not None:
        return f"reference totals from {files.reference_totals}"
    return ("every region of the file (pass --reference-totals when they overlap or leave part of the nation "
            "out)")


def map_files(data: str | os.PathLike[str], clusters: str | os.PathLike[str],
              out: str | os.PathLike[str], *, year: int | None = None,
              reference_totals: str | os.PathLike[str] | None = None,
              regions_out: str | os.PathLike[str] | None = None,
              mapping: Mapping[str, str] | None = None, encoding: str | None = None,
              params: MapParams | None = None, strict: bool = False,
              memory_limit: str | None = None, file_format: str = "generic",
              options: Mapping[str, object] | None = None) -> FileMapReport:
    """Map clusters from an observations file and a definitions file to ``out``.

    Writes one row per region × cluster × year (see docs/data-model.md for
    every column). Nothing is written if any input is invalid, or, with
    ``strict``, if any industry is missing from the definition. The spec is
    :func:`file_spec`'s; :func:`run_files` runs it.
    """
    spec = file_spec(data, clusters, year=year, reference_totals=reference_totals, mapping=mapping,
                     encoding=encoding, params=params, strict=strict, file_format=file_format, options=options)
    return run_files(spec, out, regions_out=regions_out, memory_limit=memory_limit)


def run_files(spec: MapSpec, out: str | os.PathLike[str], *, regions_out: str | os.PathLike[str] | None = None,
              memory_limit: str | None = None) -> FileMapReport:
    """Run a stateless spec (its ``files``) on DuckDB: the one map job, then ``out`` (and ``regions_out``)."""
    if spec.files is None:
        raise InputError(_("this map spec maps an atlas, not files"), hint=_("Use Atlas.run or Atlas.remap"))
    files = spec.files
    out = Path(out)
    export_format(out)
    if regions_out is not None:
        export_format(Path(regions_out))
    con = connect(memory_limit=memory_limit)
    try:
        obs = stage(con, files.data, "observations", mapping=files.mapping, encoding=files.encoding,
                    file_format=files.file_format, options=files.options)
        defs = stage(con, files.definitions, "definitions")
        ref = stage(con, files.reference_totals, "reference-totals") if files.reference_totals else None

        def frame(staged):
            return nw.from_native(con.sql(f"SELECT * EXCLUDE ({LINE}) FROM {staged.view}"))

        totals = obs.extras.get("region_totals")  # a CBP file's total rows: the regions' published totals
        inputs = MapInputs(frame(obs), frame(defs), reference_totals=None if ref is None else frame(ref),
                           published_totals=None if totals is None else nw.from_native(
                               con.sql(f"SELECT region, year, employment FROM {totals}")),
                           labels={"observations": files.data, "definitions": files.definitions,
                                   "reference_totals": files.reference_totals})
        outcome = run_map(spec, inputs, engine=Engine(con))
        cols = stateless_columns(spec.params.by_subcluster)
        clusters_rel = outcome.result.clusters.select(*cols).sort("region", "cluster", "year").to_native()
        rows = write_table(clusters_rel, out)
        if regions_out is not None:
            write_table(outcome.result.regions.drop("level").sort("region", "year").to_native(), Path(regions_out))
        _summary, regions, years = describe_results(outcome.result.clusters)
        reference_employment = None if ref is None else scalar(
            con, f"SELECT sum(employment) FROM {ref.view} WHERE year = ?", [years[-1]])
    finally:
        con.close()
    run = MapRun(spec=spec, run_id=uuid.uuid4().hex[:12], run_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                 engine=f"duckdb {duckdb.__version__}", cluster_rows=rows, regions=regions, years=years,
                 unmapped_industries=outcome.unmapped.num_rows, unmapped_employment=outcome.unmapped_employment,
                 mapped_share=outcome.mapped_share, reference_label=file_reference_label(files),
                 reference_employment=reference_employment)
    return FileMapReport(str(out), run, outcome.unmapped, obs.notes)


@dataclass
class Benchmark:
    """A benchmark definition ready to import, with what carrying it through concordances cost.

    ``vintage`` is the NAICS vintage the published definition was read in;
    ``steps`` the concordances applied after it (empty when none was needed);
    ``lost`` and ``split`` are as in :class:`clusteratlas.reference.benchmark.Carried`,
    gathered over all steps (with the step they happened in).
    """

    definitions: pa.Table
    vintage: int
    steps: list[str]
    lost: pa.Table
    split: pa.Table


def benchmark_definitions(naics: int | list[int] = 2012, *, definitions: str | os.PathLike[str] | None = None,
                          subclusters: str | os.PathLike[str] | None = None,
                          concordances: list[str | os.PathLike[str]] | None = None,
                          base_url: str | None = None, concordance_url: str | None = None) -> Benchmark:
    """The US benchmark cluster definitions (Delgado-Porter-Stern) on NAICS ``naics``.

    The definition comes from ``definitions`` (a file) or is downloaded from
    the US Cluster Mapping Project (cached). For NAICS 2017 or 2022 it is
    carried from 2012 through the Census Bureau's concordances: the files in
    ``concordances`` (one per step, in order) or downloaded ones. A list of
    published vintages (e.g. ``[1997, 2002, 2007]``) gives their union, for
    series whose years use different vintages.
    """
    from clusteratlas.reference.benchmark import (
        CMP_VINTAGES,
        carry_chain,
        fetch_input,
        naics_steps,
        read_cmp,
        read_concordance,
    )
    from clusteratlas.sources.download import source_url

    wanted = naics if isinstance(naics, list) else [naics]
    planned = naics_steps(max(CMP_VINTAGES), wanted[0]) if len(wanted) == 1 and wanted[0] not in CMP_VINTAGES \
        else []
    if definitions is None:
        definitions = fetch_input(source_url("cmp", base=base_url), "the US benchmark cluster definitions",
                                  name="cmp_clusters.json", steps=planned, naics=wanted[0])
    if len(wanted) > 1:  # a union of published vintages: nothing to carry
        table, vintage, steps = read_cmp(definitions, vintage=wanted, subclusters=subclusters), min(wanted), []
    else:
        vintage = wanted[0] if wanted[0] in CMP_VINTAGES else max(CMP_VINTAGES)
        table = read_cmp(definitions, vintage=vintage, subclusters=subclusters)
        steps = naics_steps(vintage, wanted[0]) if wanted[0] != vintage else []
    if concordances and len(concordances) != len(steps):
        raise InputError(_("NAICS {vintage} → {value} takes {steps} concordance(s)").format(
            vintage=vintage, value=wanted[0], steps=len(steps)),
                         value=len(concordances), expected=" then ".join(f"{a}→{b}" for a, b in steps))
    chain = []
    for i, (a, b) in enumerate(steps):
        path = concordances[i] if concordances else fetch_input(
            source_url("naics-concordance", base=concordance_url, dataset=f"{a}-{b}"),
            f"the Census NAICS {a}→{b} concordance", steps=steps, naics=wanted[0])
        chain.append((f"NAICS {a}→{b}", read_concordance(path)))
    carried = carry_chain(table, chain)
    return Benchmark(carried.definitions, vintage, [label for label, _ in chain], carried.lost, carried.split)


#: The sample's tables the demo imports, in order (the definition and observations named "sample").
DEMO_IMPORTS = ("regions", "custom-regions", "industries", "definitions", "observations", "weights", "indicators")


def build_demo_atlas(atlas: str | os.PathLike[str], *, seed: int = 7, sample_dir: str | os.PathLike[str] | None = None,
                     on_step: Callable[[str, int], None] | None = None, permutations: int = 9999):
    """Create the demo atlas: every part of the observatory, computed on the sample economy.

    The sample (:mod:`clusteratlas.sample`) is written as files to ``sample_dir``, or to a temporary folder that
    is removed before returning (nothing is left in the system's temporary folder); then imported (regions,
    custom region, industry names, definition, observations, neighbours, a patent indicator) and mapped (counties,
    states and the custom region), with map shapes for the pages, relatedness and complexity (counties and
    states), shift-share between
    the first and last year, hot spots (``permutations`` conditional permutations for every local test: 9,999, more
    than the sequential default's 999 for 36 counties, so both hills' centres pass the false-discovery rate: with
    the default, seed 7 finds one of them), three demo assessments
    (◎○△ success factors: radars and group averages), and the actors-and-networks demo (a co-participation
    network and the Hybritech spin-off tree). ``on_step(step, count)`` is called after each step (for progress
    output): the import kinds with their rows, then ``map`` (region × cluster × year rows), ``geometry``
    (shapes), ``relate`` (related pairs), ``shift-share`` (rows), ``hotspots`` (high-high hot spots),
    ``assessments`` and ``network`` (actors). Returns the map's :class:`~clusteratlas.metrics.run.MapRun`.
    """
    import tempfile

    from clusteratlas.networks import importers
    from clusteratlas.networks.analysis import run_network
    from clusteratlas.networks.sample import demo_participations_path
    from clusteratlas.networks.spinoffs import builtin_path
    from clusteratlas.sample import generate_sample
    from clusteratlas.store import Atlas
    from clusteratlas.store.geometry import import_geometry

    def done(step: str, count: int) -> None:
        if on_step is not None:
            on_step(step, count)

    with tempfile.TemporaryDirectory(prefix="clusteratlas-sample-") as scratch:
        paths = generate_sample(seed).write(Path(sample_dir) if sample_dir is not None else Path(scratch))
        with Atlas(atlas, create=True) as a:
            for kind in DEMO_IMPORTS:
                report = a.import_file(kind, paths[kind], name="sample" if kind in ("observations", "definitions")
                                       else "patents" if kind == "indicators" else None)
                done(kind, report.rows)
            summary = a.map(levels=["state", "custom"])
            done("map", summary.cluster_rows)
            shapes = sum(import_geometry(a.con, paths[f"geometry-{level}"], level=level, tolerance=0)
                         for level in ("county", "state"))  # the sample's synthetic map, so the pages' maps draw
            done("geometry", shapes)
            done("relate", sum(a.relate(level=level).pairs for level in ("county", "state")))
            first, last = summary.years[0], summary.years[-1]
            done("shift-share", a.shift_share(first, last, level="county").num_rows)
            done("hotspots", a.hotspots(level="county", permutations=permutations).hot_spots)
            a.import_assessments(paths["assessments"])
            done("assessments", len(a.assessments()))
            importers.import_spinoffs(a.con, builtin_path(), "san-diego")
            importers.import_participations(a.con, demo_participations_path(), "demo")
            done("network", run_network(a.con, "demo")["actors"])
        return summary
