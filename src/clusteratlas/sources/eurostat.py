"""Eurostat regional tables (SBS, LFS, nama_10r_3empers) as observations.

Three layouts are read:

- the TSV dissemination format: a first column ``unit,nace_r2,…,geo\\time``
  holding the dimension codes joined by commas, then one column per year;
- the same wide shape as a delimited file with one column per dimension and
  year columns named ``2015`` or ``n2015``;
- SDMX-CSV from the current API: ``geo``, ``nace_r2``, ``TIME_PERIOD``,
  ``OBS_VALUE``, ``OBS_FLAG``.

A cell is a number and optional flags (``5.2 u``, ``1001 d``), ``:`` or a
blank (withheld; Eurostat's extracts write confidential cells either way),
or nothing at all (empty). Every flag letter the file carries is kept as
published in the ``source_flag`` column (``d`` "definition differs", ``bu``
break + low reliability…); the atlas's own ``flag`` says what it means for
the figures: ``:``/blank/``c`` → suppressed (no number is invented), ``e``
(estimated) and ``u`` (low reliability) → estimated, the others keep the
value as reported. A cell that is none of these — such as ``12:00 AM``, a
number Excel turned into a time of day — is stored as withheld, never read
as a number. The import notes count each kind exactly (corrupted, empty,
withheld, and each flag). Values in thousands (``unit`` = ``THS``) are
multiplied by 1,000.

Eurostat tables mix levels: NUTS 0, 1 and 2 regions, and NACE sections with
divisions and groups, so a plain sum counts the same jobs several times.
``nuts_level`` (0-3) and ``nace_level`` (section, division, group, class)
keep one level of each (see :func:`nuts_level_of` and :func:`nace_level_of`).
"""

from __future__ import annotations

import re

import duckdb

from clusteratlas._sql import first_row, ident, literal, scalar
from clusteratlas.errors import InputError
from clusteratlas.i18n import _N, _, listing
from clusteratlas.sources.files import LINE

#: Eurostat's flags (https://ec.europa.eu/eurostat/data/database/information, "Flags and special values").
FLAG_MEANINGS = {
    "b": _N("break in time series"), "c": _N("confidential"), "d": _N("definition differs"), "e": _N("estimated"),
    "f": _N("forecast"), "n": _N("not significant"), "p": _N("provisional"), "r": _N("revised"),
    "s": _N("Eurostat estimate"), "u": _N("low reliability"), "z": _N("not applicable"),
}
KNOWN_FLAGS = set(FLAG_MEANINGS)
ESTIMATE_FLAGS = ("e", "u")
_YEAR = re.compile(r"^n?(\d{4})\s*$")
#: A number then flag letters (``1001 d``); ':' or a blank, then flag letters (``: u``, `` d``).
_NUMBER = r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$"
_WITHHELD = r"^\s*:?\s*([a-z]*)\s*$"
#: NUTS levels, and NACE Rev. 2 levels by name (a section is the letter level).
NUTS_LEVELS = (0, 1, 2, 3)
NACE_LEVELS = ("section", "division", "group", "class")
_NACE_DIGITS = {2: "division", 3: "group", 4: "class"}


def nuts_level_of(code: str) -> int | None:
    """NUTS level of a Eurostat geo code (``DE`` 0, ``DE1`` 1, ``DE11`` 2, ``DE111`` 3), None for aggregates.

    Country groups such as ``EU28``, ``EA19``, ``EEA`` or ``EFTA`` are not regions of any level.
    """
    code = code.strip().upper()
    match = re.fullmatch(r"([A-Z]{2})([0-9A-Z]{0,3})", code)
    if not match or match.group(1) in ("EU", "EA") or code.startswith(("EEA", "EFTA")):
        return None
    return len(match.group(2))


