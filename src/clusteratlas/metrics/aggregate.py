"""Aggregation: industries to clusters, member regions to parent or custom regions.

All functions take and return Narwhals lazy frames and run on any engine.
"""

from __future__ import annotations

import narwhals as nw

from clusteratlas import model
from clusteratlas.errors import InputError
from clusteratlas.i18n import _

SUMS = ("employment", "establishments", "payroll", "estimated_employment", "estimated_cells",
        "establishment_cells", "payroll_cells")


def _typed_sums() -> list[nw.Expr]:
    """The sums with fixed dtypes, so frames from different steps can be stacked."""
    return [nw.col(c).cast(nw.Int64 if c.endswith("_cells") else nw.Float64) for c in SUMS]


def cluster_keys(by_subcluster: bool) -> list[str]:
    """Columns that identify a cluster (or a subcluster) in results."""
    return ["cluster", "subcluster"] if by_subcluster else ["cluster"]


def to_clusters(observations: nw.LazyFrame, definitions: nw.LazyFrame, *,
                by_subcluster: bool = False, levels: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """Sum observations from industries to clusters for every region and year.

    Industries missing from the definition are kept, each under its own code
    as ``cluster`` and a null ``type``, so region totals still count them and
    :func:`unmapped_industries` can report them without another pass over
    the observations. Returns one row per level × region ×
    year × cluster (× subcluster) with the sums in :data:`SUMS`; ``*_cells``
    count the contributing cells that carry a value (or, for
    ``estimated_cells``, that rest on an estimate). Optional input columns
    (level, establishments, payroll, flag) may be absent; their sums are
    then null or zero, and the level is 'region'. ``levels`` (region, level)
    gives each region its level instead of a ``level`` column: joined to
    the sums, a row per region × cluster × year, rather than to every
    observation (a tenth of a 60 M-row map's grouping).
    """
    keys = cluster_keys(by_subcluster)
    names = set(observations.collect_schema().names())
    group = ["level"] if "level" in names else []
    aggs = [nw.col("employment").sum()]
    filled: list[nw.Expr] = []
    for col, cells in (("establishments", "establishment_cells"), ("payroll", "payroll_cells")):
        if col in names:
            aggs += [nw.col(col).sum(), nw.col(col).count().alias(cells)]
        else:
            filled += [nw.lit(None, dtype=nw.Float64).alias(col), nw.lit(0, dtype=nw.Int64).alias(cells)]
    known = definitions.select(*(nw.col(c).cast(nw.String) for c in ("industry", *keys, "type")))
    rows = observations.join(known, on="industry", how="left")
    rows = rows.with_columns(
        nw.when(nw.col("type").is_null()).then(nw.col("industry")).otherwise(nw.col("cluster")).alias("cluster"),
        nw.col("type").is_null().alias("_unmapped"))
    if "flag" in names:
        estimated = nw.col("flag").is_in(list(model.NOT_REPORTED_FLAGS))
        rows = rows.with_columns(
            nw.when(estimated).then(nw.col("employment")).alias("estimated_employment"),
            nw.when(estimated).then(1).alias("estimated_cells"),
        )
        aggs += [nw.col("estimated_employment").sum(), nw.col("estimated_cells").count()]
    else:
        filled += [nw.lit(0.0).alias("estimated_employment"), nw.lit(0, dtype=nw.Int64).alias("estimated_cells")]
    if not group and levels is None:
        filled.append(nw.lit("region").alias("level"))
    # grouped by whether the industry is mapped, not by its cluster's text type: each cluster's one type is
    # joined to the sums (a tenth of a 60 M-row map's grouping)
    out = rows.group_by(*group, "region", "year", *keys, "_unmapped", drop_null_keys=False).agg(*aggs)
    out = out.join(_cluster_types(known), on="cluster", how="left").with_columns(
        nw.when(nw.col("_unmapped")).then(nw.lit(None, dtype=nw.String)).otherwise(nw.col("type")).alias("type"),
        nw.col("employment").fill_null(0.0), *filled)
    if levels is not None and not group:
        out = out.join(levels.select("region", "level"), on="region", how="left")
    return out.select("level", "region", "year", *keys, "type", *_typed_sums())


def _cluster_types(known: nw.LazyFrame) -> nw.LazyFrame:
    """Each cluster's type (cluster, type); an error for a cluster given two types, which an import refuses
    but a definition handed to the library or to Spark directly might carry."""
    types = known.filter(~nw.col("type").is_null()).group_by("cluster").agg(
        nw.col("type").min(), nw.col("type").n_unique().alias("types"))
    mixed = types.filter(nw.col("types") > 1).select("cluster").collect()
    if len(mixed):
        raise InputError(_("cluster {value} is given more than one type").format(value=mixed["cluster"][0]),
                         expected=_("one type (traded or local) per cluster"))
    return types.select("cluster", "type")


def roll_up(clusters: nw.LazyFrame, membership: nw.LazyFrame, *,
            by_subcluster: bool = False) -> nw.LazyFrame:
    """Sum cluster rows of member regions into their parent or custom regions.

    ``membership`` has columns ``region`` (the parent), ``level`` (its level)
    and ``member`` (a region with observations). Each parent must list each
    member once; :func:`clusteratlas.store` resolves nested hierarchies to
    distinct members so no job is counted twice (members of several levels
    add up into one row per parent).
    """
    keys = cluster_keys(by_subcluster)
    members = clusters.drop("level").rename({"region": "member"})
    joined = members.join(membership.select("region", "level", "member"), on="member", how="inner")
    summed = joined.group_by("level", "region", "year", *keys, "type",
                             drop_null_keys=False).agg(*(nw.col(c).sum() for c in SUMS))
    return summed.with_columns(*_typed_sums())


def mapped() -> nw.Expr:
    """True for rows of :func:`to_clusters` that belong to a cluster of the definition."""
    return ~nw.col("type").is_null()


def unmapped_industries(clusters: nw.LazyFrame) -> nw.LazyFrame:
    """Industries with observations but no cluster: code, employment and observation rows.

    Takes the output of :func:`to_clusters` (one row per region × year for
    each unmapped industry, since observations are unique per region ×
    industry × year).
    """
    return (
        clusters.filter(~mapped())
        .group_by("cluster")
        .agg(nw.col("employment").sum(), nw.len().alias("rows"))
        .rename({"cluster": "industry"})
    )


#: The ``cluster`` of the rows that carry the part of a region's published total its cells do not hold.
UNPUBLISHED = "(not in the published cells)"


def unpublished(clusters: nw.LazyFrame, region_totals: nw.LazyFrame, *, by_subcluster: bool = False,
                ) -> nw.LazyFrame:
    """One row per observed region × year with a published total: the employment its cells do not hold.

    ``clusters`` is the output of :func:`to_clusters`; ``region_totals`` has
    columns region, year, employment: the source's own total of each region
    (a CBP file's total row), which counts the jobs of cells too small to be
    published. The row is ``cluster`` :data:`UNPUBLISHED` with no type, so the
    region's total (and a parent's, and the reference economy made of such
    regions) is the published one, while no cluster and no traded or local
    total gains a job; a total below the sum of the cells (noise, imputation)
    adds nothing.
    """
    keys = cluster_keys(by_subcluster)
    cells = clusters.group_by("level", "region", "year").agg(nw.col("employment").sum().alias("_cells"))
    totals = region_totals.select(nw.col("region").cast(nw.String), nw.col("year").cast(nw.Int64),
                                  nw.col("employment").cast(nw.Float64).alias("_total"))
    gap = (cells.with_columns(nw.col("year").cast(nw.Int64)).join(totals, on=["region", "year"], how="inner")
           .with_columns((nw.col("_total") - nw.col("_cells")).alias("employment"))
           .filter(nw.col("employment") > 0))
    return gap.with_columns(
        nw.lit(UNPUBLISHED).alias("cluster"), *([nw.lit(None, dtype=nw.String).alias("subcluster")]
                                               if by_subcluster else []),
        nw.lit(None, dtype=nw.String).alias("type"), nw.lit(None, dtype=nw.Float64).alias("establishments"),
        nw.lit(None, dtype=nw.Float64).alias("payroll"), nw.lit(0.0).alias("estimated_employment"),
        *(nw.lit(0, dtype=nw.Int64).alias(c) for c in ("estimated_cells", "establishment_cells", "payroll_cells")),
    ).select("level", "region", "year", *keys, "type", *_typed_sums())
