"""Cluster mapping in one call: from observations to rated region × cluster rows.

:func:`map_clusters` composes the steps of this package. It only builds
lazy expressions; the engine that holds the inputs (DuckDB by default)
runs them, materialising the two intermediate tables that are reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import narwhals as nw

from clusteratlas.metrics._engine import Engine, distinct, safe_ratio
from clusteratlas.metrics.aggregate import (
    cluster_keys,
    mapped,
    roll_up,
    to_clusters,
    unmapped_industries,
    unpublished,
)
from clusteratlas.metrics.growth import add_growth
from clusteratlas.metrics.params import MapParams
from clusteratlas.metrics.ratings import peer_thresholds, rate
from clusteratlas.metrics.specialisation import (
    location_quotients,
    reference_from_regions,
    reference_from_totals,
    region_totals,
)

#: Columns of the cluster results, in order (see docs/data-model.md).
CLUSTER_COLUMNS = (
    "level", "region", "cluster", "subcluster", "type", "year",
    "employment", "establishments", "payroll", "average_wage",
    "share_of_region", "share_of_cluster", "lq", "lq_within_type",
    "size", "specialization", "focus", "stars", "productivity", "eocic_stars",
    "qualifying", "significant", "strong", "strong10", "peers",
    "base_year", "employment_base", "employment_change", "employment_cagr",
    "estimated", "estimated_share", "region_employment",
)

REGION_COLUMNS = (
    "level", "region", "year", "employment", "traded_employment", "local_employment",
    "unmapped_employment", "clusters", "strong_clusters", "strong_employment", "cluster_strength",
    "three_star_clusters", "job_creation", "job_destruction", "estimated_share",
)


@dataclass
class MapResult:
    """What :func:`map_clusters` returns: lazy frames, computed when collected.

    Attributes
    ----------
    clusters
        One row per level × region × cluster × year (:data:`CLUSTER_COLUMNS`).
    regions
        One row per level × region × year: totals, the number of strong
        clusters and the region's cluster strength (employment in strong
        traded clusters / traded employment) (:data:`REGION_COLUMNS`).
    unmapped
        Industries with observations but no cluster: industry, employment, rows.
    """

    clusters: nw.LazyFrame
    regions: nw.LazyFrame
    unmapped: nw.LazyFrame


def map_clusters(observations: nw.LazyFrame, definitions: nw.LazyFrame, *,
                 reference: nw.LazyFrame | None = None,
                 membership: nw.LazyFrame | None = None,
                 reference_regions: nw.LazyFrame | None = None,
                 params: MapParams | None = None, engine: Engine | None = None,
                 table: str | None = None, published_totals: nw.LazyFrame | None = None,
                 levels: nw.LazyFrame | None = None) -> MapResult:
    """Map clusters: aggregate, compare with the reference, rate, and measure growth.

    Parameters
    ----------
    observations
        Columns region, industry, year, employment and optionally
        establishments, payroll, flag, level (default level 'region', or
        the region's in ``levels``).
        Suppressed cells must already be imputed or carry a null employment.
    definitions
        Columns industry, cluster, type ('traded'/'local') and, with
        ``params.by_subcluster``, subcluster.
    reference
        Optional reference totals (industry, year, employment) for the LQ
        denominator; default: the sum of the observed regions in
        ``reference_regions``. One reference economy per year serves every
        level, so adding a level never changes another level's LQs.
    membership
        Optional parent/custom regions to add (region, level, member), each
        member listed once per parent.
    reference_regions
        Without ``reference``: the observed regions (column ``region``) whose
        sum is the reference economy; default every observed region (right
        when they do not overlap; with nested levels pass the outermost).
    params
        Thresholds; the published rules by default.
    engine
        Where intermediate tables are kept; pass ``Engine(con)`` for DuckDB
        inputs so they can be freed early.
    table
        With a DuckDB engine, the permanent table to store the cluster rows in.
    published_totals
        Optional published totals of observed regions (region, year,
        employment), e.g. a CBP file's total rows: each region's total, its
        shares and the reference economy made of observed regions then count
        the jobs of the cells the source does not publish, while the clusters
        are still the sums of the published cells (see
        :func:`~clusteratlas.metrics.aggregate.unpublished`).
    levels
        Optional level of each observed region (region, level), for
        observations without a level column.
    """
    params = params or MapParams()
    engine = engine or Engine()
    checkpoint, release = engine.checkpoint, engine.release
    keys = cluster_keys(params.by_subcluster)
    if "type" not in definitions.collect_schema().names():
        definitions = definitions.with_columns(nw.lit("traded").alias("type"))
    parts: list[nw.Expr | None] = [None]
    years: list[int] = []
    if engine.partitions:  # output rows per region: clusters (or subclusters) × years
        years = [int(y) for y in distinct(observations, "year")]
        clusters_per_region = len(distinct(definitions, keys[-1]))
        parts = engine.region_parts(observations, groups_per_region=clusters_per_region * len(years))
    # each part's rows by year, when there are many: the peer thresholds below read one year at a time
    base = engine.checkpoint_parts(
        (to_clusters(_only(observations, part), definitions, by_subcluster=params.by_subcluster, levels=levels)
         for part in parts),
        part_order=("year",))
    unmapped = checkpoint(unmapped_industries(base))
    observed = base
    if published_totals is not None:  # lazy: a narrow group-by of the aggregated rows, read by the next steps
        gap = unpublished(base, published_totals, by_subcluster=params.by_subcluster)
        schema = base.collect_schema()
        observed = nw.concat([base, gap.select(*(nw.col(c).cast(t) for c, t in schema.items()))], how="vertical")
    reference_rows = observed
    if membership is not None:
        rolled = roll_up(observed, membership, by_subcluster=params.by_subcluster)
        reference_rows = nw.concat([reference_rows, rolled.select(reference_rows.columns)], how="vertical")
    if reference is None:
        economy = observed if reference_regions is None else observed.join(
            reference_regions.group_by("region").agg(nw.len()).select("region"), on="region", how="inner")
        ref_cluster, ref_economy = reference_from_regions(economy, by_subcluster=params.by_subcluster)
    else:
        ref_cluster, ref_economy = reference_from_totals(reference, definitions,
                                                         by_subcluster=params.by_subcluster)
    if len(parts) > 1:  # the rows are computed in parts below: the reference once, not in every part
        ref_cluster, ref_economy = checkpoint(ref_cluster), checkpoint(ref_economy)
    join_ref = ["year"]
    totals = checkpoint(region_totals(reference_rows))
    series = reference_rows.filter(mapped())
    base_year = params.base_year if params.base_year is not None else _first_year(base)
    rows = (
        series.join(totals, on=["level", "region", "year"], how="left")
        .join(ref_cluster, on=[*join_ref, *keys], how="left")
        .join(ref_economy, on=join_ref, how="left")
    )
    rows = location_quotients(rows).drop(
        "region_traded", "region_local", "ref_cluster", "ref_total", "ref_traded", "ref_local")
    thresholds = None
    if engine.partitions:
        # Exact quantiles hold every value of a group in memory (DuckDB cannot spill them): as many years at a
        # time as fit (60 M observations: 2 statements of 18 and 2 years in 0.9 s instead of 20 in 1.55 s).
        # each year's rows at most: its regions (the stored totals, one row per level × region × year) × clusters
        counted = totals.group_by("year").agg(nw.len().alias("regions")).collect()
        per_year = {year: regions * clusters_per_region
                    for year, regions in zip(counted["year"].to_list(), counted["regions"].to_list(), strict=True)}
        thresholds = engine.checkpoint_parts(
            peer_thresholds(rows.filter(nw.col("year").is_in(chunk)), params)
            for chunk in engine.quantile_batches(per_year))
    grown = add_growth(rate(rows, params, thresholds=thresholds), ["level", "region", *keys],
                       base_year=base_year, source=series)
    clusters = grown.with_columns(
        (nw.col("estimated_cells") > 0).alias("estimated"),
        nw.when(nw.col("employment") > 0)
        .then(nw.col("estimated_employment") / nw.col("employment")).otherwise(0.0).alias("estimated_share"),
        nw.when(nw.col("establishment_cells") > 0).then(nw.col("establishments")).alias("establishments"),
        nw.when(nw.col("payroll_cells") > 0).then(nw.col("payroll")).alias("payroll"),
    )
    if not params.by_subcluster:
        clusters = clusters.with_columns(nw.lit(None, dtype=nw.String).alias("subcluster"))
    # stored by level, year, region: a region profile and a cluster ranking or map layer (one level and year)
    # then read one or two row groups instead of the whole table
    clusters = engine.checkpoint_parts((_only(clusters, part).select(*CLUSTER_COLUMNS) for part in parts), table,
                                       order_by=("level", "year", "region", *keys) if table else ())
    release(base)
    for table_used in (thresholds, *((ref_cluster, ref_economy) if len(parts) > 1 else ())):
        if table_used is not None:
            release(table_used)
    return MapResult(clusters=clusters, regions=_region_summary(clusters, totals),
                     unmapped=unmapped)


def _only(frame: nw.LazyFrame, rows: nw.Expr | None) -> nw.LazyFrame:
    """``frame`` filtered to one part of :meth:`Engine.region_parts` (all of it for None)."""
    return frame if rows is None else frame.filter(rows)


def _first_year(frame: nw.LazyFrame) -> int:
    """The earliest year in a frame (a tiny query on the aggregated rows)."""
    first = frame.select(nw.col("year").min())
    native = first.collect() if isinstance(first, nw.LazyFrame) else first
    return int(native.item())


def _region_summary(clusters: nw.LazyFrame, totals: nw.LazyFrame) -> nw.LazyFrame:
    # Counts sum flags cast to integers: Spark cannot sum booleans (DuckDB gives HUGEINT either way).
    emp = nw.col("employment")
    strong_emp = nw.when(nw.col("strong")).then(emp).otherwise(0.0)
    change = nw.col("employment_change")
    per_region = (
        clusters.with_columns(
            strong_emp.alias("_strong_emp"),
            nw.when(change > 0).then(change).otherwise(0.0).alias("_up"),
            nw.when(change < 0).then(-change).otherwise(0.0).alias("_down"),
            (nw.col("estimated_share") * emp).alias("_est"),
        )
        .group_by("level", "region", "year")
        .agg(
            (nw.col("employment") > 0).cast(nw.Int64).sum().alias("clusters"),
            nw.col("strong").cast(nw.Int64).sum().alias("strong_clusters"),
            nw.col("_strong_emp").sum().alias("strong_employment"),
            (nw.col("stars") == 3).cast(nw.Int64).sum().alias("three_star_clusters"),
            nw.col("_up").sum().alias("job_creation"),
            nw.col("_down").sum().alias("job_destruction"),
            nw.col("_est").sum().alias("_est"),
            nw.col("employment").sum().alias("_mapped"),
        )
    )
    out = totals.join(per_region, on=["level", "region", "year"], how="left").with_columns(
        nw.col("region_employment").alias("employment"),
        nw.col("region_traded").alias("traded_employment"),
        nw.col("region_local").alias("local_employment"),
        (nw.col("region_employment") - nw.col("_mapped").fill_null(0.0)).alias("unmapped_employment"),
        safe_ratio(nw.col("strong_employment"), nw.col("region_traded")).alias("cluster_strength"),
        nw.when(nw.col("_mapped") > 0).then(nw.col("_est") / nw.col("_mapped")).otherwise(0.0)
        .alias("estimated_share"),
    )
    return out.select(*REGION_COLUMNS)
