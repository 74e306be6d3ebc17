"""Region totals, reference economies, shares and location quotients.

LQ(r, c) = (e_rc / e_r) / (E_c / E): the share of cluster c in region r's
employment over its share in the reference economy. ``lq`` uses all of the
region's employment (European Cluster Observatory); ``lq_within_type`` uses
only its traded (or local) cluster employment, as the US Cluster Mapping
Project does.
"""

from __future__ import annotations

import narwhals as nw

from clusteratlas.metrics._engine import safe_ratio
from clusteratlas.metrics.aggregate import cluster_keys, mapped


def _by_type(frame: nw.LazyFrame) -> nw.LazyFrame:
    return frame.with_columns(
        nw.when(nw.col("type") == "traded").then(nw.col("employment")).otherwise(0.0).alias("traded"),
        nw.when(nw.col("type") == "local").then(nw.col("employment")).otherwise(0.0).alias("local"),
    )


def region_totals(clusters: nw.LazyFrame) -> nw.LazyFrame:
    """Total, traded and local employment of every region and year."""
    return _by_type(clusters).group_by("level", "region", "year").agg(
        nw.col("employment").sum().alias("region_employment"),
        nw.col("traded").sum().alias("region_traded"),
        nw.col("local").sum().alias("region_local"),
    )


def reference_from_regions(clusters: nw.LazyFrame, *, by_subcluster: bool = False,
                           ) -> tuple[nw.LazyFrame, nw.LazyFrame]:
    """The reference economy as the sum of the given observed regions, per year.

    ``clusters`` holds the rows of the regions that make up the reference
    economy (by default every observed region; the atlas passes the observed
    regions that no other observed region contains, i.e. the nation). Every
    level is compared with this one economy: a level is never its own
    reference by accident.

    Returns (cluster totals E_c by year × cluster, economy totals E, E_traded,
    E_local by year).
    """
    keys = cluster_keys(by_subcluster)
    per_cluster = (clusters.filter(mapped())
                   .group_by("year", *keys).agg(nw.col("employment").sum().alias("ref_cluster")))
    economy = _by_type(clusters).group_by("year").agg(
        nw.col("employment").sum().alias("ref_total"),
        nw.col("traded").sum().alias("ref_traded"),
        nw.col("local").sum().alias("ref_local"),
    )
    return per_cluster, economy


def reference_from_totals(totals: nw.LazyFrame, definitions: nw.LazyFrame, *,
                          by_subcluster: bool = False) -> tuple[nw.LazyFrame, nw.LazyFrame]:
    """The reference economy from given industry totals (e.g. the nation's).

    ``totals`` has columns industry, year, employment. Same shapes as
    :func:`reference_from_regions`: one reference serves every level.
    """
    keys = cluster_keys(by_subcluster)
    rows = totals.join(definitions.select("industry", *keys, "type"), on="industry", how="left")
    per_cluster = (rows.filter(mapped())
                   .group_by("year", *keys).agg(nw.col("employment").sum().alias("ref_cluster")))
    economy = _by_type(rows).group_by("year").agg(
        nw.col("employment").sum().alias("ref_total"),
        nw.col("traded").sum().alias("ref_traded"),
        nw.col("local").sum().alias("ref_local"),
    )
    return per_cluster, economy


def location_quotients(rows: nw.LazyFrame) -> nw.LazyFrame:
    """Add shares, LQs and average wage to rows that carry the totals.

    Needs columns employment, payroll, type, region_employment,
    region_traded, region_local, ref_cluster, ref_total, ref_traded,
    ref_local. An LQ is 0 where the region has no jobs in the cluster and
    null only where the reference economy has none.
    """
    emp = nw.col("employment")
    is_traded = nw.col("type") == "traded"
    region_type = nw.when(is_traded).then(nw.col("region_traded")).otherwise(nw.col("region_local"))
    ref_type = nw.when(is_traded).then(nw.col("ref_traded")).otherwise(nw.col("ref_local"))
    ref_share = safe_ratio(nw.col("ref_cluster"), nw.col("ref_total"))
    ref_share_type = safe_ratio(nw.col("ref_cluster"), ref_type)

    def lq(region_share: nw.Expr, reference_share: nw.Expr) -> nw.Expr:
        return (nw.when(reference_share > 0)
                .then(nw.when(emp > 0).then(region_share / reference_share).otherwise(0.0)))

    return rows.with_columns(
        safe_ratio(emp, nw.col("region_employment")).alias("share_of_region"),
        safe_ratio(emp, nw.col("ref_cluster")).alias("share_of_cluster"),
        lq(safe_ratio(emp, nw.col("region_employment")), ref_share).alias("lq"),
        lq(safe_ratio(emp, region_type), ref_share_type).alias("lq_within_type"),
        nw.when(nw.col("payroll_cells") > 0).then(safe_ratio(nw.col("payroll"), emp)).alias("average_wage"),
    )
