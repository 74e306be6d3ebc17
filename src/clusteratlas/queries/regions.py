"""Regions: list and search, a region's profile, and comparing regions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import (
    MAX_PAGE,
    TableResult,
    decode_cursor,
    encode_cursor,
    finite,
    memoised,
    not_found,
    plain,
    query_key,
    require,
    tables,
    to_rows,
)

#: Cluster names of the definition used by the latest map run (one row per cluster).
CLUSTER_NAMES = ("SELECT cluster, any_value(cluster_name) AS cluster_name, any_value(cluster_name_ja) "
                 "AS cluster_name_ja, any_value(type) AS cluster_type FROM definitions WHERE definition = "
                 "(SELECT definition FROM map_runs ORDER BY run_at DESC LIMIT 1) GROUP BY cluster")
RESULTS_HINT = "Run 'clusteratlas map' first"


def _known_regions(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for every region the atlas knows: the region list, and mapped regions not in it."""
    if "results_regions" in tables(con):
        return ("SELECT region, name, name_ja, level FROM regions UNION ALL "
                "SELECT DISTINCT region, NULL, NULL, level FROM results_regions "
                "WHERE region NOT IN (SELECT region FROM regions)")
    return "SELECT region, name, name_ja, level FROM regions"


def list_regions(con: duckdb.DuckDBPyConnection, *, q: str | None = None, level: str | None = None,
                 parent: str | None = None, limit: int = 100, cursor: str | None = None) -> TableResult:
    """Regions by id or name (English or Japanese, case-insensitive substring), level and parent.

    ``parent`` finds the regions directly below it in any hierarchy, and the
    members of a custom region. Paged: ``meta['next']`` is the cursor of the
    next page (None on the last).
    """
    limit = max(1, min(int(limit), MAX_PAGE))
    key = query_key(q=q, level=level, parent=parent)
    offset = decode_cursor(cursor, key)
    where, params = ["true"], []
    if q:
        where.append("(contains(lower(k.region), lower(?)) OR contains(lower(coalesce(k.name, '')), lower(?)) "
                     "OR contains(coalesce(k.name_ja, ''), ?))")
        params += [q, q, q]
    if level:
        where.append("k.level = ?")
        params.append(level)
    if parent:
        where.append("(k.region IN (SELECT region FROM region_links WHERE parent = ?) "
                     "OR k.region IN (SELECT member FROM custom_members WHERE region = ?))")
        params += [parent, parent]
    sql = (f"SELECT k.region, k.name, k.name_ja, k.level, "
           f"(SELECT list(DISTINCT l.parent ORDER BY l.parent) FROM region_links l WHERE l.region = k.region) "
           f"AS parents FROM ({_known_regions(con)}) k WHERE {' AND '.join(where)}")
    total = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchall()[0][0]
    table = con.sql(f"{sql} ORDER BY k.level, k.region LIMIT ? OFFSET ?",
                    params=[*params, limit, offset]).to_arrow_table()
    nxt = encode_cursor(offset + limit, key) if offset + limit < total else None
    return TableResult(table, {"total": total, "offset": offset, "limit": limit, "next": nxt})


def mapped_regions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every region the latest map stored results for (any level, any year), by level and id: the regions
    that have a profile."""
    if "results_regions" not in tables(con):
        return []
    return [r[0] for r in con.execute("SELECT region FROM results_regions GROUP BY level, region "
                                      "ORDER BY level, region").fetchall()]


def region_levels(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Each region the latest map stored results for, with the levels it has results at (any year), sorted; by
    region id. A region with one level has one page (its address without ``?level=`` is that level's page):
    the static edition publishes it once."""
    if "results_regions" not in tables(con):
        return {}
    return {r: list(levels) for r, levels in con.execute(
        "SELECT region, list(DISTINCT level ORDER BY level) FROM results_regions GROUP BY region ORDER BY region"
    ).fetchall()}


def known_regions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every region the atlas knows (the region list, and mapped regions not in it) with its names and level,
    by level and id: what the search and the suggestions look through (:func:`list_regions` pages the same
    rows), and what the static edition's search index holds."""
    return to_rows(con.sql(f"SELECT region, name, name_ja, level FROM ({_known_regions(con)}) "
                           "ORDER BY level, region").to_arrow_table())


