"""Clusters: the list, a cluster's profile, its regions ranked by any metric, and the map layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from clusteratlas.queries._core import (
    TableResult,
    check_choice,
    check_level,
    columns,
    finite,
    latest_year,
    memo_active,
    memoised,
    not_found,
    require,
    split_sorted,
    tables,
    to_rows,
)
from clusteratlas.queries.classes import SCHEMES, lisa_classes, map_classes
from clusteratlas.queries.regions import CLUSTER_NAMES, RESULTS_HINT

#: Columns of the results that are not metrics.
KEYS = ("level", "region", "cluster", "subcluster", "type")


def metrics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every metric column of the cluster results (what a ranking or a map layer can show)."""
    return [c for c in columns(con, "results_clusters") if c not in KEYS and c != "year"]


def _check_cluster(con: duckdb.DuckDBPyConnection, cluster: str) -> None:
    if memo_active():  # serving: the clusters once per atlas version, then a set lookup
        found = cluster in memoised(("clusters",), lambda: {r[0] for r in con.execute(
            "SELECT DISTINCT cluster FROM results_clusters").fetchall()})
    else:
        found = con.execute("SELECT count(*) FROM (SELECT 1 FROM results_clusters WHERE cluster = ? LIMIT 1)",
                            [cluster]).fetchall()[0][0]
    if not found:
        known = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]
        raise not_found("cluster", cluster, known)


def list_clusters(con: duckdb.DuckDBPyConnection, *, level: str | None = None,
                  year: int | None = None) -> TableResult:
    """The clusters of the latest map run: code, names, type, industries, and their jobs and strong regions at
    one level (default: :func:`~clusteratlas.queries._core.default_level`) in one year (default: the latest).

    ``employment`` is the sum over the level's regions, so over a level whose regions do not overlap it
    counts each job once; ``meta`` names the level, the year and how many regions were summed.
    """
    require(con, "results_clusters", RESULTS_HINT)
    level = check_level(con, level)
    year = latest_year(con, "results_regions", year)
    table = con.sql(
        f"""SELECT c.cluster, d.cluster_name, d.cluster_name_ja, any_value(c.type) AS type,
                   sum(c.employment) AS employment, count(*) FILTER (WHERE c.strong) AS strong_regions,
                   (SELECT count(DISTINCT industry) FROM definitions x WHERE x.cluster = c.cluster AND x.definition =
                    (SELECT definition FROM map_runs ORDER BY run_at DESC LIMIT 1)) AS industries
            FROM results_clusters c LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster)
            WHERE c.level = ? AND c.year = ? GROUP BY ALL ORDER BY c.cluster""", params=[level, year]).to_arrow_table()
    regions = con.execute("SELECT count(*) FROM results_regions WHERE level = ? AND year = ?",
                          [level, year]).fetchall()[0][0]
    return TableResult(finite(table), {"level": level, "year": year, "regions": int(regions)})


@dataclass
class ClusterProfile:
    """A cluster's definition (industries with names, subclusters), its top regions and its time series."""

    cluster: str
    definition: str | None
    name: str | None
    name_ja: str | None
    type: str | None
    level: str
    year: int
    metric: str
    industries: pa.Table
    subclusters: list[str]
    ranking: pa.Table
    series: pa.Table
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "definition": self.definition, "name": self.name, "name_ja": self.name_ja,
                "type": self.type, "level": self.level, "year": self.year, "metric": self.metric,
                "industries": to_rows(self.industries), "subclusters": self.subclusters,
                "ranking": to_rows(self.ranking), "series": to_rows(self.series), "notes": self.notes}


def cluster_ranking(con: duckdb.DuckDBPyConnection, cluster: str, *, metric: str = "employment",
                    level: str | None = None, year: int | None = None, top: int | None = 20,
                    min_employment: float | None = None, order: str = "metric") -> TableResult:
    """The regions of one level ranked by any metric of one cluster (all of them when ``top`` is None).

    With ``top=None`` this is the cluster's map layer: every region's value
    at the level. ``min_employment`` leaves out cells with fewer jobs (before
    the top is taken). ``order="stars"`` lists the top regions by stars, then
    by the metric (what ``show cluster`` prints); ``rank`` stays the rank by
    the metric. ``meta['notes']`` warns when the level has few peer regions.
    """
    require(con, "results_clusters", RESULTS_HINT)
    _check_cluster(con, cluster)
    return _rankings(con, cluster, metric=metric, level=level, year=year, top=top, min_employment=min_employment,
                     order=order)[cluster]()


