"""US County Business Patterns (CBP) files as observations.

Reads the complete state, county and metro files of the Census Bureau and
tables shaped like the Census API's answers (``naics2017``, ``EMP``,
``ESTAB``, ``PAYANN`` …). One NAICS level is kept (default six digits):
codes are written ``113310`` for six digits and padded with ``/`` or ``-``
above (``1133//``, ``11----``; ``------`` is the total row). In state files
only all legal forms together are kept (``lfo`` = ``-``).

Withheld cells carry an employment size class (``empflag`` A–M) and no
number: they become ``suppressed`` rows with that class, for imputation.

**Region totals.** Cells with fewer than three establishments are not
published at all, so a region's six-digit cells add up to less than its
total (San Jose 2019: 1,104,070 of the 1,115,736 of its total row; the
median metro 73 %). The file's own total rows (``------``, or ``00`` in the
Census API's tables) are read beside the cells (:func:`cbp_totals_view`)
and stored as the regions' published totals: a map takes each region's
total, its shares and the reference economy from them, and its clusters
from the cells (docs/methods.md, "Region totals of CBP files").
Noise flags (``emp_nf``): ``D`` and ``S`` (withheld, or not shown for
quality) → suppressed; ``J`` (high noise) → estimated; ``G`` and ``H`` →
reported. Payroll is published in US$ 1,000 and stored in US$, the atlas's one
unit for money (docs/data-model.md), so average wages read in dollars per job.

NAICS vintages by reference year (Census): 1997 for 1998–2002, 2002 for
2003–2007, 2007 for 2008–2011, 2012 for 2012–2016, 2017 for 2017–2021, 2022
from 2022 (:func:`naics_vintage`).
"""

from __future__ import annotations

import duckdb

from clusteratlas._sql import ident
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.i18n import _
from clusteratlas.sources.files import LINE

#: (first year, NAICS vintage) in order.
VINTAGES = ((1998, 1997), (2003, 2002), (2008, 2007), (2012, 2012), (2017, 2017), (2022, 2022))


def naics_vintage(year: int) -> int:
    """The NAICS vintage CBP used for a reference year."""
    if year < VINTAGES[0][0]:
        raise InputError(_("CBP has no NAICS data before 1998"), value=year)
    return [v for first, v in VINTAGES if year >= first][-1]


def _dollars(thousands: str) -> str:
    """SQL for a payroll in US$ 1,000 (text) as US$ (text); a value that is not a number is kept as written,
    for the checks to report with its line."""
    number = f"TRY_CAST({thousands} AS DOUBLE)"
    return f"CASE WHEN {number} IS NULL THEN {thousands} ELSE ({number} * 1000)::VARCHAR END"


def _pick(found: dict[str, str], *names: str) -> str | None:
    return next((found[n] for n in names if n in found), None)