def _region_choices(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions ORDER BY 1 LIMIT 5000"
                                      ).fetchall()]


def _region_level(con: duckdb.DuckDBPyConnection, region: str, level: str | None) -> str:
    levels = [r[0] for r in con.execute("SELECT DISTINCT level FROM results_regions WHERE region = ? ORDER BY 1",
                                        [region]).fetchall()]
    if not levels:
        raise not_found("region", region, _region_choices(con))
    if level is None:
        return levels[0]
    if level not in levels:
        raise InputError(_("the region has no results at this level"), value=level, expected=", ".join(levels))
    return level


@dataclass
class RegionProfile:
    """A region's summary for one year, every cluster with every metric, its time series and opportunities.

    ``opportunities`` are the clusters the region is not specialised in,
    ranked by relatedness density (from the latest ``relate`` run at the
    region's level; empty, with a note, when there is none).
    """

    region: str
    level: str
    year: int
    summary: dict[str, Any]
    clusters: pa.Table
    series: pa.Table
    opportunities: pa.Table
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "level": self.level, "year": self.year, "summary": plain(self.summary),
                "clusters": to_rows(self.clusters), "series": to_rows(self.series),
                "opportunities": to_rows(self.opportunities), "notes": self.notes}


#: Below this many peer regions a level's "top 10 %" stars go to a handful of regions: the notes say so.
SMALL_N = 100


def small_n_notes(con: duckdb.DuckDBPyConnection, level: str, year: int) -> list[str]:
    """A note when a level has few regions: the size and focus stars (top 10 % of peers) then go to a
    handful of regions, and an LQ ranking favours small cells. Empty for a level of 100 regions or more."""
    n = memoised(("regions_at", level, year), lambda: con.execute(
        "SELECT count(DISTINCT region) FROM results_clusters WHERE level = ? AND year = ?", [level, year]
    ).fetchall()[0][0]) or 0
    if not n or n >= SMALL_N:
        return []
    top = max(1, math.ceil(n * 0.10))
    from clusteratlas.report import level_name

    return [_("note:") + " " + _(
        "only {n} {level_name} regions: the size and focus stars (top 10 % of peers) go to about {top} region(s) per "
        "cluster; compare with more peers (map --peers {level}=municipality when municipal data are imported) or "
        "rank only cells of some size (--min-employment).").format(n=n, level=level, level_name=level_name(level),
                                                                   top=top)]


def one_year_notes(years: list[int]) -> list[str]:
    """A note when the results have one year only: there is no growth and no time series to show."""
    if len(years) != 1:
        return []
    return [_("note:") + " " + _("one year only ({year}): no growth figures and no time series.").format(
        year=years[0])]


def _derived(year: int, summary: dict[str, Any], series: list[dict[str, Any]],
             payroll: tuple[Any, Any]) -> dict[str, Any]:
    """The summary figures a region's page shows beyond its results row, each defined once here.

    ``traded_share``: traded_employment / employment. ``average_wage``: payroll / employment of the region's
    clusters that have payroll data (``payroll``: those two sums), in currency units per job and year
    (docs/data-model.md). ``years``: the years with results. ``base_year`` and ``employment_growth``: the first
    of them and the growth of the region's employment since then (employment / employment in base_year − 1);
    None with one year only, or in the base year itself.
    """
    employment = summary.get("employment")
    paid_payroll, paid = payroll
    years = [r["year"] for r in series]
    first = series[0] if series else None
    growth = None
    if first and len(years) > 1 and first["year"] != year and first["employment"] and employment is not None:
        growth = employment / first["employment"] - 1
    return {"traded_share": summary["traded_employment"] / employment if employment else None,
            "average_wage": float(paid_payroll) / float(paid) if paid_payroll is not None and paid else None,
            "years": years, "base_year": first["year"] if first and len(years) > 1 else None,
            "employment_growth": growth}


