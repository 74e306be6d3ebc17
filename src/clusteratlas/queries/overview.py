"""The atlas at a glance (the home page and ``GET /overview``): how many regions, whose total, which clusters.

Every total is one level's total, in one year, and says which: "jobs in the 42 prefectures (2014)". A sum
over several levels, or over a level whose regions overlap (programme regions sharing a prefecture),
counts the same jobs several times; those levels are counted, never added up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from clusteratlas.queries._core import (
    default_level,
    latest_year,
    level_counts,
    overlapping_levels,
    require,
    to_rows,
)
from clusteratlas.queries.regions import RESULTS_HINT


@dataclass
class Overview:
    """The headline figures of the atlas.

    Attributes
    ----------
    level, year
        The level and year the totals are for (:func:`~clusteratlas.queries._core.default_level`, the
        latest year).
    regions
        The regions of ``level`` with results in ``year``.
    employment
        Their total employment, all industries (mapped to a cluster or not): the jobs in the
        ``regions`` regions of ``level`` in ``year``.
    cluster_employment
        The part of ``employment`` in the definition's clusters.
    strong
        Strong region × cluster pairs at ``level`` in ``year``.
    levels
        The number of regions of every level of the results (any year): how the pages, the API and
        ``map`` count regions. ``overlapping`` names the levels whose regions overlap (never summed).
    years
        Every year of the results.
    clusters
        The clusters at ``level`` in ``year`` (:func:`~clusteratlas.queries.list_clusters`).
    """

    level: str
    year: int
    regions: int
    employment: float
    cluster_employment: float
    strong: int
    levels: dict[str, int]
    overlapping: list[str]
    years: list[int]
    clusters: pa.Table

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "year": self.year, "regions": self.regions, "employment": self.employment,
                "cluster_employment": self.cluster_employment, "strong": self.strong, "levels": self.levels,
                "overlapping": self.overlapping, "years": self.years, "clusters": to_rows(self.clusters)}


def overview(con: duckdb.DuckDBPyConnection) -> Overview:
    """The headline figures: one level's regions and jobs in the latest year, the regions of every level,
    and the clusters (see :class:`Overview`)."""
    from clusteratlas.queries.clusters import list_clusters

    require(con, "results_regions", RESULTS_HINT)
    level = default_level(con)
    year = latest_year(con, "results_regions", None)
    regions, employment = con.execute(
        "SELECT count(*), coalesce(sum(employment), 0) FROM results_regions WHERE level = ? AND year = ?",
        [level, year]).fetchall()[0]
    clusters = list_clusters(con, level=level, year=year)
    rows = clusters.table
    years = [r[0] for r in con.execute("SELECT DISTINCT year FROM results_regions ORDER BY 1").fetchall()]
    return Overview(level, int(year), int(regions), float(employment),
                    float(sum(v or 0 for v in rows.column("employment").to_pylist())),
                    int(sum(v or 0 for v in rows.column("strong_regions").to_pylist())), level_counts(con),
                    overlapping_levels(con), years, rows)
