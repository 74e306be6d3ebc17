"""The results query: region × cluster rows filtered, sorted by any column and paged by cursor."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import (
    MAX_PAGE,
    TableResult,
    columns,
    decode_cursor,
    encode_cursor,
    equal_filters,
    finite,
    query_key,
    require,
    sort_clause,
)
from clusteratlas.queries.regions import CLUSTER_NAMES, RESULTS_HINT


@dataclass
class ResultFilters:
    """Filters of the results query; every one optional."""

    level: str | None = None
    year: int | None = None
    cluster: str | None = None
    type: str | None = None
    stars_min: int | None = None
    strong: bool | None = None
    regions: list[str] | None = None


def results(con: duckdb.DuckDBPyConnection, filters: ResultFilters | None = None, *, sort: str | None = None,
            limit: int = 1000, cursor: str | None = None) -> TableResult:
    """Cluster results with filters, sorted by any column (``-col`` descending; several comma-separated).

    ``meta['next']`` is the cursor of the next page (None on the last); a
    cursor only works with the same filters and sort.
    """
    require(con, "results_clusters", RESULTS_HINT)
    f = filters or ResultFilters()
    if f.regions is not None and not 1 <= len(f.regions) <= 1000:
        raise InputError(_("too many or no regions"), value=len(f.regions), expected=_("1 to 1000 region ids"))
    if f.stars_min is not None and not 0 <= f.stars_min <= 10:
        raise InputError(_("stars out of range"), value=f.stars_min, expected=_("0 to 10"))
    limit = max(1, min(int(limit), MAX_PAGE))
    cols = [*columns(con, "results_clusters"), "cluster_name", "cluster_name_ja"]
    order = sort_clause(sort, cols, "level,region,cluster,year") + ', "level", "region", "cluster", "year"'
    key = query_key(sort=sort, **asdict(f))
    offset = decode_cursor(cursor, key)
    where, params = equal_filters("c.", level=f.level, year=f.year, cluster=f.cluster, type=f.type)
    where.insert(0, "true")
    if f.stars_min is not None:
        where.append("c.stars >= ?")
        params.append(f.stars_min)
    if f.strong is not None:
        where.append("c.strong = ?")
        params.append(f.strong)
    if f.regions:
        where.append(f"c.region IN ({', '.join('?' for _ in f.regions)})")
        params += f.regions
    base = (f"SELECT c.*, d.cluster_name, d.cluster_name_ja FROM results_clusters c "
            f"LEFT JOIN ({CLUSTER_NAMES}) d USING (cluster) WHERE {' AND '.join(where)}")
    total = con.execute(f"SELECT count(*) FROM ({base})", params).fetchall()[0][0]
    table = con.sql(f"SELECT * FROM ({base}) ORDER BY {order} LIMIT ? OFFSET ?",
                    params=[*params, limit, offset]).to_arrow_table()
    nxt = encode_cursor(offset + limit, key) if offset + limit < total else None
    return TableResult(finite(table), {"total": total, "offset": offset, "limit": limit, "next": nxt})