def region_profile(con: duckdb.DuckDBPyConnection, region: str, *, year: int | None = None,
                   level: str | None = None, include_empty: bool = False, opportunities: int = 10,
                   min_employment: float = 0.0) -> RegionProfile:
    """Everything the atlas knows about one region's clusters, ranked by stars then employment.

    Ranked by stars, then employment (then US rating and LQ): a cell of a few
    dozen jobs with a high LQ does not come first. ``min_employment`` leaves
    out smaller cells. ``summary`` is the region's results row with its names
    and the figures the pages show beside it (traded share, average wage,
    years, growth: see :func:`_derived`). ``notes`` holds, as plain text: a
    programme region's coverage and declared fields beside their statistics,
    a warning when the level has few peer regions, "one year only" when the
    results have one year, and (when ``opportunities`` > 0 and there is no
    relate run) how to get opportunities.

    The same questions as :func:`region_profiles` asks for every region of a level, restricted to this one.
    """
    require(con, "results_regions", RESULTS_HINT)
    level = _region_level(con, region, level)
    if year is not None:
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM results_regions WHERE region = ? "
                                           "AND level = ? ORDER BY 1", [region, level]).fetchall()]
        if year not in years:
            raise InputError(_("no results for this year"), value=year, expected=", ".join(map(str, years)))
    return _profiles(con, level, (region, region), year=year, include_empty=include_empty,
                     opportunities=opportunities, min_employment=min_employment)[region]()


def region_profiles(con: duckdb.DuckDBPyConnection, level: str, *, year: int | None = None,
                    include_empty: bool = False, opportunities: int = 10, min_employment: float = 0.0,
                    between: tuple[str, str] | None = None) -> dict[str, Callable[[], RegionProfile]]:
    """Every region's profile at ``level`` (as :func:`region_profile` with the same arguments), from a few
    whole-level queries: for storing them all when ``map`` runs (:mod:`clusteratlas.queries.answers`).

    Each region maps to a function that returns its profile in the current language: the tables are read
    once, only the notes are written per call. ``year=None`` is each region's latest year; a region
    without results in ``year`` is left out. ``between=(first, last)``: only the regions whose ids are in
    that range (inclusive), so that a large level is asked in parts of bounded size.
    """
    require(con, "results_regions", RESULTS_HINT)
    return _profiles(con, level, between, year=year, include_empty=include_empty, opportunities=opportunities,
                     min_employment=min_employment)


