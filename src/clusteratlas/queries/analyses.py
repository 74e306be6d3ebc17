"""Stored analyses: complexity rankings, hot spots, shift-share and indicators.

These read what ``relate``, ``hotspots``, ``shift-share`` and ``import
indicators`` stored; they never compute (a read must stay fast and must not
write).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import (
    MAX_PAGE,
    TableResult,
    check_choice,
    columns,
    equal_filters,
    finite,
    not_found,
    require,
    sort_clause,
    tables,
)
from clusteratlas.queries.regions import CLUSTER_NAMES

BREAKDOWNS = ("cluster", "industry")


def _run_keys(con: duckdb.DuckDBPyConnection, table: str, by: str, level: str | None, year: int | None,
              extra: str = "") -> tuple[str, int]:
    """The level and year of a stored run (default: the latest run of this breakdown)."""
    check_choice("breakdown", by, BREAKDOWNS)
    where, params = equal_filters(breakdown=by, level=level, year=year)
    rows = con.execute(f"SELECT level, year FROM {table} WHERE {' AND '.join(where)} {extra} "
                       "GROUP BY level, year ORDER BY year DESC, level LIMIT 1", params).fetchall()
    if not rows:
        runs = con.execute(f"SELECT DISTINCT breakdown || ' ' || level || ' ' || year FROM {table} ORDER BY 1"
                           ).fetchall()
        raise InputError(_("no stored {table} run for this breakdown, level and year").format(table=table),
                         value=", ".join(str(x) for x in (by, level, year) if x is not None),
                         expected="; ".join(r[0] for r in runs) or "a run of the analysis first")
    return rows[0][0], rows[0][1]


def complexity(con: duckdb.DuckDBPyConnection, *, of: str = "regions", by: str = "cluster",
               level: str | None = None, year: int | None = None, sort: str | None = None,
               limit: int = 1000) -> TableResult:
    """Complexity and concentration rankings: regions (ECI, COI, diversity, HHI…) or items (PCI, ubiquity…)."""
    check_choice("ranking", of, ("regions", "items"))
    table = f"relate_{of}"
    require(con, table, "Run 'clusteratlas relate' first")
    if of == "items":
        check_choice("breakdown", by, BREAKDOWNS)
        where, params = ["breakdown = ?"], [by]
        if year is not None:
            where.append("year = ?")
            params.append(year)
        row = con.execute(f"SELECT level, year FROM relate_items WHERE {' AND '.join(where)} "
                          + ("AND level = ? " if level else "") + "ORDER BY year DESC LIMIT 1",
                          params + ([level] if level else [])).fetchall()
        if not row:
            raise InputError(_("no stored relate run for this breakdown and year"),
                             value=", ".join(str(x) for x in (by, level, year) if x is not None))
        level, year = row[0]
    else:
        level, year = _run_keys(con, table, by, level, year)
    cols = columns(con, table)
    order = sort_clause(sort, cols, "-eci" if of == "regions" else "-pci")
    limit = max(1, min(int(limit), MAX_PAGE))
    names = (f"LEFT JOIN ({CLUSTER_NAMES}) d ON d.cluster = t.item" if of == "items"
             else "LEFT JOIN regions r USING (region)")
    extra = "d.cluster_name, d.cluster_name_ja" if of == "items" else "r.name, r.name_ja"
    rows = con.sql(f"SELECT t.*, {extra} FROM {table} t {names} WHERE t.breakdown = ? AND t.level = ? "
                   f"AND t.year = ? ORDER BY {order} LIMIT ?", params=[by, level, year, limit]).to_arrow_table()
    return TableResult(finite(rows), {"of": of, "breakdown": by, "level": level, "year": year})


def hotspots(con: duckdb.DuckDBPyConnection, *, item: str | None = None, by: str = "cluster",
             level: str | None = None, year: int | None = None, value: str = "lq", significant: bool = True,
             limit: int = 1000) -> TableResult:
    """Local hot spots (LISA and Gi*) of a stored run; only significant high-high ones unless asked."""
    require(con, "hotspots", "Run 'clusteratlas hotspots' first")
    check_choice("value", value, ("lq", "employment", "share"))
    level, year = _run_keys(con, "hotspots", by, level, year)
    where, params = ["h.breakdown = ?", "h.level = ?", "h.year = ?", "h.value = ?"], [by, level, year, value]
    if item is not None:
        known = [r[0] for r in con.execute("SELECT DISTINCT item FROM hotspots WHERE breakdown = ? ORDER BY 1",
                                           [by]).fetchall()]
        if item not in known:
            raise not_found("cluster or industry", item, known)
        where.append("h.item = ?")
        params.append(item)
    if significant:
        where.append("h.significant AND h.quadrant = 1")
    limit = max(1, min(int(limit), MAX_PAGE))
    rows = con.sql(f"SELECT h.*, r.name, r.name_ja FROM hotspots h LEFT JOIN regions r USING (region) "
                   f"WHERE {' AND '.join(where)} ORDER BY h.item, h.local_i DESC NULLS LAST LIMIT ?",
                   params=[*params, limit]).to_arrow_table()
    globals_ = con.sql("SELECT item, moran_i, expected_i, p_sim, least(2 * p_sim, 1) AS p_two_sided "
                       "FROM hotspots_global WHERE breakdown = ? "
                       "AND level = ? AND year = ? AND value = ? ORDER BY moran_i DESC",
                       params=[by, level, year, value]).to_arrow_table()
    from clusteratlas.queries._core import to_rows

    return TableResult(finite(rows), {"breakdown": by, "level": level, "year": year, "value": value,
                                      "global": to_rows(finite(globals_))})


def shift_share(con: duckdb.DuckDBPyConnection, *, start: int | None = None, end: int | None = None,
                region: str | None = None, item: str | None = None, by: str = "cluster",
                sort: str | None = None, limit: int = 1000) -> TableResult:
    """Stored shift-share components per region × item (default: the latest stored period)."""
    require(con, "shift_share", "Run 'clusteratlas shift-share START END' first")
    check_choice("breakdown", by, BREAKDOWNS)
    where, params = equal_filters(breakdown=by, start_year=start, end_year=end)
    run = con.execute(f"SELECT start_year, end_year, level FROM shift_share WHERE {' AND '.join(where)} "
                      "GROUP BY ALL ORDER BY end_year DESC, start_year LIMIT 1", params).fetchall()
    if not run:
        periods = con.execute("SELECT DISTINCT breakdown || ' ' || start_year || '-' || end_year FROM shift_share "
                              "ORDER BY 1").fetchall()
        raise InputError(_("no stored shift-share for this period"), value=f"{by} {start}-{end}",
                         expected="; ".join(r[0] for r in periods))
    start, end, level = run[0]
    where, params = equal_filters(breakdown=by, start_year=start, end_year=end, level=level, region=region,
                                  item=item)
    order = sort_clause(sort, columns(con, "shift_share"), "-regional_share" if "regional_share" in
                        columns(con, "shift_share") else "region")
    limit = max(1, min(int(limit), MAX_PAGE))
    rows = con.sql(f"SELECT * FROM shift_share WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
                   params=[*params, limit]).to_arrow_table()
    if rows.num_rows == 0 and (region or item):
        raise not_found("region or item", region or item or "", [])
    return TableResult(finite(rows), {"breakdown": by, "level": level, "start_year": start, "end_year": end})


def indicator_names(con: duckdb.DuckDBPyConnection) -> TableResult:
    """The indicators in the atlas, with their units, years and region counts."""
    rows = con.sql("SELECT indicator, any_value(unit) AS unit, min(year) AS first_year, max(year) AS last_year, "
                   "count(DISTINCT region) AS regions FROM indicators GROUP BY indicator ORDER BY indicator"
                   ).to_arrow_table()
    return TableResult(rows, {"indicators": rows.num_rows})


def indicator(con: duckdb.DuckDBPyConnection, name: str, *, per: str | None = None, scale: float = 1000.0,
              year: int | None = None) -> TableResult:
    """An indicator by region and year; with ``per`` (employment or another indicator), as a rate.

    A region or year without a denominator is left out, never divided by zero.
    """
    known = [r[0] for r in con.execute("SELECT DISTINCT indicator FROM indicators ORDER BY 1").fetchall()]
    if name not in known:
        raise not_found("indicator", name, known)
    if not 0 < scale < 1e12:
        raise InputError(_("scale out of range"), value=scale, expected=_("a number above 0 and below 10^12"))
    params: list[Any] = []
    if per is None:
        sql = ("SELECT i.region, r.name, r.name_ja, i.year, i.value, i.unit FROM indicators i "
               "LEFT JOIN regions r USING (region) WHERE i.indicator = ?")
        params = [name]
    else:
        if per == "employment":
            require(con, "results_regions", "Run 'clusteratlas map' first")
            denominator = "SELECT region, year, employment AS base FROM results_regions"
        else:
            if per not in known:
                raise not_found("indicator", per, [*known, "employment"])
            denominator = "SELECT region, year, value AS base FROM indicators WHERE indicator = ?"
            params.append(per)
        sql = (f"SELECT i.region, r.name, r.name_ja, i.year, i.value, d.base, i.value / d.base * ? AS rate "
               f"FROM ({denominator}) d JOIN indicators i USING (region, year) LEFT JOIN regions r USING (region) "
               f"WHERE i.indicator = ? AND d.base > 0")
        params += [scale, name]
    if year is not None:
        sql += " AND i.year = ?"
        params.append(year)
    rows = con.sql(sql + (" ORDER BY rate DESC, i.region" if per else " ORDER BY i.year, i.region"),
                   params=params).to_arrow_table()
    return TableResult(finite(rows), {"indicator": name, "per": per, "scale": scale if per else None,
                                      "year": year})


def region_indicators(con: duckdb.DuckDBPyConnection, region: str) -> TableResult:
    """Every indicator of one region at its latest year there: ``indicator``, ``year``, ``value`` and the
    ``unit`` of that value, by indicator (the region page's table of indicators).

    Filtered on the region in SQL (not every region's values read and one kept). An indicator the region has
    no value of is not listed; a region the atlas does not know at all (not in the regions, the results or the
    indicators) is an error with close matches.
    """
    rows = con.sql("SELECT indicator, year, value, unit FROM indicators WHERE region = ? "
                   "QUALIFY row_number() OVER (PARTITION BY indicator ORDER BY year DESC) = 1 ORDER BY indicator",
                   params=[region]).to_arrow_table()
    if rows.num_rows == 0:
        known = "SELECT region FROM regions UNION ALL SELECT region FROM indicators" + (
            " UNION ALL SELECT region FROM results_regions" if "results_regions" in tables(con) else "")
        if not con.execute(f"SELECT 1 FROM ({known}) WHERE region = ? LIMIT 1", [region]).fetchall():
            choices = [r[0] for r in con.execute(f"SELECT DISTINCT region FROM ({known}) ORDER BY 1 LIMIT 5000"
                                                 ).fetchall()]
            raise not_found("region", region, choices)
    return TableResult(finite(rows), {"region": region, "indicators": rows.num_rows})


def has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether an analysis table exists in the atlas."""
    return table in tables(con)


@dataclass
class RelateRun:
    """One stored relate run: every region's and every item's complexity and concentration, and (when the run
    marked them with ``since``) how many specialisations were gained and lost."""

    breakdown: str
    level: str
    year: int
    regions: pa.Table
    items: pa.Table
    gained: int | None  # None: the run was not asked to mark entries and exits (relate --since)
    lost: int | None


def relate_run(con: duckdb.DuckDBPyConnection, *, by: str = "cluster", level: str | None = None,
               year: int | None = None) -> RelateRun:
    """The region and item tables of a stored relate run (default: the latest of this breakdown)."""
    require(con, "relate_regions", "Run 'clusteratlas relate' first")
    level, year = _run_keys(con, "relate_regions", by, level, year)
    keys = [by, level, year]
    regions = con.sql("SELECT * FROM relate_regions WHERE breakdown = ? AND level = ? AND year = ?",
                      params=keys).to_arrow_table()
    items = con.sql("SELECT * FROM relate_items WHERE breakdown = ? AND level = ? AND year = ?",
                    params=keys).to_arrow_table()
    gained = lost = None
    if {"entered", "exited"} <= set(columns(con, "relate_cells")):
        gained, lost = con.execute(
            "SELECT count(*) FILTER (WHERE entered), count(*) FILTER (WHERE exited) FROM relate_cells "
            "WHERE breakdown = ? AND level = ? AND year = ?", keys).fetchall()[0]
    return RelateRun(by, level, year, finite(regions), finite(items), gained, lost)


def hotspot_summary(con: duckdb.DuckDBPyConnection, *, by: str = "cluster", level: str | None = None,
                    year: int | None = None, value: str = "lq", top: int = 10) -> TableResult:
    """Per item of a stored hot-spot run: Moran's I, its pseudo p-value, and the significant high-high regions
    (count and list), the ``top`` items by Moran's I."""
    require(con, "hotspots", "Run 'clusteratlas hotspots' first")
    check_choice("value", value, ("lq", "employment", "share"))
    level, year = _run_keys(con, "hotspots", by, level, year)
    keys = [by, level, year, value]
    rows = con.sql(
        """SELECT g.item, g.moran_i, g.p_sim, least(2 * g.p_sim, 1) AS p_two_sided,
                  count(*) FILTER (WHERE h.significant AND h.quadrant = 1) AS hot,
                  string_agg(h.region, ', ' ORDER BY h.region) FILTER (WHERE h.significant AND h.quadrant = 1)
                  AS regions
           FROM hotspots_global g JOIN hotspots h USING (item, breakdown, level, year, value)
           WHERE g.breakdown = ? AND g.level = ? AND g.year = ? AND g.value = ?
           GROUP BY ALL ORDER BY g.moran_i DESC LIMIT ?""", params=[*keys, top]).to_arrow_table()
    return TableResult(finite(rows), {"breakdown": by, "level": level, "year": year, "value": value})
