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
import pyarrow.compute as pc

from clusteratlas.queries._core import (
    TableResult,
    default_level,
    latest_year,
    level_counts,
    overlapping_levels,
    require,
    tables,
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
        The clusters at ``level`` in ``year`` (:func:`~clusteratlas.queries.list_clusters`), largest (most jobs)
        first, then by id.
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

    @property
    def all_regions(self) -> int:
        """The regions of every level, each level's counted (a region at two levels counts twice): the home
        page's number of regions, beside the count per level."""
        return sum(self.levels.values())

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "year": self.year, "regions": self.regions, "all_regions": self.all_regions,
                "employment": self.employment,
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
    rows = list_clusters(con, level=level, year=year).table  # by id
    size = pa.table({"jobs": pc.fill_null(rows["employment"], 0), "cluster": rows["cluster"]})
    rows = rows.take(pc.sort_indices(size, sort_keys=[("jobs", "descending"), ("cluster", "ascending")]))
    years = [r[0] for r in con.execute("SELECT DISTINCT year FROM results_regions ORDER BY 1").fetchall()]
    return Overview(level, int(year), int(regions), float(employment),
                    float(sum(v or 0 for v in rows.column("employment").to_pylist())),
                    int(sum(v or 0 for v in rows.column("strong_regions").to_pylist())), level_counts(con),
                    overlapping_levels(con), years, rows)


def home_level(con: duckdb.DuckDBPyConnection) -> str | None:
    """The level the home map shows: the default level (:func:`~clusteratlas.queries._core.default_level`) when
    it has shapes, else the level with shapes that has the most regions; None when no level has shapes."""
    from clusteratlas.queries.geometry import geometry_levels

    shaped = geometry_levels(con)
    if not shaped or "results_regions" not in tables(con):
        return None
    counts = level_counts(con)
    if counts and default_level(con) in shaped:
        return default_level(con)
    with_results = [lv for lv in counts if lv in shaped]  # level_counts is largest level first
    return with_results[0] if with_results else None


def strong_map(con: duckdb.DuckDBPyConnection, *, level: str | None = None, year: int | None = None) -> TableResult:
    """Every region of ``level`` in ``year`` (default: the default level, the latest year) with its number of
    strong clusters (``value``) and its jobs: the home map's layer, with its classes in ``meta['classes']``."""
    from clusteratlas.queries._core import check_level
    from clusteratlas.queries.classes import map_classes

    require(con, "results_regions", RESULTS_HINT)
    level = check_level(con, level)
    year = latest_year(con, "results_regions", year)
    table = con.sql("""SELECT g.region, r.name, r.name_ja, coalesce(c.strong, 0) AS value, g.employment,
                              coalesce(c.strong, 0) AS strong_clusters
                       FROM results_regions g
                       LEFT JOIN (SELECT region, count(*) FILTER (WHERE strong) AS strong FROM results_clusters
                                  WHERE level = ? AND year = ? GROUP BY region) c USING (region)
                       LEFT JOIN (SELECT region, any_value(name) AS name, any_value(name_ja) AS name_ja
                                  FROM regions GROUP BY region) r USING (region)
                       WHERE g.level = ? AND g.year = ? ORDER BY g.region""",
                    params=[level, year, level, year]).to_arrow_table()
    classes = map_classes(table["value"].to_pylist(), "strong_clusters")
    return TableResult(table, {"metric": "strong_clusters", "level": level, "year": year,
                               "classes": classes.as_dict()})


def region_index(con: duckdb.DuckDBPyConnection, *, per_level: int = 1000) -> dict[str, Any]:
    """The regions with results, by level (largest level first), each with its names and its jobs in its latest
    year, at most ``per_level`` per level by name (``more`` counts the rest, ``count`` all of them): the home page's
    lists."""
    require(con, "results_regions", RESULTS_HINT)
    rows = con.execute("""SELECT g.level, g.region, r.name, r.name_ja, g.employment FROM results_regions g
                          LEFT JOIN (SELECT region, any_value(name) AS name, any_value(name_ja) AS name_ja
                                     FROM regions GROUP BY region) r USING (region)
                          WHERE g.year = (SELECT max(year) FROM results_regions x WHERE x.level = g.level)
                          ORDER BY g.level, coalesce(r.name, g.region), g.region""").fetchall()
    levels: dict[str, dict[str, Any]] = {lv: {"regions": [], "more": 0, "count": 0} for lv in level_counts(con)}
    for level, region, name, name_ja, employment in rows:
        entry = levels.setdefault(level, {"regions": [], "more": 0, "count": 0})
        entry["count"] += 1
        if len(entry["regions"]) < per_level:
            entry["regions"].append({"region": region, "name": name, "name_ja": name_ja, "employment": employment})
        else:
            entry["more"] += 1
    return levels