def _profiles(con: duckdb.DuckDBPyConnection, level: str, span: tuple[str, str] | None, *, year: int | None,
              include_empty: bool, opportunities: int,
              min_employment: float) -> dict[str, Callable[[], RegionProfile]]:
    """The profiles of one region (``span`` = (region, region)), of the regions whose ids are in ``span``, or
    of every region at ``level`` (None): the one way all are computed. Each query reads the picked (region,
    year) pairs and is split per region in Arrow."""
    from clusteratlas.queries._core import split_sorted

    # one region or a range: its ids in every query too, so DuckDB reads its rows only (not the level's)
    mine: list[str] = [] if span is None else [span[0]] if span[0] == span[1] else list(span)
    test = "" if span is None else "= ?" if len(mine) == 1 else "BETWEEN ? AND ?"
    one = f"AND region {test}" if mine else ""
    picked_year = "max(year)" if year is None else "any_value(?)"
    picked_params: list[Any] = ([] if year is None else [year]) + [level] + mine
    having = "" if year is None else "HAVING bool_or(year = ?)"
    if year is not None:
        picked_params.append(year)
    picked = (f"picked AS (SELECT region, {picked_year} AS year, list(DISTINCT year ORDER BY year) AS years "
              f"FROM results_regions WHERE level = ? {one} GROUP BY region {having})")

    def only(alias: str) -> str:
        return f"AND {alias}.region {test}" if mine else ""

    def table(sql: str, params: list[Any]) -> pa.Table:
        return finite(con.sql(f"WITH {picked} {sql}", params=[*picked_params, *params]).to_arrow_table())

    chosen = con.execute(f"WITH {picked} SELECT region, year, years FROM picked ORDER BY region",
                         picked_params).fetchall()
    summaries = con.sql(f"WITH {picked} SELECT s.*, r.name, r.name_ja FROM results_regions s JOIN picked p "
                        f"ON p.region = s.region AND p.year = s.year LEFT JOIN regions r ON r.region = s.region "
                        f"WHERE s.level = ? {only('s')} ORDER BY s.region",
                        params=[*picked_params, level, *mine]).to_arrow_table()
    summaries = {row["region"]: row for row in summaries.to_pylist()}
    keys = [r for r, *_ in chosen]
    clusters = split_sorted(table(
        f"""SELECT c.*, d.cluster_name, d.cluster_name_ja FROM results_clusters c
        JOIN picked p ON p.region = c.region AND p.year = c.year LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster)
        WHERE c.level = ? {only('c')} {'' if include_empty else 'AND c.employment > 0'}
          AND (? <= 0 OR c.employment >= ?)
        ORDER BY c.region, c.stars DESC NULLS LAST, c.employment DESC NULLS LAST, c.strong DESC, c.lq DESC,
                 c.cluster""", [level, *mine, min_employment, min_employment]), "region", keys)
    series = split_sorted(table(f"SELECT s.* FROM results_regions s WHERE s.level = ? {only('s')} AND s.region IN "
                                "(SELECT region FROM picked) ORDER BY s.region, s.year", [level, *mine]), "region",
                          keys)
    payroll = {r[0]: r[1:] for r in con.execute(
        f"WITH {picked} SELECT c.region, sum(c.payroll), sum(c.employment) FROM results_clusters c JOIN picked p "
        f"ON p.region = c.region AND p.year = c.year WHERE c.level = ? {only('c')} AND c.payroll IS NOT NULL "
        f"GROUP BY c.region", [*picked_params, level, *mine]).fetchall()}
    # a programme region's declared fields are read from every cluster, with jobs or not
    from clusteratlas.reference.programmes import is_programme_region

    programmes = [r for r, *_ in chosen if is_programme_region(r)]
    cells: dict[str, pa.Table] = {}
    if programmes:
        marks = ", ".join("?" for _ in programmes)
        cells = split_sorted(table(
            f"""SELECT c.region, c.cluster, c.lq, c.stars, d.cluster_name, d.cluster_name_ja FROM results_clusters c
            JOIN picked p ON p.region = c.region AND p.year = c.year LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster)
            WHERE c.level = ? AND c.region IN ({marks}) ORDER BY c.region""", [level, *programmes]),
            "region", drop=True)
    opps: dict[str, pa.Table] = {}
    empty_opps = pa.table({"item": pa.array([], pa.string())})
    if "relate_cells" in tables(con):
        found = table(
            f"""SELECT c.item AS cluster, d.cluster_name, d.cluster_name_ja, c.year, c.density, c.cog, c.rca,
                       c.employment, c.region AS "__region"
                FROM relate_cells c LEFT JOIN ({CLUSTER_NAMES}) d ON d.cluster = c.item
                JOIN (SELECT region, max(year) AS year FROM relate_cells r WHERE level = ? {only('r')}
                      AND breakdown = 'cluster' GROUP BY region) latest
                  ON latest.region = c.region AND latest.year = c.year
                WHERE c.level = ? {only('c')} AND c.breakdown = 'cluster' AND NOT c.presence
                  AND c.region IN (SELECT region FROM picked)
                QUALIFY row_number() OVER (PARTITION BY c.region ORDER BY c.density DESC NULLS LAST, c.item) <= ?
                ORDER BY c.region, c.density DESC NULLS LAST, c.item""", [level, *mine, level, *mine, opportunities])
        opps = split_sorted(found, "__region", keys, drop=True)

    def finish(region: str, year: int, years: list[int]) -> Callable[[], RegionProfile]:
        summary = dict(summaries[region])
        region_series = series[region]
        summary.update(_derived(year, summary, region_series.to_pylist(), tuple(payroll.get(region, (None, None)))))
        region_opps = opps.get(region, empty_opps)  # no relate run: an empty table of its own
        region_cells = cells.get(region)

        def profile() -> RegionProfile:
            from clusteratlas.reference.programmes import profile_notes

            notes: list[str] = [*(profile_notes(con, region, region_cells) if region_cells is not None else []),
                                *small_n_notes(con, level, year), *one_year_notes(years)]
            if region_opps.num_rows == 0 and opportunities > 0:
                notes.append(_("note:") + " " + _("no relatedness results for this region's level: run "
                                                  "'clusteratlas relate --level {level}' to list opportunities"
                                                  ).format(level=level))
            return RegionProfile(region, level, year, dict(summary), clusters[region],
                                 region_series, region_opps, list(notes))
        return profile

    return {r: finish(r, y, ys) for r, y, ys in chosen if r in summaries}


