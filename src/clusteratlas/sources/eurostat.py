"""Eurostat regional tables (SBS, LFS, nama_10r_3empers) as observations.

Three layouts are read:

- the TSV dissemination format: a first column ``unit,nace_r2,…,geo\\time``
  holding the dimension codes joined by commas, then one column per year;
- the same wide shape as a delimited file with one column per dimension and
  year columns named ``2015`` or ``n2015``;
- SDMX-CSV from the current API: ``geo``, ``nace_r2``, ``TIME_PERIOD``,
  ``OBS_VALUE``, ``OBS_FLAG``.

A cell is a number and optional flags (``5.2 u``, ``1001 d``) or ``:``
(confidential). Flags map to the atlas's: ``:``/``c`` → suppressed (no
number is invented), ``e`` (estimated) and ``u`` (low reliability) →
estimated; the others (``b`` break, ``d`` definition differs, ``p``
provisional, ``r`` revised, ``z`` not applicable) keep the value as
reported. A cell that is neither — such as ``12:00 AM``, a number Excel
turned into a time of day — is stored as withheld and listed in the import
notes, never read as a number. Values in thousands (``unit`` = ``THS``) are
multiplied by 1,000.
"""

from __future__ import annotations

import re

import duckdb

from clusteratlas._sql import ident, literal
from clusteratlas.errors import InputError
from clusteratlas.sources.files import LINE

KNOWN_FLAGS = set("bcdefnprsuz")
ESTIMATE_FLAGS = ("e", "u")
_YEAR = re.compile(r"^n?(\d{4})\s*$")
#: Regex over a cell (trimmed): number, then flag letters; or ':' and flags.
_CELL = r"^\s*(-?[0-9]+(?:\.[0-9]+)?)?\s*([a-z]*)\s*$"


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return [c for c in con.table(view).columns if c != LINE]


def _long_from_wide(con: duckdb.DuckDBPyConnection, view: str, label: str) -> tuple[str, list[str]]:
    """SQL of (dimension columns…, year, cell, __line) from the wide layouts, and the dimension names."""
    cols = _columns(con, view)
    years = [c for c in cols if _YEAR.match(c.strip())]
    dims = [c for c in cols if c not in years]
    if not years:
        raise InputError("no year columns found", file=label, expected="columns such as 2015 or n2015",
                         value=", ".join(cols[:6]))
    if len(dims) == 1 and "\\" in dims[0]:  # TSV: "unit,nace_r2,geo\time"
        names = [n.strip() for n in dims[0].split("\\")[0].split(",")]
        parts = ", ".join(f"trim(split_part({ident(dims[0])}, ',', {i + 1})) AS {ident(n)}"
                          for i, n in enumerate(names))
    else:
        names = dims
        parts = ", ".join(f"trim({ident(d)}) AS {ident(d)}" for d in dims)
    unions = " UNION ALL ".join(
        f"SELECT {parts}, {int(_YEAR.match(y.strip()).group(1))} AS year, {ident(y)}::VARCHAR AS cell, {LINE} "
        f"FROM {view}" for y in years)
    return unions, names


def _long_from_sdmx(con: duckdb.DuckDBPyConnection, view: str) -> tuple[str, list[str]]:
    """SDMX-CSV (OBS_VALUE, TIME_PERIOD) or the tidy long shape (values, time) of R's eurostat package."""
    cols = _columns(con, view)
    value, time = ("OBS_VALUE", "TIME_PERIOD") if "OBS_VALUE" in cols else ("values", "time")
    dims = [c for c in cols if c not in (value, time, "OBS_FLAG", "DATAFLOW", "LAST UPDATE", "CONF_STATUS")]
    flag = "coalesce(OBS_FLAG::VARCHAR, '')" if "OBS_FLAG" in cols else "''"
    cell = f"CASE WHEN {ident(value)} IS NULL THEN ':' ELSE {ident(value)}::VARCHAR END || ' ' || {flag}"
    parts = ", ".join(f"trim({ident(d)}) AS {ident(d)}" for d in dims)
    year = f"TRY_CAST(left({ident(time)}::VARCHAR, 4) AS INTEGER)"
    return f"SELECT {parts}, {year} AS year, {cell} AS cell, {LINE} FROM {view}", dims


