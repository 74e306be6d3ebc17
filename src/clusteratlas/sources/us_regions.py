"""US region systems: counties in states and in metropolitan/micropolitan areas (CBSAs).

Reads the OMB delineation file as the Census Bureau publishes it (columns
``CBSA Code``, ``CBSA Title``, ``Metropolitan/Micropolitan Statistical
Area``, ``FIPS State Code``, ``FIPS County Code``, ``County/County
Equivalent``, ``State Name``) or a county crosswalk with ``stco_code``,
``stco_name``, ``st_code``, ``st_name``, ``cbsa_code``, ``cbsa_name``,
``cbsa_type``. Every county is placed in two hierarchies at once: ``state``
and ``cbsa`` (counties outside any CBSA only in ``state``). CBSAs get the
level ``metro_area`` or ``micro_area``.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa

from clusteratlas._sql import ident
from clusteratlas.errors import InputError, duplicate_names
from clusteratlas.i18n import _
from clusteratlas.sources.files import LINE

OMB = {"county": ("FIPS State Code", "FIPS County Code"), "county_name": "County/County Equivalent",
       "state_name": "State Name", "cbsa": "CBSA Code", "cbsa_name": "CBSA Title",
       "cbsa_type": "Metropolitan/Micropolitan Statistical Area"}
CROSSWALK = {"county": ("stco_code",), "county_name": "stco_name", "state": "st_code", "state_name": "st_name",
             "cbsa": "cbsa_code", "cbsa_name": "cbsa_name", "cbsa_type": "cbsa_type"}


def us_regions_view(con: duckdb.DuckDBPyConnection, raw_view: str, label: str) -> tuple[str, list[str]]:
    """A view of canonical region columns (text) over an OMB delineation file or a county crosswalk."""
    cols = set(con.table(raw_view).columns)
    spec = OMB if "CBSA Code" in cols else CROSSWALK if "stco_code" in cols else None
    if spec is None:
        raise InputError(_("not a US county delineation file"), file=label,
                         expected=_("OMB columns (CBSA Code, FIPS State Code, FIPS County Code, …) or "
                                  "stco_code, st_code, cbsa_code"))
    if len(spec["county"]) == 2:
        st, co = (ident(c) for c in spec["county"])
        county = f"lpad(trim({st}::VARCHAR), 2, '0') || lpad(trim({co}::VARCHAR), 3, '0')"
        state = f"lpad(trim({st}::VARCHAR), 2, '0')"
    else:
        county = f"lpad(trim({ident(spec['county'][0])}::VARCHAR), 5, '0')"
        state = f"lpad(trim({ident(spec['state'])}::VARCHAR), 2, '0')"
    cbsa = f"NULLIF(trim({ident(spec['cbsa'])}::VARCHAR), '')"
    kind = f"lower(coalesce({ident(spec['cbsa_type'])}::VARCHAR, ''))"
    level = f"CASE WHEN {kind} LIKE 'metro%' THEN 'metro_area' WHEN {kind} LIKE 'micro%' THEN 'micro_area' END"
    name = ident(spec["county_name"])
    out = raw_view + "_canonical"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {out} AS
        SELECT {county} AS region, {name}::VARCHAR AS name, NULL::VARCHAR AS name_ja, 'county' AS level,
               {state} AS parent, 'state' AS hierarchy, {LINE} FROM {raw_view}
        UNION ALL
        SELECT {county}, {name}::VARCHAR, NULL, 'county', {cbsa}, 'cbsa', {LINE} FROM {raw_view}
        WHERE {cbsa} IS NOT NULL AND {level} IS NOT NULL
        UNION ALL
        SELECT {state}, any_value({ident(spec['state_name'])}::VARCHAR), NULL, 'state', NULL, NULL, min({LINE})
        FROM {raw_view} GROUP BY 1
        UNION ALL
        SELECT {cbsa}, any_value({ident(spec['cbsa_name'])}::VARCHAR), NULL, any_value({level}), NULL, NULL,
               min({LINE}) FROM {raw_view} WHERE {cbsa} IS NOT NULL AND {level} IS NOT NULL GROUP BY 1""")
    counts = con.execute(f"SELECT level, count(DISTINCT region) FROM {out} GROUP BY 1 ORDER BY 1").fetchall()
    return out, [f"{label}: " + ", ".join(f"{n:,} {lvl}" for lvl, n in counts)]


def bea_economic_areas(path: Path) -> pa.Table:
    """Counties in BEA economic areas, from the workbook the US Cluster Mapping Project publishes.

    Its sheet ``EA county definition`` lists ``FIPS, County, EA, EA Name``; every
    county gets the parent EA in the hierarchy ``economic_area`` and every EA a
    region row of level ``economic_area`` (its three-digit code as the id).
    """
    from clusteratlas.sources.files import sheet_rows

    label = str(path)
    rows = sheet_rows(path, "EA county definition") if Path(path).suffix.lower() in (".xls", ".xlsx") \
        else _csv_rows(path)
    header = [str(c or "").strip() for c in rows[0]] if rows else []
    duplicate_names(header, label)
    need = ("FIPS", "County", "EA", "EA Name")
    if any(n not in header for n in need):
        raise InputError(_("not a BEA economic-area county list"), file=label, value=", ".join(header[:6]),
                         expected=_("columns {columns} (sheet 'EA county definition')").format(
                             columns=", ".join(need)))
    at = {n: header.index(n) for n in need}
    counties: list[tuple] = []
    areas: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = [str(c).strip() if c is not None else "" for c in row] + [""] * len(header)
        fips, name, ea, ea_name = (cells[at[n]] for n in need)
        if not fips and not ea:
            continue
        if not re.fullmatch(r"\d{4,5}", fips):
            raise InputError(_("not a county FIPS code"), file=label, row=line, column="FIPS", value=fips,
                             expected=_("five digits, e.g. 38001"))
        if not re.fullmatch(r"\d{1,3}", ea):
            raise InputError(_("not an economic-area code"), file=label, row=line, column="EA", value=ea,
                             expected=_("up to three digits, e.g. 001"))
        ea = ea.zfill(3)
        counties.append((fips.zfill(5), name, ea, line))
        areas.setdefault(ea, (ea_name, line))
    out = {"region": [c[0] for c in counties] + list(areas),
           "name": [c[1] for c in counties] + [v[0] for v in areas.values()],
           "name_ja": [None] * (len(counties) + len(areas)),
           "level": ["county"] * len(counties) + ["economic_area"] * len(areas),
           "parent": [c[2] for c in counties] + [None] * len(areas),
           "hierarchy": ["economic_area"] * len(counties) + [None] * len(areas),
           LINE: [c[3] for c in counties] + [v[1] for v in areas.values()]}
    return pa.table({k: pa.array(v, pa.int64() if k == LINE else pa.string()) for k, v in out.items()})


def _csv_rows(path: Path) -> list[list[str]]:
    import csv

    from clusteratlas.sources.files import scan_text

    scan_text(path)  # NUL bytes, mixed line endings, unclosed quotes, a cut-off last line
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(_("cannot read as a CSV: {exc}").format(exc=exc), file=str(path),
                         expected=_("UTF-8 text")) from None