def region_clusters(con: duckdb.DuckDBPyConnection, region: str, *, year: int | None = None,
                    level: str | None = None, include_empty: bool = False) -> TableResult:
    """A region's clusters with every metric (the table of :func:`region_profile`), strongest first."""
    profile = region_profile(con, region, year=year, level=level, include_empty=include_empty, opportunities=0)
    return TableResult(profile.clusters, {"region": profile.region, "level": profile.level, "year": profile.year})


def compare_regions(con: duckdb.DuckDBPyConnection, regions: list[str], *, year: int | None = None,
                    level: str | None = None, metric: str = "lq") -> TableResult:
    """Two to 25 regions side by side: every cluster with every metric, one row per region × cluster.

    ``meta['summaries']`` holds each region's summary row; ``meta['metric']``
    names the metric the rows are sorted by.
    """
    from clusteratlas.queries._core import check_choice, columns

    require(con, "results_clusters", RESULTS_HINT)
    unique = list(dict.fromkeys(regions))
    if not 2 <= len(unique) <= 25:
        raise InputError(_("compare needs 2 to 25 different regions"), value=len(unique),
                         expected=_("a comma-separated list of 2 to 25 region ids"))
    metric = check_choice("metric", metric, [c for c in columns(con, "results_clusters")
                                             if c not in ("level", "region", "cluster", "subcluster", "type")])
    levels = {r: _region_level(con, r, level) for r in unique}
    if year is None:
        year = con.execute("SELECT max(year) FROM results_regions").fetchall()[0][0]
    marks = ", ".join("?" for _ in unique)
    pairs = [x for r in unique for x in (r, levels[r])]
    match = " OR ".join("(c.region = ? AND c.level = ?)" for _ in unique)
    table = con.sql(
        f"""SELECT c.*, d.cluster_name, d.cluster_name_ja, r.name AS region_name, r.name_ja AS region_name_ja
        FROM results_clusters c LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster) LEFT JOIN regions r USING (region)
        WHERE ({match}) AND c.year = ? ORDER BY c.cluster, "{metric}" DESC NULLS LAST, c.region""",
        params=[*pairs, year]).to_arrow_table()
    if table.num_rows == 0:
        raise InputError(_("no results for these regions in this year"), value=year)
    summaries = con.sql(f"SELECT s.*, r.name, r.name_ja FROM results_regions s LEFT JOIN regions r USING (region) "
                        f"WHERE s.region IN ({marks}) AND s.year = ? ORDER BY s.region",
                        params=[*unique, year]).to_arrow_table()
    table = finite(table)
    return TableResult(table, {"regions": unique, "year": year, "metric": metric,
                               "summaries": to_rows(finite(summaries)),
                               "differences": largest_differences(to_rows(table), metric)})


