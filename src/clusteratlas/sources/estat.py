"""Japanese statistics: e-Stat API JSON, and wide region × industry tables.

**e-Stat** ``getStatsData`` (API v3, JSON): values sit in
``GET_STATS_DATA.STATISTICAL_DATA.DATA_INF.VALUE`` with their codes in
attributes (``@area``, ``@time``, ``@cat01`` …) and the number in ``$``; the
code lists in ``CLASS_INF.CLASS_OBJ``. The API returns a single object
instead of a one-element list (for VALUE, CLASS_OBJ and CLASS); both are
accepted. Cells ``-`` (none), ``X`` (秘匿, withheld), ``***`` and ``…`` are
stored as withheld, never as numbers. Errors name the VALUE entry (1-based).

**Wide tables** (``--format wide``): one row per region and one column per
industry, named PREFIX + code (e.g. ``SEmp_091``: employees of JSIC group 091).
Columns whose values are not counts (such as true/false), and columns whose
prefix differs only by letter case (a misspelling such as ``Semp_982``), are
reported and left out, not silently used; with a totals prefix, detail
columns that add up to more than the totals are reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from clusteratlas._sql import ident
from clusteratlas.errors import InputError, check_json, duplicate_names
from clusteratlas.i18n import _
from clusteratlas.sources.files import LINE

WITHHELD = {"-", "X", "x", "***", "…", "...", ""}


def _one_or_many(item: dict) -> dict:
    return {"anyOf": [item, {"type": "array", "items": item}]}


_CELL = {"type": ["string", "number", "null"]}
#: What the e-Stat readers walk (the API gives a single object where a list has one element).
STATS_DATA_SCHEMA = {
    "type": "object", "required": ["GET_STATS_DATA"],
    "properties": {"GET_STATS_DATA": {
        "type": "object", "required": ["STATISTICAL_DATA"],
        "properties": {
            "RESULT": {"type": "object", "properties": {
                "STATUS": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]}}},
            "STATISTICAL_DATA": {"type": "object", "properties": {
                "CLASS_INF": {"type": "object", "properties": {"CLASS_OBJ": _one_or_many({
                    "type": "object", "required": ["@id"],
                    "properties": {"@id": {"type": "string"}, "CLASS": _one_or_many({
                        "type": "object", "required": ["@code"],
                        "additionalProperties": _CELL})}})}},
                "DATA_INF": {"type": "object", "properties": {"VALUE": _one_or_many({
                    "type": "object", "additionalProperties": _CELL})}}}}}}},
}


def _as_list(node) -> list:
    return node if isinstance(node, list) else [node] if node is not None else []


def _stats_data(path: Path, label: str) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(_("cannot read as e-Stat JSON: {exc}").format(exc=exc), file=label) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("GET_STATS_DATA"), dict):
        raise InputError(_("not an e-Stat getStatsData answer"), file=label, expected=_("a GET_STATS_DATA object"))
    check_json(doc, STATS_DATA_SCHEMA, label, "an e-Stat getStatsData answer")
    root = doc["GET_STATS_DATA"]
    status = (root.get("RESULT") or {}).get("STATUS", 0)
    if int(status) not in (0, 1, 2):  # 0 ok, 1-2 ok with notes
        raise InputError(_("e-Stat reported an error: {value}").format(value=root['RESULT'].get('ERROR_MSG')),
                         file=label,
                         value=status)
    data = root.get("STATISTICAL_DATA") or {}
    if "DATA_INF" not in data:
        raise InputError(_("the answer has no DATA_INF (no values)"), file=label)
    return data


def estat_classes(path: Path, label: str | None = None) -> dict[str, list[dict]]:
    """The code lists of an answer: class id -> [{code, name, level, parentCode, unit}]."""
    data = _stats_data(path, label or str(path))
    out = {}
    for obj in _as_list((data.get("CLASS_INF") or {}).get("CLASS_OBJ")):
        out[obj["@id"]] = [{k.lstrip("@"): v for k, v in c.items()} for c in _as_list(obj.get("CLASS"))]
    return out


def estat_json_view(con: duckdb.DuckDBPyConnection, path: Path, label: str, *, industry: str = "cat01",
                    filters: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """A view of canonical observation columns (as text) over an e-Stat JSON answer."""
    data = _stats_data(path, label)
    values = _as_list(data["DATA_INF"].get("VALUE"))
    if not values:
        raise InputError(_("the answer has no values"), file=label)
    table, notes = _values_table([(n, v) for n, v in enumerate(values, start=1)], label, industry, filters)
    view = f"__estat_{abs(hash(str(path))):x}"
    con.register(view, table)
    return view, notes


def _values_table(values: list[tuple[int, dict]], label: str, industry: str,
                  filters: dict[str, str] | None) -> tuple[pa.Table, list[str]]:
    """Canonical observation rows from e-Stat values ({'@area', '@time', '@cat01', …, '$'}), numbered."""
    keys = sorted({k for _, v in values for k in v if k.startswith("@")})
    if f"@{industry}" not in keys:
        raise InputError(_("no such classification in the answer"), file=label, value=industry,
                         expected=", ".join(k[1:] for k in keys), hint=_("Choose it with --filter industry=CLASS"))
    filters = dict(filters or {})
    for k in filters:
        if f"@{k}" not in keys:
            raise InputError(_("unknown classification in --filter"), file=label, value=k,
                             expected=", ".join(k[1:] for k in keys))
    rows = {"region": [], "industry": [], "year": [], "employment": [], "flag": [], LINE: []}
    withheld = 0
    for n, v in values:
        if any(v.get(f"@{k}") != want for k, want in filters.items()):
            continue
        raw = str(v.get("$", "")).strip()
        rows["region"].append(v.get("@area"))
        rows["industry"].append(v.get(f"@{industry}"))
        time = str(v.get("@time", ""))
        rows["year"].append(time[:4] if re.match(r"^\d{4}", time) else time)
        if raw in WITHHELD:
            withheld += 1
            rows["employment"].append(None)
            rows["flag"].append("suppressed")
        else:
            rows["employment"].append(raw.replace(",", ""))
            rows["flag"].append("")
        rows[LINE].append(n)
    table = pa.table({k: pa.array(v, type=pa.int64() if k == LINE else pa.string()) for k, v in rows.items()})
    for extra in ("establishments", "payroll", "size_class"):
        table = table.append_column(extra, pa.nulls(table.num_rows, pa.string()))
    notes = [f"{label}: " + _("{n:,} withheld cell(s) ('-', 'X', '***') stored without a number").format(n=withheld)
             ] if withheld else []
    return table, notes


#: Japanese column names of e-Stat CSV downloads → the API's class ids.
_JA_CLASSES = (("地域", "area"), ("時間軸", "time"), ("表章項目", "tab"))


def estat_csv(path: Path, *, industry: str = "cat01",
              filters: dict[str, str] | None = None) -> tuple[pa.Table, list[str]]:
    """A view of canonical observation columns over an e-Stat CSV (API ``getSimpleStatsData`` or download).

    Such files carry metadata rows above the table (``"RESULT"``, ``"STATUS"``
    … ``"VALUE"``, or 統計名/表題 lines): the header is the first row with a
    ``value`` (値) column and code columns (``area_code`` or ``地域 コード``).
    Cells ``-``, ``X``, ``***`` and ``…`` are withheld, as in the JSON reader.
    """
    label = str(path)
    rows = _csv_rows(path, label)
    header_at = None
    for i, row in enumerate(rows[:200]):
        cells = [c.strip() for c in row]
        if any(c in ("value", "値") for c in cells) and any(_class_id(c, []) for c in cells):
            header_at = i
            break
    if header_at is None:
        raise InputError(_("no e-Stat table header found"), file=label,
                         expected=_("a header row with 'value' and code columns such as area_code, time_code, "
                                  "cat01_code (or 地域 コード, 時間軸 コード)"))
    header = [c.strip() for c in rows[header_at]]
    duplicate_names(header, label, row=header_at + 1)
    taken: list[str] = []
    classes = {}
    for i, name in enumerate(header):
        cls = _class_id(name, taken)
        if cls:
            taken.append(cls)
            classes[i] = cls
    value_at = next(i for i, c in enumerate(header) if c in ("value", "値"))
    if "area" not in classes.values() or "time" not in classes.values():
        raise InputError(_("the e-Stat table has no area or time code column"), file=label, row=header_at + 1,
                         value=", ".join(header), expected=_("area_code and time_code columns"))
    values = []
    for line, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(_("the row has {row} cells, the header {header} (a "
                               "truncated file?)").format(row=len(row), header=len(header)),
                             file=label, row=line)
        entry = {f"@{cls}": row[i].strip() for i, cls in classes.items()}
        entry["$"] = row[value_at].strip()
        values.append((line, entry))
    if not values:
        raise InputError(_("the e-Stat table has a header but no values"), file=label, row=header_at + 1)
    return _values_table(values, label, industry, filters)


def _class_id(name: str, taken: list[str]) -> str | None:
    """The e-Stat class id a code column stands for (``cat01_code`` → cat01; ``地域 コード`` → area)."""
    match = re.fullmatch(r"(\w+?)_code", name)
    if match:
        return match.group(1)
    if not name.endswith("コード"):
        return None
    for word, cls in _JA_CLASSES:
        if word in name:
            return cls
    return f"cat{sum(t.startswith('cat') for t in taken) + 1:02d}"


def _csv_rows(path: Path, label: str) -> list[list[str]]:
    import csv

    from clusteratlas.sources.files import detect_encoding

    encoding = detect_encoding(path)
    try:
        with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
            return list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(_("cannot read as an e-Stat CSV: {exc}").format(exc=exc), file=label,
                         expected=_("UTF-8 or Shift_JIS/CP932 text")) from None


def estat_regions(path: Path, **_: object) -> pa.Table:
    """Regions (code, Japanese name, level, parent) from the area class of an e-Stat answer."""
    area = estat_classes(path).get("area", [])
    return pa.table({"region": [str(a["code"]) for a in area], "name_ja": [a.get("name") for a in area],
                     "level": [f"estat_level_{a.get('level', '')}" for a in area],
                     "parent": [a.get("parentCode") for a in area]})


def wide_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str, *, prefix: str | None = None,
              region_column: str | None = None, establishments_prefix: str | None = None,
              totals_prefix: str | None = None, year: int | None = None) -> tuple[str, list[str]]:
    """A view of canonical observation columns over a wide table (one column per industry)."""
    cols = [c for c in con.table(raw_view).columns if c != LINE]
    region = region_column or cols[0]
    if region not in cols:
        raise InputError(_("no such region column"), file=label, value=region, expected=", ".join(cols[:8]))
    if year is None:
        raise InputError(_("a wide table has no year column"), file=label, hint=_("Give the year with --year"))
    notes: list[str] = []
    materialised = raw_view + "_table"  # many columns are read many times: read the file once
    con.execute(f"CREATE OR REPLACE TEMP TABLE {materialised} AS SELECT * FROM {raw_view}")
    raw_view = materialised

    def usable(pfx: str) -> dict[str, str]:
        exact = {c[len(pfx):]: c for c in cols if c.startswith(pfx)}
        near = [c for c in cols if c.lower().startswith(pfx.lower()) and not c.startswith(pfx)]
        if near:
            notes.append(f"{label}: " + _("column(s) {columns} look like '{prefix}…' with different letter case; "
                                          "left out (a misspelling?)").format(columns=", ".join(near), prefix=pfx))
        if not exact:
            raise InputError(_("no columns with prefix '{pfx}'").format(pfx=pfx), file=label, value=", ".join(cols[:8]))
        checks = ", ".join(f"count(*) FILTER (WHERE {ident(c)} IS NOT NULL AND TRY_CAST({ident(c)} AS DOUBLE) "
                           f"IS NULL), any_value({ident(c)}::VARCHAR)" for c in exact.values())
        found = con.execute(f"SELECT {checks} FROM {raw_view}").fetchall()[0]
        good = {}
        for n, (code, col) in enumerate(exact.items()):
            if found[2 * n]:
                notes.append(f"{label}: " + _("column {column} holds values that are not counts (e.g. {value!r}); "
                                              "left out").format(column=col, value=found[2 * n + 1]))
            else:
                good[code] = col
        return good

    if not prefix and not establishments_prefix:
        raise InputError(_("a wide table needs --prefix (employment columns) or --establishments-prefix"),
                         file=label)
    emp = usable(prefix) if prefix else {}
    est = usable(establishments_prefix) if establishments_prefix else {}
    if not emp:
        notes.append(f"{label}: " + _("no employment columns; rows carry establishments only (flag suppressed: "
                                      "no employment number)"))
    codes = list(emp) or list(est)

    def cell(columns: dict[str, str], code: str) -> str:
        return f"{ident(columns[code])}::VARCHAR" if code in columns else "NULL::VARCHAR"

    unions = " UNION ALL ".join(
        f"SELECT trim({ident(region)}::VARCHAR) AS region, '{code}' AS industry, '{int(year)}' AS year, "
        f"{cell(emp, code)} AS employment, {cell(est, code)} AS establishments, "
        f"NULL::VARCHAR AS payroll, '{'' if emp else 'suppressed'}' AS flag, NULL::VARCHAR AS size_class, "
        f"{LINE} FROM {raw_view}"
        for code in codes)
    out = raw_view + "_canonical"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {out} AS {unions}")
    if totals_prefix:
        totals = [c for c in cols if c.startswith(totals_prefix)]
        detail_cols = est if establishments_prefix else emp
        detail = " + ".join(f"coalesce(TRY_CAST({ident(c)} AS DOUBLE), 0)" for c in detail_cols.values())
        total = " + ".join(f"coalesce(TRY_CAST({ident(c)} AS DOUBLE), 0)" for c in totals)
        if totals and detail:
            d, t = con.execute(f"SELECT sum({detail}), sum({total}) FROM {raw_view}").fetchall()[0]
            if t and d > t * 1.001:
                notes.append(f"{label}: " + _("the detail columns add up to {detail:,.0f}, {excess:.0%} more than "
                                              "the {n} total columns ({total:,.0f}): some overlap or are aggregates, "
                                              "so sums over them count some units twice").format(
                    detail=d, excess=d / t - 1, n=len(totals), total=t))
    return out, notes