def nace_level_of(code: str) -> str | None:
    """NACE Rev. 2 level of a code: ``C`` section, ``C10`` division, ``G461`` group, ``C1011`` class.

    Also ``10``, ``10.1``, ``10.11`` without the letter. Section groups such as
    ``B-E`` or ``M_N`` (LFS) count as sections; other aggregates (``TOTAL``,
    ``B-N_S95_X_K``, ``C10-C12``) have no level and are None.
    """
    code = code.strip().upper()
    if re.fullmatch(r"[A-U](?:[-_][A-U])*", code):
        return "section"
    match = re.fullmatch(r"[A-U]?(\d{2})(?:\.?(\d{1,2}))?", code)
    if match:
        return _NACE_DIGITS[2 + len(match.group(2) or "")]
    return None


def section_letters(code: str) -> set[str]:
    """The sections a section code covers: ``C`` → C, ``B-E`` → B, C, D, E, ``M_N`` → M, N."""
    letters: set[str] = set()
    for part in code.strip().upper().split("_"):
        first, _, last = part.partition("-")
        letters.update(chr(c) for c in range(ord(first), ord(last or first) + 1))
    return letters


def _check_levels(label: str, nuts: int | None, nace: str | int | None) -> str | None:
    """Validate the level options; a NACE level as its name (digits 1-4 are accepted too)."""
    if nuts is not None and nuts not in NUTS_LEVELS:
        raise InputError(_("unknown NUTS level"), file=label, value=nuts, expected=_("0, 1, 2 or 3"))
    if nace is None:
        return None
    name = {"1": "section", **{str(k): v for k, v in _NACE_DIGITS.items()}}.get(str(nace).strip(),
                                                                              str(nace).strip().lower())
    if name not in NACE_LEVELS:
        raise InputError(_("unknown NACE level"), file=label, value=nace,
                         expected=_("section, division, group or class (or 1-4 digits)"))
    return name


def _pick_level(codes: list[str], wanted: int | str, level_of, what: str, label: str,
                dimension: str) -> tuple[list[str], str]:
    """The codes of one level, and a note on what was left out (other levels, aggregates, overlaps)."""
    levels = {c: level_of(c) for c in codes}
    kept = [c for c in codes if levels[c] == wanted]
    if what == "NACE" and wanted == "section":  # drop a group like B-E where its sections are given one by one
        single = {c.strip().upper() for c in kept if len(c.strip()) == 1}
        kept = [c for c in kept if len(c.strip()) == 1 or not section_letters(c) & single]
    if not kept:
        found = sorted({str(v) for v in levels.values() if v is not None})
        raise InputError(_("no {what} code of level {wanted} in the file").format(what=what, wanted=wanted),
                         file=label, column=dimension,
                         expected=_("a level among {levels}").format(
                             levels=", ".join(found) or _("none (only aggregates)")))
    dropped = sorted(set(codes) - set(kept))
    shown = listing(dropped, 8)
    note = f"{label}: " + _("kept {kept:,} {what} code(s) of level {level}; left out {dropped:,} of other levels or "
                            "aggregates").format(kept=len(kept), what=what, level=wanted, dropped=len(dropped)) + (
        f" ({shown})" if dropped else "")
    return kept, note


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return [c for c in con.table(view).columns if c != LINE]