def cluster_rankings(con: duckdb.DuckDBPyConnection, *, metric: str = "employment", level: str | None = None,
                     year: int | None = None, top: int | None = 20, min_employment: float | None = None,
                     order: str = "metric") -> dict[str, Callable[[], TableResult]]:
    """Every cluster's ranking (as :func:`cluster_ranking` with the same arguments) from one query: for storing
    them all when ``map`` runs (:mod:`clusteratlas.queries.answers`). Each cluster maps to a function that
    returns its ranking with its notes in the current language."""
    require(con, "results_clusters", RESULTS_HINT)
    return _rankings(con, None, metric=metric, level=level, year=year, top=top, min_employment=min_employment,
                     order=order)


def cluster_levels(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Each cluster of the latest map's results with the region levels it has results at (any year), sorted;
    by cluster code (the cluster pages there are: one per level)."""
    if "results_clusters" not in tables(con):
        return {}
    return {c: list(levels) for c, levels in con.execute(
        "SELECT cluster, list(DISTINCT level ORDER BY level) FROM results_clusters GROUP BY cluster "
        "ORDER BY cluster").fetchall()}


def _all_clusters(con: duckdb.DuckDBPyConnection, cluster: str | None) -> list[str]:
    if cluster is not None:
        return [cluster]
    return [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]


def _rankings(con: duckdb.DuckDBPyConnection, cluster: str | None, *, metric: str, level: str | None,
              year: int | None, top: int | None, min_employment: float | None,
              order: str) -> dict[str, Callable[[], TableResult]]:
    """The rankings of one cluster (``cluster``) or of every cluster (None): the one way both are computed."""
    from clusteratlas.queries.regions import one_year_notes, small_n_notes

    metric = check_choice("metric", metric, metrics(con))
    order = check_choice("order", order, ("metric", "stars"))
    level = check_level(con, level)
    year = latest_year(con, "results_regions", year)
    one = "AND cluster = ?" if cluster is not None else ""
    where = "AND employment >= ?" if min_employment else ""
    params: list[Any] = [year, level, *([cluster] if cluster is not None else []),
                         *([min_employment] if min_employment else [])]
    # the rank is the order by the metric within the cluster; the top rows first, then names for those only
    limit = "" if top is None else "QUALIFY rank <= ?"
    final = "stars DESC NULLS LAST, \"{m}\" DESC NULLS LAST, rank" if order == "stars" else "rank"
    table = con.sql(
        f"""SELECT c.*, r.name, r.name_ja, d.cluster_name, d.cluster_name_ja
            FROM (SELECT row_number() OVER (PARTITION BY cluster ORDER BY "{metric}" DESC NULLS LAST, region) AS rank,
                         * FROM results_clusters WHERE year = ? AND level = ? {one} {where} {limit}) c
            LEFT JOIN regions r USING (region) LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster)
            ORDER BY c.cluster, {final.format(m=metric)}""", params=params + ([top] if top is not None else [])
    ).to_arrow_table()
    tables_by_cluster = split_sorted(finite(table), "cluster", _all_clusters(con, cluster))
    years = memoised(("years_at", level), lambda: [r[0] for r in con.execute(
        "SELECT DISTINCT year FROM results_regions WHERE level = ? ORDER BY 1", [level]).fetchall()])

    def finish(name: str, ranked: pa.Table) -> Callable[[], TableResult]:
        return lambda: TableResult(ranked, {"cluster": name, "metric": metric, "level": level, "year": year,
                                            "years": years,
                                            "notes": [*small_n_notes(con, level, year), *one_year_notes(years)]})

    return {name: finish(name, ranked) for name, ranked in tables_by_cluster.items()}


def names(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, tuple[str | None, str | None]]:
    """Code -> (English, Japanese) name of regions, clusters (the latest mapped definition's name first, else
    any definition's) or industries: relatedness and hot-spot results hold codes only.

    Codes without any name are left out; an atlas without the table gives {}.
    """
    kind = check_choice("kind", kind, ("region", "cluster", "industry"))
    if kind == "region":
        sql = "SELECT region, name, name_ja FROM regions"
    elif kind == "cluster":
        if "map_runs" not in tables(con) or "definitions" not in tables(con):
            return {}
        latest = "(definition = (SELECT definition FROM map_runs ORDER BY run_at DESC LIMIT 1)) DESC NULLS LAST"
        sql = (f"SELECT cluster, any_value(cluster_name ORDER BY {latest}), "
               f"any_value(cluster_name_ja ORDER BY {latest}) FROM definitions GROUP BY cluster")
    else:
        sql = "SELECT industry, name, name_ja FROM industries"
    if sql.split(" FROM ")[-1].split()[0] not in tables(con):
        return {}
    return {code: (en, ja) for code, en, ja in con.execute(sql).fetchall() if en or ja}


def map_layer(con: duckdb.DuckDBPyConnection, cluster: str, *, metric: str = "lq", level: str | None = None,
              year: int | None = None, classes: str = "auto") -> TableResult:
    """Every region's value of one metric of one cluster at one level (what a choropleth map draws), and the
    map's classes in ``meta['classes']`` (:func:`~clusteratlas.queries.classes.map_classes`; ``lisa``: the
    hot spots of the latest stored run of this cluster and level, or the reason there are none)."""
    require(con, "results_clusters", RESULTS_HINT)
    _check_cluster(con, cluster)
    return _map_layers(con, cluster, metric=metric, level=level, year=year, classes=classes)[cluster]()


def map_layers(con: duckdb.DuckDBPyConnection, *, metric: str = "lq", level: str | None = None,
               year: int | None = None, classes: str = "auto") -> dict[str, Callable[[], TableResult]]:
    """Every cluster's map layer (as :func:`map_layer` with the same arguments) from one query; each cluster
    maps to a function that returns its layer in the current language."""
    require(con, "results_clusters", RESULTS_HINT)
    return _map_layers(con, None, metric=metric, level=level, year=year, classes=classes)


def _map_layers(con: duckdb.DuckDBPyConnection, cluster: str | None, *, metric: str, level: str | None,
                year: int | None, classes: str) -> dict[str, Callable[[], TableResult]]:
    """The map layers of one cluster (``cluster``) or of every cluster (None): the one way both are computed."""
    metric = check_choice("metric", metric, metrics(con))
    scheme = check_choice("classes", classes, SCHEMES)
    level = check_level(con, level)
    year = latest_year(con, "results_regions", year)
    one = "AND c.cluster = ?" if cluster is not None else ""
    table = con.sql(f"""SELECT c.region, r.name, r.name_ja, c."{metric}" AS value, c.employment, c.stars, c.strong,
                               c.cluster AS "__cluster"
                        FROM results_clusters c LEFT JOIN regions r USING (region)
                        WHERE c.year = ? AND c.level = ? {one} ORDER BY c.cluster, c.region""",
                    params=[year, level, *([cluster] if cluster is not None else [])]).to_arrow_table()
    layers = split_sorted(finite(table), "__cluster", _all_clusters(con, cluster), drop=True)

    def finish(name: str, layer: pa.Table) -> Callable[[], TableResult]:
        def answer() -> TableResult:
            found = (lisa_classes(_lisa_quadrants(con, name, level), level=level, cluster=name) if scheme == "lisa"
                     else map_classes(layer["value"].to_pylist(), metric, scheme))
            return TableResult(layer, {"cluster": name, "metric": metric, "level": level, "year": year,
                                       "classes": found.as_dict()})
        return answer

    return {name: finish(name, layer) for name, layer in layers.items()}


def _lisa_quadrants(con: duckdb.DuckDBPyConnection, cluster: str, level: str) -> dict[str, tuple[int, bool]] | None:
    """``{region: (quadrant, significant)}`` of the latest stored LQ hot-spot run of ``cluster`` at ``level``;
    None when there is none."""
    if "hotspots" not in tables(con):
        return None
    rows = con.execute("""SELECT region, quadrant, significant FROM hotspots
                          WHERE breakdown = 'cluster' AND value = 'lq' AND item = ? AND level = ?
                            AND year = (SELECT max(year) FROM hotspots WHERE breakdown = 'cluster' AND value = 'lq'
                                        AND item = ? AND level = ?)""", [cluster, level, cluster, level]).fetchall()
    return {r: (int(q or 0), bool(s)) for r, q, s in rows} or None


def cluster_profile(con: duckdb.DuckDBPyConnection, cluster: str, *, metric: str = "employment",
                    level: str | None = None, year: int | None = None, top: int = 20) -> ClusterProfile:
    """Definition, subclusters, industries (with names), top regions by ``metric`` and national series."""
    require(con, "results_clusters", RESULTS_HINT)
    _check_cluster(con, cluster)
    return _profiles(con, cluster, metric=metric, level=level, year=year, top=top)[cluster]()


def cluster_profiles(con: duckdb.DuckDBPyConnection, *, metric: str = "employment", level: str | None = None,
                     year: int | None = None, top: int = 20) -> dict[str, Callable[[], ClusterProfile]]:
    """Every cluster's profile (as :func:`cluster_profile` with the same arguments) from a few queries; each
    cluster maps to a function that returns its profile in the current language."""
    require(con, "results_clusters", RESULTS_HINT)
    return _profiles(con, None, metric=metric, level=level, year=year, top=top)


def _profiles(con: duckdb.DuckDBPyConnection, cluster: str | None, *, metric: str, level: str | None,
              year: int | None, top: int) -> dict[str, Callable[[], ClusterProfile]]:
    """The profiles of one cluster (``cluster``) or of every cluster (None): the one way both are computed."""
    rankings = _rankings(con, cluster, metric=metric, level=level, year=year, top=top, min_employment=None,
                         order="metric")
    if not rankings:
        return {}
    meta = next(iter(rankings.values()))().meta
    level, year, metric = meta["level"], meta["year"], meta["metric"]
    run = con.execute("SELECT definition FROM map_runs ORDER BY run_at DESC LIMIT 1").fetchall()
    definition = run[0][0] if run else None
    one = "AND d.cluster = ?" if cluster is not None else ""
    picked = [cluster] if cluster is not None else []
    industries = split_sorted(con.sql(
        f"""SELECT d.industry, i.name, i.name_ja, d.subcluster, d.type, d.cluster AS "__cluster" FROM definitions d
           LEFT JOIN industries i USING (industry) WHERE d.definition = ? {one}
           ORDER BY d.cluster, d.industry""", params=[definition, *picked]).to_arrow_table(),
        "__cluster", list(rankings), drop=True)
    found = {r[0]: r[1:] for r in con.execute(
        f"SELECT cluster, cluster_name, cluster_name_ja, cluster_type FROM ({CLUSTER_NAMES}) d WHERE true {one}",
        picked).fetchall()}
    series = split_sorted(finite(con.sql(
        f"""SELECT year, sum(employment) AS employment, count(*) FILTER (WHERE employment > 0) AS regions,
                  count(*) FILTER (WHERE strong) AS strong_regions, sum(establishments) AS establishments,
                  sum(payroll) AS payroll, cluster AS "__cluster"
           FROM results_clusters d WHERE level = ? {one} GROUP BY cluster, year ORDER BY cluster, year""",
        params=[level, *picked]).to_arrow_table()), "__cluster", list(rankings), drop=True)

    def finish(name: str, ranking: Callable[[], TableResult]) -> Callable[[], ClusterProfile]:
        listed = industries[name]
        subclusters = sorted({s for s in listed["subcluster"].to_pylist() if s})
        name_en, name_ja, ctype = found.get(name, (None, None, None))

        def profile() -> ClusterProfile:
            ranked = ranking()
            return ClusterProfile(name, definition, name_en, name_ja, ctype, level, year, metric, listed,
                                  subclusters, ranked.table, series[name], ranked.meta["notes"])
        return profile

    return {name: finish(name, ranking) for name, ranking in rankings.items()}


def related_clusters(con: duckdb.DuckDBPyConnection, item: str, *, top: int = 10,
                     level: str | None = None) -> TableResult:
    """The clusters (or industries) most related to ``item`` in one relate run: the latest that has it, at
    ``level`` when a run there has it (default: the default level first), each related cluster once."""
    from clusteratlas.queries._core import default_level

    require(con, "relate_pairs", "Run 'clusteratlas relate' first")
    # runs of several levels in one year (the demo relates counties and states) are never mixed
    run = con.execute("SELECT year, level FROM relate_pairs WHERE item = ? GROUP BY year, level "
                      "ORDER BY (level = ?) DESC, year DESC, (level = ?) DESC, level LIMIT 1",
                      [item, level, default_level(con) if "results_regions" in tables(con) else None]).fetchall()
    year, level = run[0] if run else (None, None)
    table = con.sql(
        f"""SELECT p.*, d.cluster_name AS related_name, d.cluster_name_ja AS related_name_ja
            FROM relate_pairs p LEFT JOIN ({CLUSTER_NAMES}) d ON d.cluster = p.related
            WHERE p.item = ? AND p.year = ? AND p.level IS NOT DISTINCT FROM ?
            ORDER BY p.rank, p.related LIMIT ?""", params=[item, year, level, top]).to_arrow_table()
    if table.num_rows == 0:
        known = [r[0] for r in con.execute("SELECT DISTINCT item FROM relate_pairs ORDER BY 1").fetchall()]
        raise not_found("cluster or industry", item, known)
    return TableResult(finite(table), {"item": item, "year": year, "level": level})
