"""Cluster ratings: European Cluster Observatory stars and US strong clusters.

Both compare a region's cluster with the same cluster in its *peers*: the
regions of the same level (or of the level ``MapParams.peer_levels`` names)
with employment > 0 in that cluster and year.
Quantiles use linear interpolation between order statistics (type 7 of
Hyndman & Fan; d3.quantile, numpy's default, DuckDB's quantile_cont), as
the US Cluster Mapping Project's code does.

European Cluster Observatory (2007 method), one star each:
  size            employment in the top ``size_top`` share of peers
  specialisation  lq >= ``specialisation_lq`` (2)
  focus           share of the region's employment in the top ``focus_top``
The 2019-2020 successor (EOCIC) replaces focus by productivity: average
wage in the top ``productivity_top`` share of peers (``eocic_stars``).

US Cluster Mapping Project (traded clusters only; local clusters get false),
with ``lqt`` = lq_within_type and size_ok = employment > P25 and
establishments > P25 of peers (the establishment test is skipped when the
data carry no establishment counts):
  qualifying   size_ok and lqt >  P25
  significant  size_ok and lqt >  P50
  strong       size_ok and lqt >= P75 and lqt >= 1
  strong10     size_ok and lqt >= P90 and lqt >= 1
"""

from __future__ import annotations

import narwhals as nw

from clusteratlas.metrics.aggregate import cluster_keys
from clusteratlas.metrics.params import MapParams


def peer_thresholds(rows: nw.LazyFrame, params: MapParams) -> nw.LazyFrame:
    """Quantiles of each cluster's peer regions, one row per level × year × cluster."""
    keys = cluster_keys(params.by_subcluster)

    def q(col: str, p: float, name: str) -> nw.Expr:
        return nw.col(col).quantile(p, interpolation="linear").alias(name)

    return (
        rows.filter(nw.col("employment") > 0)
        .group_by("level", "year", *keys)
        .agg(
            nw.len().alias("peers"),
            q("employment", 1 - params.size_top, "_size_cut"),
            q("share_of_region", 1 - params.focus_top, "_focus_cut"),
            q("average_wage", 1 - params.productivity_top, "_wage_cut"),
            q("employment", params.size_quantile, "_emp_floor"),
            q("establishments", params.size_quantile, "_est_floor"),
            nw.col("establishment_cells").sum().alias("_peer_est_cells"),
            q("lq_within_type", params.qualifying_quantile, "_lq_q"),
            q("lq_within_type", params.significant_quantile, "_lq_s"),
            q("lq_within_type", params.strong_quantile, "_lq_strong"),
            q("lq_within_type", params.strong10_quantile, "_lq_strong10"),
        )
    )


def _peer_level(params: MapParams) -> nw.Expr:
    """The level whose thresholds a row is compared with (its own unless mapped)."""
    expr: nw.Expr = nw.col("level")
    for level, peer in params.peer_levels.items():
        expr = nw.when(nw.col("level") == level).then(nw.lit(peer)).otherwise(expr)
    return expr


def rate(rows: nw.LazyFrame, params: MapParams, *, thresholds: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """Add the star criteria, stars and US strong-cluster flags to metric rows.

    ``thresholds`` are :func:`peer_thresholds` of ``rows`` when the caller
    has computed them already (e.g. year by year, to bound memory); by
    default they are computed here.
    """
    keys = cluster_keys(params.by_subcluster)
    if thresholds is None:
        thresholds = peer_thresholds(rows, params)
    if params.peer_levels:
        rows = rows.with_columns(_peer_level(params).alias("_peer_level"))
        thresholds = thresholds.rename({"level": "_peer_level"})
        on = ["_peer_level", "year", *keys]
    else:
        on = ["level", "year", *keys]
    emp, lqt = nw.col("employment"), nw.col("lq_within_type")
    positive = emp > 0
    size_ok = (positive & (emp > nw.col("_emp_floor"))
               & ((nw.col("_peer_est_cells") == 0) | (nw.col("establishments") > nw.col("_est_floor"))))
    traded_ok = (nw.col("type") == "traded") & size_ok

    def flag(expr: nw.Expr, name: str) -> nw.Expr:
        return expr.fill_null(False).alias(name)

    rated = rows.join(thresholds, on=on, how="left").with_columns(
        flag(positive & (emp >= nw.col("_size_cut")), "size"),
        flag(nw.col("lq") >= params.specialisation_lq, "specialization"),
        flag(positive & (nw.col("share_of_region") >= nw.col("_focus_cut")), "focus"),
        flag(positive & (nw.col("average_wage") >= nw.col("_wage_cut")), "productivity"),
        flag(traded_ok & (lqt > nw.col("_lq_q")), "qualifying"),
        flag(traded_ok & (lqt > nw.col("_lq_s")), "significant"),
        flag(traded_ok & (lqt >= nw.col("_lq_strong")) & (lqt >= params.min_lq), "strong"),
        flag(traded_ok & (lqt >= nw.col("_lq_strong10")) & (lqt >= params.min_lq), "strong10"),
    )
    stars = sum(nw.col(c).cast(nw.Int32) for c in ("size", "specialization", "focus"))
    eocic = sum(nw.col(c).cast(nw.Int32) for c in ("size", "specialization", "productivity"))
    return rated.with_columns(stars.alias("stars"), eocic.alias("eocic_stars")).drop(
        "_size_cut", "_focus_cut", "_wage_cut", "_emp_floor", "_est_floor", "_peer_est_cells",
        "_lq_q", "_lq_s", "_lq_strong", "_lq_strong10", *(["_peer_level"] if params.peer_levels else []),
    )