def _long_from_wide(con: duckdb.DuckDBPyConnection, view: str, label: str) -> tuple[str, list[str]]:
    """SQL of (dimension columns…, year, cell, __line) from the wide layouts, and the dimension names."""
    cols = _columns(con, view)
    years = [c for c in cols if _YEAR.match(c.strip())]
    dims = [c for c in cols if c not in years]
    if not years:
        raise InputError(_("no year columns found"), file=label, expected=_("columns such as 2015 or n2015"),
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
                  filters: dict[str, str] | None = None, kind: str = "observations",
                  nuts_level: int | None = None, nace_level: str | int | None = None) -> tuple[str, list[str]]:
    """Canonical observation (or indicator) columns as text over a Eurostat file, and notes for the user.

    ``nuts_level`` / ``nace_level`` keep one region / industry level (the
    tables mix them, so a sum over all codes counts jobs twice or more).
    As indicators (e.g. ``tgs00040`` patent applications per million,
    ``tgs00003`` regional GDP) a table needs no NACE dimension; values keep
    their unit (no scaling), and withheld cells are left out and counted in
    the notes.
    """
    nace_name = _check_levels(label, nuts_level, nace_level)
    cols = _columns(con, raw_view)
    if "OBS_VALUE" in cols or {"values", "time"} <= set(cols):
        long_sql, dims = _long_from_sdmx(con, raw_view)
    else:
        long_sql, dims = _long_from_wide(con, raw_view, label)
    lower = {d.lower(): d for d in dims}
    geo, nace = lower.get("geo"), next((lower[k] for k in ("nace_r2", "nace_r1", "nace") if k in lower), None)
    if geo is None or (nace is None and kind == "observations"):
        raise InputError(_("the file has no geo or NACE dimension"), file=label, value=", ".join(dims),
                         expected="dimensions geo and nace_r2" if kind == "observations" else "a geo dimension")
    if nace is None and nace_name is not None:
        raise InputError(_("the file has no NACE dimension to pick a level from"), file=label,
                         value=", ".join(dims), hint=_("Leave out --nace-level"))
    filters = dict(filters or {})
    for key in filters:
        if key not in dims:
            raise InputError(_("unknown dimension in --filter"), file=label, value=key, expected=", ".join(dims))
    long_view = raw_view + "_long"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {long_view} AS {long_sql}")
    where = " AND ".join(f"{ident(k)} = {literal(v)}" for k, v in filters.items()) or "true"
    for d in dims:
        if d in (geo, nace) or d in filters:
            continue
        values = [r[0] for r in con.execute(f"SELECT DISTINCT {ident(d)} FROM {long_view} WHERE {where} "
                                            "ORDER BY 1 LIMIT 12").fetchall()]
        if len(values) > 1:
            raise InputError(_("dimension '{d}' has several values").format(d=d), file=label, value=", ".join(values),
                             hint=_("Choose one with --filter {d}=VALUE").format(d=d))
    notes: list[str] = []
    for dim, wanted, level_of, what in ((geo, nuts_level, nuts_level_of, "NUTS"),
                                        (nace, nace_name, nace_level_of, "NACE")):
        if wanted is None:
            continue
        codes = [r[0] for r in con.execute(f"SELECT DISTINCT {ident(dim)} FROM {long_view} WHERE {where} "
                                           f"AND {ident(dim)} IS NOT NULL ORDER BY 1").fetchall()]
        kept, note = _pick_level(codes, wanted, level_of, what, label, dim)
        where += f" AND {ident(dim)} IN ({', '.join(literal(c) for c in kept)})"
        notes.append(note)
    unit = lower.get("unit")
    scale = "CASE WHEN unit_code = 'THS' THEN 1000.0 ELSE 1.0 END"
    number_re, withheld_re = literal(_NUMBER), literal(_WITHHELD)
    parsed = raw_view + "_parsed"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {parsed} AS
        WITH cells AS (
            SELECT {ident(geo)} AS region, {ident(nace) if nace else 'NULL'} AS industry, year, {LINE}, cell,
                   {f"{ident(unit)}::VARCHAR" if unit else "NULL::VARCHAR"} AS unit_code,
                   CASE WHEN cell IS NULL OR cell = '' THEN 'empty'
                        WHEN regexp_matches(cell, {number_re}) THEN 'number'
                        WHEN regexp_matches(cell, {withheld_re}) THEN 'withheld'
                        ELSE 'corrupted' END AS kind
            FROM {long_view} WHERE {where})
        SELECT *, TRY_CAST(CASE WHEN kind = 'number' THEN regexp_extract(cell, {number_re}, 1) END AS DOUBLE)
                  AS raw_number,
               CASE kind WHEN 'number' THEN regexp_extract(cell, {number_re}, 2)
                         WHEN 'withheld' THEN regexp_extract(cell, {withheld_re}, 1) ELSE '' END AS flags
        FROM cells""")
    notes += _cell_notes(con, parsed, label, kind)
    usable = "kind = 'number' AND NOT contains(flags, 'c')"
    out = raw_view + "_canonical"
    if kind == "indicators":
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
            SELECT region, year::VARCHAR AS year, raw_number::VARCHAR AS value, NULL::VARCHAR AS indicator,
                   unit_code AS unit, {LINE}
            FROM {parsed} WHERE {usable}""")
        return out, notes
    estimate = " OR ".join(f"contains(flags, '{f}')" for f in ESTIMATE_FLAGS)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT region, industry, year::VARCHAR AS year,
               CASE WHEN {usable} THEN round(raw_number * {scale}, 9)::VARCHAR END AS employment,
               NULL::VARCHAR AS establishments, NULL::VARCHAR AS payroll,
               CASE WHEN NOT ({usable}) THEN 'suppressed' WHEN {estimate} THEN 'estimated' ELSE '' END AS flag,
               NULL::VARCHAR AS size_class, NULLIF(flags, '') AS source_flag, {LINE}
        FROM {parsed}""")
    return out, notes


def _cell_notes(con: duckdb.DuckDBPyConnection, parsed: str, label: str, kind: str) -> list[str]:
    """Exact counts of corrupted, withheld and empty cells, and of each flag kept."""
    notes = []
    kept = _("left out") if kind == "indicators" else _("stored as withheld (flag suppressed)")
    bad = first_row(con, f"SELECT count(*), list({LINE} ORDER BY {LINE})[1:3], list(cell ORDER BY {LINE})[1:3] "
                         f"FROM {parsed} WHERE kind = 'corrupted'")
    if bad[0]:
        examples = _(", ").join(_("line {line}: {cell!r}").format(line=ln, cell=c)
                             for ln, c in zip(bad[1], bad[2], strict=True))
        notes.append(f"{label}: " + _("{n:,} corrupted cell(s), not numbers with Eurostat flags ({examples}); "
                                      "{kept}, not read as numbers").format(n=bad[0], examples=examples, kept=kept))
    letters = [r[0] for r in con.execute(f"SELECT DISTINCT flags FROM {parsed} WHERE flags <> ''").fetchall()]
    odd = sorted({ch for f in letters for ch in f} - KNOWN_FLAGS)
    if odd:
        line = scalar(con, f"SELECT min({LINE}) FROM {parsed} WHERE regexp_matches(flags, "
                           f"{literal('[' + ''.join(odd) + ']')})")
        raise InputError(_("unknown Eurostat flag"), file=label, row=line, value=", ".join(odd),
                         expected=_("flags among {flags}").format(flags=", ".join(sorted(KNOWN_FLAGS))))
    withheld, confidential, empty = first_row(
        con, f"SELECT count(*) FILTER (WHERE kind = 'withheld'), "
             f"count(*) FILTER (WHERE kind = 'number' AND contains(flags, 'c')), "
             f"count(*) FILTER (WHERE kind = 'empty') FROM {parsed}")
    if withheld or confidential:
        flagged_c = _(", {n:,} number(s) flagged c").format(n=confidential) if confidential else ""
        notes.append(f"{label}: " + _("{n:,} withheld cell(s) (':' or blank, as Eurostat writes confidential "
                                      "data{flagged}) {kept}").format(n=withheld + confidential, flagged=flagged_c,
                                                                     kept=kept))
    if empty:
        notes.append(f"{label}: " + _("{n:,} empty cell(s) (no value at all) {kept}").format(n=empty, kept=kept))
    if kind == "observations":
        counts = con.execute(f"""SELECT f, count(*), count(*) FILTER (WHERE kind = 'number')
            FROM (SELECT unnest(string_split(flags, '')) AS f, kind FROM {parsed} WHERE flags <> '')
            GROUP BY f ORDER BY f""").fetchall()
        if counts:
            listed = _("; ").join(_("{flag} ({meaning}) on {n:,} cell(s), {k:,} with a number").format(
                flag=f, meaning=_(FLAG_MEANINGS[f]), n=n, k=k) for f, n, k in counts)
            notes.append(f"{label}: " + _("Eurostat flags kept as published in source_flag: {listed}").format(
                listed=listed))
    return notes