def cbp_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str, *, year: int | None = None,
             digits: int = 6) -> tuple[str, list[str], dict[str, str]]:
    """A view of canonical observation columns (as text) over a CBP file, notes for the user, and the view of
    the file's region totals (``{"region_totals": view}``; none when the cells are the totals, ``digits`` 0,
    or the file has no total rows)."""
    if digits not in range(0, 7):
        raise InputError(_("NAICS level out of range"), value=digits, expected=_("0 (total) to 6 digits"))
    cols = [c for c in con.table(raw_view).columns if c != LINE]
    found = {c.lower(): c for c in cols}
    naics = _pick(found, "naics", "naics_code", "naics2017", "naics2012", "naics2022", "naics2007")
    emp = _pick(found, "emp")
    if naics is None or emp is None:
        missing = "naics" if naics is None else "emp"
        raise InputError(_("not a CBP file: no '{missing}' column").format(missing=missing), file=label,
                         hint=did_you_mean(missing, cols))
    if "fipscty" in found and "fipstate" in found:
        region = f"lpad(trim({ident(found['fipstate'])}), 2, '0') || lpad(trim({ident(found['fipscty'])}), 3, '0')"
    elif "fipstate" in found:
        region = f"lpad(trim({ident(found['fipstate'])}), 2, '0')"
    else:
        area = _pick(found, "msa", "cbsa_code", "cbsa", "metropolitan statistical area/micropolitan statistical area",
                     "geo_id", "county", "state")
        if area is None:
            raise InputError(_("no region column found"), file=label,
                             expected=_("fipstate (and fipscty), msa or cbsa_code"), value=", ".join(cols[:8]))
        region = f"trim({ident(area)})"
    if "year" in found:
        year_sql = f"trim({ident(found['year'])})"
    elif year is not None:
        year_sql = f"'{int(year)}'"
    else:
        raise InputError(_("the file has no year column"), file=label, hint=_("Give the year with --year"))
    code = f"trim({ident(naics)})"
    level = (f"TRY_CAST({ident(found['naics_level'])} AS INTEGER)" if "naics_level" in found
             else f"length(regexp_replace({code}, '[^0-9]', '', 'g'))")
    total_row = f"(regexp_replace({code}, '[^0-9]', '', 'g') = '' OR {code} = '00')"  # '------'; the API's '00'
    where = [f"{level} = {digits}", f"NOT {total_row}" if digits else "TRUE"]
    if "lfo" in found:
        where.append(f"trim({ident(found['lfo'])}) = '-'")
    flag_col = _pick(found, "empflag", "emp_f")
    noise = _pick(found, "emp_nf", "emp_n")
    size = f"NULLIF(upper(trim({ident(flag_col)})), '')" if flag_col else "NULL"
    nf = f"upper(trim(coalesce({ident(noise)}, '')))" if noise else "''"
    withheld = f"({size} IS NOT NULL OR {nf} IN ('D', 'S'))"
    est = _pick(found, "est", "estab")
    pay = _pick(found, "ap", "payann")
    out = raw_view + "_canonical"
    industry = f"CASE WHEN {digits} = 0 THEN 'total' ELSE regexp_replace({code}, '[^0-9]', '', 'g') END"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT {region} AS region, {industry} AS industry, {year_sql} AS year,
               CASE WHEN {withheld} THEN NULL ELSE trim({ident(emp)}::VARCHAR) END AS employment,
               {f"trim({ident(est)}::VARCHAR)" if est else "NULL"} AS establishments,
               CASE WHEN {withheld} THEN NULL ELSE {_dollars(f"trim({ident(pay)}::VARCHAR)") if pay else "NULL"}
                   END AS payroll,
               CASE WHEN {withheld} THEN 'suppressed' WHEN {nf} = 'J' THEN 'estimated' ELSE '' END AS flag,
               {size} AS size_class, {LINE}
        FROM {raw_view} WHERE {' AND '.join(where)}""")
    notes = []
    years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {out} ORDER BY 1").fetchall()]
    vintages = sorted({naics_vintage(int(y)) for y in years if y and y.isdigit()})
    if vintages:
        notes.append(f"{label}: " + _("NAICS {vintages} codes (by reference year); use a cluster definition of "
                                      "the same vintage").format(vintages=_(", ").join(map(str, vintages))))
    n_withheld = con.execute(f"SELECT count(*) FROM {out} WHERE flag = 'suppressed'").fetchall()[0][0]
    if n_withheld:
        notes.append(f"{label}: " + _("{n:,} withheld cell(s) kept with their size class, imputed at map "
                                      "time").format(n=n_withheld))
    extras: dict[str, str] = {}
    if digits:
        totals = cbp_totals_view(con, raw_view, label, region=region, year_sql=year_sql, code=code,
                                 emp=emp, withheld=withheld, lfo=found.get("lfo"))
        if totals is not None:
            extras["region_totals"] = totals
            notes.append(_coverage_note(con, out, totals, label, digits))
    return out, notes, extras


def cbp_totals_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str, *, region: str, year_sql: str,
                    code: str, emp: str, withheld: str, lfo: str | None = None) -> str | None:
    """A view (region, year, employment as numbers) of the file's total rows, or None when it has none.

    A withheld or empty total is left out (the region keeps the sum of its cells). Two total rows for one
    region and year (or a total that is not a number ≥ 0) are an error naming the line.
    """
    out = raw_view + "_region_totals"
    keep = [f"(regexp_replace({code}, '[^0-9]', '', 'g') = '' OR {code} = '00')", f"NOT {withheld}",
            f"nullif(trim({ident(emp)}::VARCHAR), '') IS NOT NULL"]
    if lfo is not None:
        keep.append(f"trim({ident(lfo)}) = '-'")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT {region} AS region, TRY_CAST({year_sql} AS INTEGER) AS year,
               TRY_CAST(trim({ident(emp)}::VARCHAR) AS DOUBLE) AS employment, trim({ident(emp)}::VARCHAR) AS text,
               {LINE} FROM {raw_view} WHERE {' AND '.join(keep)}""")
    if not con.execute(f"SELECT 1 FROM {out} LIMIT 1").fetchall():
        return None
    bad = con.execute(f"SELECT {LINE}, text FROM {out} WHERE employment IS NULL OR employment < 0 OR year IS NULL "
                      f"ORDER BY {LINE} LIMIT 1").fetchall()
    if bad:
        raise InputError(_("a total row's employment is not a number ≥ 0"), file=label, row=bad[0][0], column=emp,
                         value=bad[0][1], expected=_("the region's total employment"))
    twice = con.execute(f"SELECT region, year, list({LINE} ORDER BY {LINE}) FROM {out} GROUP BY ALL "
                        "HAVING count(*) > 1 ORDER BY 3 LIMIT 1").fetchall()
    if twice:
        region_code, year, lines = twice[0]
        raise InputError(_("region {region_code} has two total rows for {year} (lines {value} and "
                           "{value2})").format(region_code=region_code, year=year, value=lines[0], value2=lines[1]),
                         file=label, row=lines[1], column=emp, expected=_("one total row per region and year"))
    return out


def _coverage_note(con: duckdb.DuckDBPyConnection, cells: str, totals: str, label: str, digits: int) -> str:
    """How much of the published totals the cells of the level read hold (median, share of regions below 90 %)."""
    n, median, low, lowest = con.execute(f"""
        WITH c AS (SELECT region, year::INTEGER AS year, sum(TRY_CAST(employment AS DOUBLE)) AS cells
                   FROM {cells} GROUP BY ALL)
        SELECT count(*), median(cells / employment), count(*) FILTER (WHERE cells / employment < 0.9),
               min(cells / employment)
        FROM c JOIN {totals} t USING (region, year) WHERE t.employment > 0""").fetchall()[0]
    if not n:
        return f"{label}: " + _("the file's total rows name no region of its cells; region totals are the cells' "
                                "sums")
    return f"{label}: " + _("region totals are the file's total rows ({n:,} region-years): the {digits}-digit cells "
                            "hold a median {median:.1%} of them (lowest {lowest:.1%}; {low:,} below 90 %), the rest "
                            "being in cells too small to publish; clusters are sums of the cells, totals, shares "
                            "and the reference economy use the total rows").format(
        n=n, digits=digits, median=median, lowest=lowest, low=low)