def largest_differences(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Per cluster of the compared regions' rows (one per region × cluster, as :func:`compare_regions` returns
    them), the region where ``metric`` is highest and the one where it is lowest, and their difference
    (``spread`` = high − low), largest spread first (then by cluster).

    A cluster with fewer than two regions with a value, or with the same value in every region (no region is
    higher than another), has no difference and is left out. Ties go to the smaller region id. Booleans
    (``strong``) count as 1 and 0.
    """
    by_cluster: dict[str, dict[str, Any]] = {}
    for row in rows:
        value = row.get(metric)
        if value is None or isinstance(value, str):
            continue
        value = int(value) if isinstance(value, bool) else value
        entry = by_cluster.setdefault(row["cluster"], {"cluster": row["cluster"],
                                                       "cluster_name": row.get("cluster_name"),
                                                       "cluster_name_ja": row.get("cluster_name_ja"),
                                                       "values": []})
        entry["values"].append((row["region"], value))
    differences = []
    for entry in by_cluster.values():
        values = entry.pop("values")
        if len(values) < 2:
            continue
        high = min(values, key=lambda v: (-v[1], v[0]))
        low = min(values, key=lambda v: (v[1], v[0]))
        spread = high[1] - low[1]
        if spread == 0:
            continue
        differences.append({**entry, "high_region": high[0], "high": high[1], "low_region": low[0],
                            "low": low[1], "spread": spread})
    differences.sort(key=lambda d: (-d["spread"], d["cluster"]))
    return differences


def region_top_series(con: duckdb.DuckDBPyConnection, region: str, *, level: str | None = None,
                      year: int | None = None, top: int = 5) -> TableResult:
    """The employment of a region's ``top`` largest clusters in every year of its results: the region page's
    chart of its largest clusters over time.

    The clusters are those with the most jobs in ``year`` (default: the region's latest year at ``level``;
    clusters without jobs that year are not among them; ties in the order of :func:`region_profile`'s table:
    stars, strong, LQ, id). One row per cluster × year (``cluster``, ``year``, ``employment``), the largest
    cluster first, years in order; ``meta['clusters']`` lists the clusters, largest first.
    """
    require(con, "results_clusters", RESULTS_HINT)
    level = _region_level(con, region, level)
    years = [r[0] for r in con.execute("SELECT DISTINCT year FROM results_regions WHERE region = ? AND level = ? "
                                       "ORDER BY 1", [region, level]).fetchall()]
    if year is None:
        year = years[-1]
    elif year not in years:
        raise InputError(_("no results for this year"), value=year, expected=", ".join(map(str, years)))
    top = max(1, min(int(top), 1000))
    table = con.sql(
        """WITH largest AS (
               SELECT cluster, row_number() OVER (ORDER BY employment DESC, stars DESC NULLS LAST, strong DESC,
                                                           lq DESC, cluster) AS rank
               FROM results_clusters WHERE region = ? AND level = ? AND year = ? AND employment > 0
               QUALIFY rank <= ?)
           SELECT c.cluster, c.year, c.employment FROM results_clusters c JOIN largest l USING (cluster)
           WHERE c.region = ? AND c.level = ? ORDER BY l.rank, c.year""",
        params=[region, level, year, top, region, level]).to_arrow_table()
    table = finite(table)
    return TableResult(table, {"region": region, "level": level, "year": year,
                               "clusters": list(dict.fromkeys(table.column("cluster").to_pylist()))})


def peer_regions(con: duckdb.DuckDBPyConnection, region: str, *, n: int = 9, level: str | None = None,
                 year: int | None = None) -> TableResult:
    """The ``n`` regions of the same level closest in size (total employment, on a log scale) to ``region``."""
    require(con, "results_regions", RESULTS_HINT)
    level = _region_level(con, region, level)
    if year is None:
        year = con.execute("SELECT max(year) FROM results_regions WHERE region = ? AND level = ?",
                           [region, level]).fetchall()[0][0]
    table = con.sql(
        """WITH me AS (SELECT employment FROM results_regions WHERE region = ? AND level = ? AND year = ?)
           SELECT s.region, r.name, r.name_ja, s.level, s.employment,
                  abs(ln(s.employment) - ln((SELECT employment FROM me))) AS distance
           FROM results_regions s LEFT JOIN regions r USING (region)
           WHERE s.level = ? AND s.year = ? AND s.region <> ? AND s.employment > 0
           ORDER BY distance, s.region LIMIT ?""", params=[region, level, year, level, year, region, n]
    ).to_arrow_table()
    return TableResult(finite(table), {"region": region, "level": level, "year": year})


def top_region(con: duckdb.DuckDBPyConnection, *, level: str | None = None) -> str:
    """The region of a level (default: the default level) with the most three-star clusters, then the most jobs,
    in any year: the demo's example region."""
    from clusteratlas.queries._core import check_level

    require(con, "results_regions", RESULTS_HINT)
    level = check_level(con, level)
    return con.execute("SELECT region FROM results_regions WHERE level = ? "
                       "ORDER BY three_star_clusters DESC, employment DESC, region LIMIT 1", [level]).fetchall()[0][0]
