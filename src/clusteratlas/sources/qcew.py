"""BLS Quarterly Census of Employment and Wages (QCEW), annual averages, as observations.

Reads the annual CSV files the Bureau of Labor Statistics publishes (one per
area, industry or year): ``area_fips, own_code, industry_code, agglvl_code,
size_code, year, qtr, disclosure_code, annual_avg_estabs, annual_avg_emplvl,
total_annual_wages, …``. One ownership is kept (default ``own_code`` 5,
private, as CBP covers; ``--filter own_code=0`` for all covered employment)
and one NAICS level (``--digits``, default 6, read from ``agglvl_code``; at
two digits the sectors include ``31-33``, ``44-45`` and ``48-49``). Cells the BLS
does not disclose (``disclosure_code`` N) are withheld, never read as 0.
Wages are the year's total in dollars (CBP's payroll is in $1,000), so the
average wage comes out in dollars.
"""

from __future__ import annotations

import duckdb

from clusteratlas._sql import ident, literal
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.i18n import _
from clusteratlas.sources.files import LINE

COLUMNS = ("area_fips", "own_code", "industry_code", "agglvl_code", "year", "disclosure_code", "annual_avg_estabs",
           "annual_avg_emplvl", "total_annual_wages")


def qcew_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str, *, digits: int = 6,
              filters: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """A view of canonical observation columns (as text) over a QCEW annual-averages CSV."""
    cols = {c.lower(): c for c in con.table(raw_view).columns if c != LINE}
    for name in COLUMNS:
        if name not in cols:
            raise InputError(_("not a QCEW annual file: no '{name}' column").format(name=name), file=label,
                             hint=did_you_mean(name, list(cols.values())))
    if digits not in range(2, 7):
        raise InputError(_("NAICS level out of range for QCEW"), value=digits, expected=_("2 to 6 digits"))
    filters = {"own_code": "5", "size_code": "0", **(filters or {})}
    for key in filters:
        if key not in cols:
            raise InputError(_("unknown column in --filter"), file=label, value=key, expected=", ".join(cols))
    c = {k: ident(v) for k, v in cols.items()}
    where = [f"trim({c[k]}::VARCHAR) = {literal(v)}" for k, v in filters.items()]
    code = f"trim({c['industry_code']}::VARCHAR)"
    # The aggregation level's last digit says the NAICS detail: 4 sector … 8 six-digit (at every area type);
    # the industry code alone cannot, since supersectors (1011…) look like four-digit NAICS.
    level = f"TRY_CAST({c['agglvl_code']} AS INTEGER) % 10 = {digits + 2}"
    withheld = f"upper(trim(coalesce({c['disclosure_code']}::VARCHAR, ''))) = 'N'"
    out = raw_view + "_canonical"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT trim({c['area_fips']}::VARCHAR) AS region, {code} AS industry, trim({c['year']}::VARCHAR) AS year,
               CASE WHEN {withheld} THEN NULL ELSE trim({c['annual_avg_emplvl']}::VARCHAR) END AS employment,
               CASE WHEN {withheld} THEN NULL ELSE trim({c['annual_avg_estabs']}::VARCHAR) END AS establishments,
               CASE WHEN {withheld} THEN NULL ELSE trim({c['total_annual_wages']}::VARCHAR) END AS payroll,
               CASE WHEN {withheld} THEN 'suppressed' ELSE '' END AS flag, NULL::VARCHAR AS size_class, {LINE}
        FROM {raw_view} WHERE {level} AND {' AND '.join(where)}""")
    n, hidden = con.execute(f"SELECT count(*), count(*) FILTER (WHERE flag = 'suppressed') FROM {out}") \
        .fetchall()[0]
    if n == 0:
        raise InputError(_("no {digits}-digit rows for {filters}").format(
                             digits=digits, filters=", ".join(f"{k}={v}" for k, v in filters.items())),
                         file=label, hint=_("Check --digits and --filter own_code=…"))
    notes = [f"{label}: " + _("QCEW wages are in dollars (CBP payroll is in $1,000)")]
    if hidden:
        notes.append(f"{label}: " + _("{n:,} undisclosed cell(s) (disclosure code N) stored as withheld").format(
            n=hidden))
    return out, notes
