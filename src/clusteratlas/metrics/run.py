"""One map job: what a map run is asked to do, the rules its inputs meet, and what it produced.

A map run has one type wherever it appears:

* :class:`MapSpec` is everything needed to run a map and to run it again:
  the definition, the levels added, the years, the parameters, the reference
  economy, the datasets, ``strict``, and for a stateless run its files. Like
  scikit-learn's ``get_params()``, it is one value: stored with the run,
  read back, replayed; nobody reconstructs it.
* :class:`MapRun` is a spec and what it produced: when, where, how many
  rows, regions per level, the years, the levels it kept, replaced or
  dropped, the unmapped industries, the reference economy in words and its
  employment, the observed regions outside every region system. The atlas
  stores it in ``map_runs`` (:mod:`clusteratlas.store.runs`); provenance, the
  API, the pages and the CLI read it back.

:func:`run_map` is the one map job. The atlas (:meth:`clusteratlas.Atlas.map`),
the stateless ``map --data`` (:func:`clusteratlas.map_files`) and the Spark
engine (:func:`clusteratlas.engines.spark.map_with_spark`) hand it their inputs
as Narwhals lazy frames; it applies :data:`INPUT_RULES`, then
:func:`~clusteratlas.metrics.map_clusters`. The rules are declared once, as
data; their expressions are Narwhals expressions, which Narwhals compiles to
SQL on DuckDB and to column expressions on Spark, so every engine filters,
checks and reports the same way. (The key rules of each input are checked
where the input is read, with line numbers: :data:`clusteratlas.sources.generic.KEYS`,
used by the DuckDB reader and the Spark reader alike.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.metrics._engine import Engine, distinct
from clusteratlas.metrics.imputation import impute_suppressed
from clusteratlas.metrics.params import MapParams
from clusteratlas.metrics.pipeline import MapResult, map_clusters

#: Version of the stored :class:`MapSpec` / :class:`MapRun` layout; a newer one is refused, not misread.
SPEC_VERSION = 1


# ----------------------------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class MapFiles:
    """The inputs of a stateless map (``map --data``): files, or paths Spark reads.

    ``mapping`` renames CANONICAL=YOURS columns; ``file_format`` and
    ``options`` are those of the official-format readers (cbp, eurostat).
    """

    data: str
    definitions: str
    reference_totals: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    file_format: str = "generic"
    options: Mapping[str, Any] = field(default_factory=dict)
    encoding: str | None = None


@dataclass(frozen=True)
class MapSpec:
    """Everything a map run needs, stored with the run so that it can be read back and replayed.

    Attributes
    ----------
    definition
        The cluster definition (its name in the atlas; for a stateless run the
        stem of the definitions file). None before it is resolved: the atlas's
        only definition.
    levels
        Parent or custom levels added to the observed ones (aggregated from
        member regions).
    years
        ``(first, last)``, both included; None maps every observed year.
    params
        The thresholds (:class:`~clusteratlas.metrics.MapParams`).
    reference
        The reference economy of every LQ: ``totals``, ``observations``,
        ``level:LEVEL`` or ``region:CODE`` (see
        :func:`clusteratlas.store.integrity.resolve_reference`). None before it
        is resolved; a stored run always names the one it used.
    datasets
        The observation datasets mapped (empty: all).
    strict
        Refuse observations of industries outside the definition.
    files
        The input files of a stateless run; None for a map of the atlas.
    version
        :data:`SPEC_VERSION` of the layout.
    """

    definition: str | None = None
    levels: tuple[str, ...] = ()
    years: tuple[int, int] | None = None
    params: MapParams = field(default_factory=MapParams)
    reference: str | None = None
    datasets: tuple[str, ...] = ()
    strict: bool = False
    files: MapFiles | None = None
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(dict.fromkeys(self.levels)))
        object.__setattr__(self, "datasets", tuple(dict.fromkeys(self.datasets)))
        if isinstance(self.years, int):
            object.__setattr__(self, "years", (self.years, self.years))
        if self.years is not None:
            first, last = (int(y) for y in self.years)
            if first > last:
                raise InputError(_("the first year comes after the last"), value=f"{first}–{last}",
                                 expected=_("FIRST ≤ LAST"))
            object.__setattr__(self, "years", (first, last))

    def year_filter(self) -> nw.Expr | None:
        """The rows of the years asked, as an expression every engine runs (None: every year)."""
        if self.years is None:
            return None
        return nw.col("year").is_between(self.years[0], self.years[1], closed="both")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (what ``map_runs.spec`` stores)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MapSpec:
        """The spec stored as :meth:`to_dict`; a spec of a newer layout is refused."""
        version = int(data.get("version", SPEC_VERSION))
        if version > SPEC_VERSION:
            raise InputError(_("this map run was recorded by a newer clusteratlas"), value=version,
                             expected=_("a map spec of version {SPEC_VERSION} "
                                        "or older").format(SPEC_VERSION=SPEC_VERSION),
                             hint=_("Upgrade clusteratlas to read it"))
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise InputError(_("a stored map spec has unknown fields"), value=", ".join(unknown),
                             expected=", ".join(sorted(fields)))
        values = dict(data)
        values["params"] = params_from_dict(values.get("params") or {})
        values["levels"] = tuple(values.get("levels") or ())
        values["datasets"] = tuple(values.get("datasets") or ())
        if values.get("years") is not None:
            values["years"] = tuple(values["years"])
        if values.get("files") is not None:
            values["files"] = MapFiles(**values["files"])
        return cls(**values)


def params_from_dict(data: Mapping[str, Any]) -> MapParams:
    """:class:`MapParams` from their stored form (missing ones take their defaults); unknown names are refused."""
    known = {f.name for f in dataclasses.fields(MapParams)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(_("stored map parameters have unknown names"), value=", ".join(unknown),
                         expected=", ".join(sorted(known)))
    return MapParams(**{k: (dict(v) if k == "peer_levels" else v) for k, v in data.items()})


def _plain(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, all the way down (JSON, and equal after a round trip)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------ the run
@dataclass(frozen=True)
class MapRun:
    """A map run: its spec (resolved: the definition, levels and reference economy it used) and what it produced.

    Attributes
    ----------
    spec
        The :class:`MapSpec` that made the results; replaying it remakes them.
    run_id, run_at, engine
        An id, when (ISO 8601) and where (``duckdb 1.4.0``, ``spark 4.0.1``).
    cluster_rows
        Region × cluster × year rows written.
    regions
        Regions per level, in the results (observed levels and added ones).
    years
        The years mapped.
    unmapped_industries, unmapped_employment, mapped_share
        Industries with observations but no cluster, their employment, and
        the share of employment that was mapped to a cluster (None: not
        recorded, in a legacy run).
    reference_label, reference_employment
        The reference economy in words, and its employment in the latest
        year (None where not measured: a stateless run).
    levels_kept, levels_replaced, levels_dropped
        Against the previous run of the atlas: added levels this run kept
        although not asked again; levels whose earlier results it replaced;
        levels whose earlier results are gone (dropped on request, or no
        longer observed).
    outside_regions, outside_employment, outside_listed
        Observed regions in no imported or built-in region system (latest
        year), their employment, and the largest (code, employment).
    legacy
        Read from a run recorded before clusteratlas stored the spec: only
        the definition, the parameters and (from schema 2) the reference
        economy are known; such a run cannot be replayed.
    """

    spec: MapSpec
    run_id: str | None
    run_at: str
    engine: str
    cluster_rows: int
    regions: dict[str, int]
    years: tuple[int, ...]
    unmapped_industries: int | None
    unmapped_employment: float
    mapped_share: float | None
    reference_label: str
    reference_employment: float | None = None
    levels_kept: tuple[str, ...] = ()
    levels_replaced: tuple[str, ...] = ()
    levels_dropped: tuple[str, ...] = ()
    outside_regions: int = 0
    outside_employment: float | None = None
    outside_listed: tuple[tuple[str, float | None], ...] = ()
    legacy: bool = False

    @property
    def definition(self) -> str | None:
        return self.spec.definition

    @property
    def reference(self) -> str | None:
        """The reference economy's spec (``observations``, ``totals``, ``level:L``, ``region:C``)."""
        return self.spec.reference

    @property
    def levels(self) -> list[str]:
        """Every level with results, in the order of the results (observed levels first)."""
        return list(self.regions)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, the spec nested (the API's and the pages' ``map_run``)."""
        out = _plain(dataclasses.asdict(self))
        out["spec"] = self.spec.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MapRun:
        values = dict(data)
        values["spec"] = MapSpec.from_dict(values["spec"])
        values["regions"] = {str(k): int(v) for k, v in (values.get("regions") or {}).items()}
        for name in ("years", "levels_kept", "levels_replaced", "levels_dropped"):
            values[name] = tuple(values.get(name) or ())
        values["outside_listed"] = tuple((str(c), e) for c, e in values.get("outside_listed") or ())
        return cls(**values)


# -------------------------------------------------------------------------------------------- the inputs
@dataclass
class MapInputs:
    """The inputs of one map as lazy frames of one engine (DuckDB relations or Spark DataFrames).

    ``observations`` has the columns of the observation table (``flag`` and
    ``size_class`` may be left out where no cell is flagged or withheld);
    ``region_levels`` the level of each observed region (region, level;
    None: every region is of level 'region'), joined to the sums per
    cluster, after the rules; ``definitions`` industry,
    cluster, type (and subcluster); ``reference_totals`` industry, year,
    employment (None: the LQs compare with the sum of ``reference_regions``,
    or of every observed region); ``membership`` the added levels (region,
    level, member); ``published_totals`` region, year, employment: the
    source's own total of each observed region where it publishes one (a
    CBP file's total rows; None: a region's total is the sum of its cells),
    which the map takes as the region's total, its shares' denominator and
    its part of the reference economy (see
    :func:`~clusteratlas.metrics.aggregate.unpublished`). ``labels`` name
    each input in an error (a file; None for the atlas).
    """

    observations: nw.LazyFrame
    definitions: nw.LazyFrame
    reference_totals: nw.LazyFrame | None = None
    reference_regions: nw.LazyFrame | None = None
    membership: nw.LazyFrame | None = None
    region_levels: nw.LazyFrame | None = None
    published_totals: nw.LazyFrame | None = None
    labels: Mapping[str, str | None] = field(default_factory=dict)


@dataclass
class MapOutcome:
    """What :func:`run_map` computed: the lazy results and the facts the rules established."""

    result: MapResult
    #: Observed employment per year mapped (as reported: withheld cells count nothing).
    employment_by_year: dict[int, float]
    #: Industries with observations but no cluster: industry, employment, rows; largest first.
    unmapped: pa.Table

    @property
    def years(self) -> list[int]:
        return sorted(self.employment_by_year)

    @property
    def unmapped_employment(self) -> float:
        values = self.unmapped.column("employment").to_pylist() if self.unmapped.num_rows else []
        return float(sum(v or 0.0 for v in values))

    @property
    def mapped_share(self) -> float:
        """Share of the observed employment in a cluster (0 when there is none)."""
        total = sum(self.employment_by_year.values())
        return 1.0 - self.unmapped_employment / total if total else 0.0


class _Job:
    """The state the input rules work on: the spec, the inputs, and facts computed once."""

    def __init__(self, spec: MapSpec, inputs: MapInputs) -> None:
        self.spec = spec
        self.frames: dict[str, nw.LazyFrame | None] = {
            "observations": inputs.observations, "definitions": inputs.definitions,
            "reference_totals": inputs.reference_totals, "published_totals": inputs.published_totals}
        self.labels = inputs.labels
        self.original = dict(self.frames)
        self.result: MapResult | None = None
        self.unmapped: pa.Table | None = None
        self._by_year: dict[int, float] | None = None

    def employment_by_year(self) -> dict[int, float]:
        """Observed employment per year of the observations as filtered so far (one pass, done once)."""
        if self._by_year is None:
            rows = _collect(self.frames["observations"].group_by("year").agg(nw.col("employment").sum()))
            self._by_year = {int(y): float(e or 0.0) for y, e in zip(
                rows.column("year").to_pylist(), rows.column("employment").to_pylist(), strict=True)}
        return self._by_year


# --------------------------------------------------------------------------------------------- the rules
@dataclass(frozen=True)
class KeepRows:
    """Map only the rows of ``table`` where ``where(spec)`` holds; none left is an error naming the values there are."""

    name: str
    table: str
    column: str
    where: Callable[[MapSpec], nw.Expr | None]
    before_map: bool = True

    def apply(self, job: _Job) -> None:
        condition = self.where(job.spec)
        if condition is None:
            return
        job.frames[self.table] = job.frames[self.table].filter(condition)
        if job.employment_by_year():
            return
        available = [int(v) for v in distinct(job.original[self.table], self.column)]
        first, last = job.spec.years
        asked: int | str = first if first == last else f"{first}–{last}"
        raise InputError("no observations for this year" if first == last else "no observations in these years",
                         file=job.labels.get(self.table), column=self.column, value=asked,
                         expected=("a year with observations: " + years_text(available)) if available
                         else "observations (there are none)",
                         hint=_("Nothing was changed"))


@dataclass(frozen=True)
class Follows:
    """An optional ``table`` keeps the rows where ``where(spec)`` holds, as the observations do (none left is
    no error: the table only adds to the observations it meets)."""

    name: str
    table: str
    where: Callable[[MapSpec], nw.Expr | None]
    before_map: bool = True

    def apply(self, job: _Job) -> None:
        frame, condition = job.frames[self.table], self.where(job.spec)
        if frame is not None and condition is not None:
            job.frames[self.table] = frame.filter(condition)


@dataclass(frozen=True)
class Distinct:
    """Rows of ``table`` repeated exactly count once (two different rows for one key are refused on reading)."""

    name: str
    table: str
    before_map: bool = True

    def apply(self, job: _Job) -> None:
        job.frames[self.table] = job.frames[self.table].unique()


@dataclass(frozen=True)
class Covers:
    """When ``table`` is given, every ``column`` value mapped must be in it (an LQ needs its denominator)."""

    name: str
    table: str
    column: str
    problem: str
    before_map: bool = True

    def apply(self, job: _Job) -> None:
        frame = job.frames[self.table]
        if frame is None:
            return
        have = {int(v) for v in distinct(frame, self.column)}
        missing = [y for y in sorted(job.employment_by_year()) if y not in have]
        if missing:
            raise InputError(self.problem, file=job.labels.get(self.table), column=self.column,
                             value=", ".join(map(str, missing)),
                             expected=_("reference totals for every year mapped "
                                        "({value} given)").format(value=years_text(sorted(have))),
                             hint=_("Give reference totals for those years, or map against the observations"))


@dataclass(frozen=True)
class Mapped:
    """Industries with observations but no cluster are reported, largest first; with ``strict`` they are an error."""

    name: str
    table: str = "definitions"
    shown: int = 5
    before_map: bool = False

    def apply(self, job: _Job) -> None:
        job.unmapped = _collect(job.result.unmapped.sort("employment", descending=True))
        if not (job.spec.strict and job.unmapped.num_rows):
            return
        top = job.unmapped.slice(0, self.shown).to_pylist()
        listed = ", ".join(f"{r['industry']} ({r['employment'] or 0:,.0f} jobs)" for r in top)
        raise InputError(_("{num_rows} industry code(s) with observations are not in the cluster "
                           "definition").format(
                               num_rows=job.unmapped.num_rows), file=job.labels.get(self.table), value=listed,
                         expected=_("every industry mapped to a cluster (--strict)"),
                         hint=_("Add them to the definition, or run without --strict to report them only"))


#: The rules on the inputs of every map, in the order they apply: declared once, run on every engine.
INPUT_RULES: tuple[KeepRows | Follows | Distinct | Covers | Mapped, ...] = (
    KeepRows("years", "observations", "year", MapSpec.year_filter),
    Follows("published totals of the years mapped", "published_totals", MapSpec.year_filter),
    Distinct("definitions", "definitions"),
    Covers("reference years", "reference_totals", "year",
           "the reference totals have no rows for some observed years"),
    Mapped("unmapped industries"),
)


def run_map(spec: MapSpec, inputs: MapInputs, *, engine: Engine | None = None,
            table: str | None = None) -> MapOutcome:
    """The map job: apply :data:`INPUT_RULES` to ``inputs``, impute withheld cells, map clusters.

    Parameters
    ----------
    spec
        What to map (years, parameters, strict); the caller has resolved its
        definition, levels and reference economy into ``inputs``.
    inputs
        The inputs as lazy frames of one engine.
    engine
        Where intermediates are kept (``Engine(con)`` for DuckDB: in parts,
        checkpointed; ``Engine()`` for Spark).
    table
        With DuckDB, the permanent table for the cluster rows (stored by
        level, year, region, cluster).

    Returns
    -------
    MapOutcome
        The lazy results (cluster rows already stored when ``table`` is
        given), the employment per year mapped, the unmapped industries.

    Raises
    ------
    InputError
        A rule is broken: no observations in the years asked, reference
        totals missing for a year, or (``strict``) unmapped industries.
        Nothing has been written then, except, with ``table``, inside the
        caller's transaction.
    """
    job = _Job(spec, inputs)
    for rule in INPUT_RULES:
        if rule.before_map:
            rule.apply(job)
    if not job.employment_by_year():
        raise InputError(_("no observations to map"), file=inputs.labels.get("observations"),
                         hint=_("Import some with 'clusteratlas import observations FILE'"))
    observations = impute_suppressed(job.frames["observations"])
    if "size_class" in observations.collect_schema().names():
        observations = observations.drop("size_class")
    job.result = map_clusters(observations, job.frames["definitions"], reference=job.frames["reference_totals"],
                              membership=inputs.membership, reference_regions=inputs.reference_regions,
                              params=spec.params, engine=engine or Engine(), table=table,
                              published_totals=job.frames["published_totals"], levels=inputs.region_levels)
    for rule in INPUT_RULES:
        if not rule.before_map:
            rule.apply(job)
    return MapOutcome(job.result, job.employment_by_year(), job.unmapped)


def describe_results(clusters: nw.LazyFrame) -> tuple[int, dict[str, int], tuple[int, ...]]:
    """(rows, regions per level, years) of stored cluster rows: two small aggregations."""
    per_level = _collect(clusters.group_by("level").agg(nw.len().alias("rows"),
                                                        nw.col("region").n_unique().alias("regions")))
    counts = dict(zip(per_level.column("level").to_pylist(), per_level.column("regions").to_pylist(), strict=True))
    rows = int(sum(per_level.column("rows").to_pylist()))
    order = sorted(counts, key=lambda lvl: (-counts[lvl], lvl))  # the most detailed (most regions) first
    years = tuple(int(y) for y in distinct(clusters, "year"))
    return rows, {lvl: int(counts[lvl]) for lvl in order}, years


def years_text(years: list[int]) -> str:
    """Years as ranges: 2000–2011, 2015."""
    if not years:
        return ""
    spans: list[list[int]] = [[years[0], years[0]]]
    for y in years[1:]:
        if y == spans[-1][1] + 1:
            spans[-1][1] = y
        else:
            spans.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _collect(frame: nw.LazyFrame) -> pa.Table:
    """A small lazy result as an Arrow table, on any engine."""
    return frame.collect(backend="pyarrow").to_native()


@dataclass
class FileMapReport:
    """What a stateless map wrote (``map --data``, on DuckDB or Spark): its run, where, what it could not place."""

    #: The output file (DuckDB) or results folder (Spark).
    out: str
    run: MapRun
    #: Industries with observations but no cluster: industry, employment, rows; largest first.
    unmapped: pa.Table
    #: What the readers noted about the inputs.
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.run.cluster_rows

    @property
    def mapped_share(self) -> float | None:
        return self.run.mapped_share