def eurostat_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str, *,
                  filters: dict[str, str] | None = None, kind: str = "observations") -> tuple[str, list[str]]:
    """Canonical observation (or indicator) columns as text over a Eurostat file, and notes for the user.

    As indicators (e.g. ``tgs00040`` patent applications per million, ``tgs00003``
    regional GDP) a table needs no NACE dimension; values keep their unit
    (no scaling), and withheld cells are left out and counted in the notes.
    """
    cols = _columns(con, raw_view)
    if "OBS_VALUE" in cols or {"values", "time"} <= set(cols):
        long_sql, dims = _long_from_sdmx(con, raw_view)
    else:
        long_sql, dims = _long_from_wide(con, raw_view, label)
    lower = {d.lower(): d for d in dims}
    geo, nace = lower.get("geo"), next((lower[k] for k in ("nace_r2", "nace_r1", "nace") if k in lower), None)
    if geo is None or (nace is None and kind == "observations"):
        raise InputError("the file has no geo or NACE dimension", file=label, value=", ".join(dims),
                         expected="dimensions geo and nace_r2" if kind == "observations" else "a geo dimension")
    filters = dict(filters or {})
    for key in filters:
        if key not in dims:
            raise InputError("unknown dimension in --filter", file=label, value=key, expected=", ".join(dims))
    long_view = raw_view + "_long"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {long_view} AS {long_sql}")
    where = " AND ".join(f"{ident(k)} = {literal(v)}" for k, v in filters.items()) or "true"
    for d in dims:
        if d in (geo, nace) or d in filters:
            continue
        values = [r[0] for r in con.execute(f"SELECT DISTINCT {ident(d)} FROM {long_view} WHERE {where} "
                                            "ORDER BY 1 LIMIT 12").fetchall()]
        if len(values) > 1:
            raise InputError(f"dimension '{d}' has several values", file=label, value=", ".join(values),
                             hint=f"Choose one with --filter {d}=VALUE")
    unit = lower.get("unit")
    scale = f"CASE WHEN {ident(unit)} = 'THS' THEN 1000.0 ELSE 1.0 END" if unit else "1.0"
    number = f"TRY_CAST(regexp_extract(cell, {literal(_CELL)}, 1) AS DOUBLE)"
    flags = f"regexp_extract(cell, {literal(_CELL)}, 2)"
    readable = f"(regexp_matches(cell, {literal(_CELL)}) OR regexp_matches(cell, '^\\s*:\\s*[a-z]*\\s*$'))"
    parsed = raw_view + "_parsed"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {parsed} AS
        SELECT {ident(geo)} AS region, {ident(nace) if nace else 'NULL'} AS industry, year, {LINE}, cell,
               {number} AS raw_number, {f"{ident(unit)}::VARCHAR" if unit else "NULL::VARCHAR"} AS unit_code,
               coalesce({readable}, false) AS readable,
               CASE WHEN coalesce({readable}, false) THEN {number} * {scale} END AS value,
               CASE WHEN coalesce({readable}, false) THEN
                    coalesce({flags}, '') || CASE WHEN cell LIKE '%:%' THEN 'c' ELSE '' END END AS flags
        FROM {long_view} WHERE {where}""")
    notes = _cell_notes(con, parsed, label, kind)
    out = raw_view + "_canonical"
    if kind == "indicators":
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
            SELECT region, year::VARCHAR AS year, raw_number::VARCHAR AS value, NULL::VARCHAR AS indicator,
                   unit_code AS unit, {LINE}
            FROM {parsed} WHERE readable AND value IS NOT NULL AND NOT contains(flags, 'c')""")
        return out, notes
    estimate = " OR ".join(f"contains(flags, '{f}')" for f in ESTIMATE_FLAGS)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT region, industry, year::VARCHAR AS year,
               CASE WHEN value IS NOT NULL AND NOT contains(flags, 'c') THEN value::VARCHAR END AS employment,
               NULL::VARCHAR AS establishments, NULL::VARCHAR AS payroll,
               CASE WHEN NOT readable OR value IS NULL OR contains(flags, 'c') THEN 'suppressed'
                    WHEN {estimate} THEN 'estimated' ELSE '' END AS flag,
               NULL::VARCHAR AS size_class, {LINE}
        FROM {parsed}""")
    return out, notes


def _cell_notes(con: duckdb.DuckDBPyConnection, parsed: str, label: str, kind: str) -> list[str]:
    notes = []
    kept = "left out" if kind == "indicators" else "stored as withheld (flag suppressed)"
    bad = con.execute(f"SELECT count(*), list({LINE} ORDER BY {LINE})[1:3], list(cell ORDER BY {LINE})[1:3] "
                      f"FROM {parsed} WHERE NOT readable").fetchall()[0]
    if bad[0]:
        examples = ", ".join(f"line {ln}: {c!r}" for ln, c in zip(bad[1], bad[2], strict=True))
        notes.append(f"{label}: {bad[0]} cell(s) are not numbers with Eurostat flags ({examples}); {kept}, "
                     "not read as numbers")
    unknown = con.execute(f"SELECT DISTINCT flags FROM {parsed} WHERE readable AND flags <> ''").fetchall()
    odd = sorted({ch for (f,) in unknown for ch in f} - KNOWN_FLAGS)
    if odd:
        raise InputError("unknown Eurostat flag", file=label, value=", ".join(odd),
                         expected="flags among " + ", ".join(sorted(KNOWN_FLAGS)))
    withheld = con.execute(f"SELECT count(*) FROM {parsed} WHERE readable AND (value IS NULL OR "
                           "contains(flags, 'c'))").fetchall()[0][0]
    if withheld:
        notes.append(f"{label}: {withheld} confidential or empty cell(s) {kept}")
    return notes
