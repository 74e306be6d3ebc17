"""Japan's Economic Census tables (経済センサス) by region × JSIC, read as the tables are built.

A census table by prefecture is not a flat list of peers. :func:`read_census`
knows its parts:

- the **national row** (area code ``00000``, 全国) is the reference economy:
  it becomes reference totals, never a region beside the prefectures;
- **prefectures** (``PP000``) are regions of level ``prefecture``;
  **municipalities** (any other code; the 20 designated cities, 政令指定都市,
  among them) are regions of level ``municipality`` whose parent is their
  prefecture (hierarchy ``prefecture``), so they are rated among themselves,
  never as peers of the prefectures that contain them;
- **letter-suffixed columns** (``39A``, ``39B``, ``39C``) are details: where a
  run of them adds up to the group column before it (39A + 39B + 39C = 392,
  within the table's rounding) they are children of that group, kept in the
  industry list with the group as parent and never added to it (they are
  left out of the observations, which therefore add up). A run that is no
  one group's detail (``12A`` stands for 121 + 122, which the table lacks)
  is kept as an observation of its own and listed;
- **secret cells** (``X``, ``-``, ``…``, ``***``, empty) are withheld:
  stored with the flag ``suppressed`` and no number.

The columns are named PREFIX + code (``SEmp_392`` employees, ``SFirm_392``
establishments, as in the 2014 extract of Fukui's regional IO tables);
prefixes are found, or given. A column holding values that are not counts
(true/false) and a prefix spelled with other letter case (``Semp_982``) are
left out and listed, as ``--format wide`` does.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

NATIONAL = "00000"
#: Cells that e-Stat and the census tables use for a figure withheld or not there.
WITHHELD = frozenset({"-", "X", "x", "***", "…", "...", "", "χ", "Χ"})
_CODE = re.compile(r"^(\d{2,4})([A-Z]?)$")
_PREFIXES = (("SEmp_", "SFirm_"), ("従業者数_", "事業所数_"), ("emp_", "est_"))


@dataclass
class CensusTable:
    """What a census table holds, split into the atlas's tables."""

    observations: pa.Table
    reference_totals: pa.Table
    regions: pa.Table
    industries: pa.Table
    children: pa.Table
    notes: list[str] = field(default_factory=list)


def designated_cities() -> dict[str, tuple[str, str]]:
    """The 20 designated cities (政令指定都市): code → (English name, Japanese name)."""
    text = resources.files("clusteratlas.reference").joinpath("data", "jp_designated_cities.csv").read_text("utf-8")
    return {r["code"]: (r["name"], r["name_ja"]) for r in csv.DictReader(text.splitlines())}


def region_level(code: str) -> str:
    """``country`` for 00000, ``prefecture`` for PP000, else ``municipality``."""
    if code == NATIONAL:
        return "country"
    return "prefecture" if code.endswith("000") else "municipality"


def _rows(path: Path) -> list[list[str]]:
    from clusteratlas.sources.files import _check_exists, detect_encoding, file_format, sheet_rows

    _check_exists(path)
    if file_format(path) == "excel":
        return [["" if c is None else str(c) for c in row] for row in sheet_rows(path)]
    encoding = detect_encoding(path)
    try:
        with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
            return list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(_("cannot read as a census table: {exc}").format(exc=exc), file=str(path)) from None


def _count(raw: str) -> float | bool | None:
    """A count (float), None for a withheld cell, False for a value that is not a count."""
    text = raw.strip().replace(",", "")
    if text in WITHHELD:
        return None
    try:
        value = float(text)
    except ValueError:
        return False
    return value if value >= 0 else False


def read_census(path: str | Path, *, year: int | None, prefix: str | None = None,
                establishments_prefix: str | None = None, region_column: str | None = None,
                tolerance: float = 0.001, national_only: bool = False) -> CensusTable:
    """Read a census table (one row per area, one column per JSIC code); see the module docstring.

    ``national_only``: the table holds reference totals; its one row (or its row ``00000``) is the nation.
    """
    path = Path(path)
    label = str(path)
    if year is None:
        raise InputError(_("a census table has no year column"), file=label, hint=_("Give the year with --year"))
    rows = [r for r in _rows(path) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(_("the table has no data rows"), file=label)
    header = [h.strip() for h in rows[0]]
    region_at = header.index(region_column) if region_column in header else 0
    if region_column and region_column not in header:
        raise InputError(_("no such region column"), file=label, value=region_column, expected=", ".join(header[:8]))
    if prefix is None and establishments_prefix is None:
        for emp, est in _PREFIXES:
            if any(h.startswith(emp) for h in header) or any(h.startswith(est) for h in header):
                prefix, establishments_prefix = emp, est
                break
        else:
            raise InputError(_("no employment or establishment columns found"), file=label,
                             expected=_("columns PREFIX + JSIC code, e.g. SEmp_392 (or give --prefix)"))
    notes: list[str] = []
    data = rows[1:]
    for n, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise InputError(_("the row has {row} cells, the header {header}").format(
                row=len(row), header=len(header)), file=label, row=n)

    def columns(pfx: str | None) -> dict[str, int]:
        if not pfx:
            return {}
        near = [h for h in header if h.lower().startswith(pfx.lower()) and not h.startswith(pfx)]
        if near:
            notes.append(f"{label}: " + _("column(s) {columns} look like '{prefix}…' with different letter case; "
                                          "left out (a misspelling?)").format(columns=", ".join(near), prefix=pfx))
        found = {}
        for i, h in enumerate(header):
            if not h.startswith(pfx):
                continue
            code = h[len(pfx):]
            if not _CODE.match(code):
                notes.append(f"{label}: " + _("column {column}: {code!r} is not a JSIC code; left out").format(
                    column=h, code=code))
                continue
            bad = next((r[i] for r in data if _count(r[i]) is False), None)
            if bad is not None:
                notes.append(f"{label}: " + _("column {column} holds values that are not counts (e.g. {value!r}); "
                                              "left out").format(column=h, value=bad))
                continue
            found[code] = i
        return found

    emp, est = columns(prefix), columns(establishments_prefix)
    if not emp and not est:
        raise InputError(_("no usable columns with prefix {value!r}").format(value=prefix or establishments_prefix),
                         file=label)
    main = emp or est
    parent_of, standalone = _letter_runs(list(main), main, data, tolerance)
    if parent_of:
        runs = "; ".join(f"{p} = {run}" for run, p in _runs_described(parent_of))
        notes.append(f"{label}: " + _("{n} letter-suffixed columns are details of the group before them (they add "
                                      "up to it): kept as its children, not added to it ({runs})").format(
            n=len(parent_of), runs=runs))
    if standalone:
        notes.append(f"{label}: " + _("column(s) {columns} are no group's details (the table has no columns for the "
                                      "groups they stand for): kept as groups of their own").format(
            columns=", ".join(standalone)))
    codes = [c for c in main if c not in parent_of]
    regions, withheld = [], 0
    obs: dict[str, list] = {k: [] for k in ("region", "industry", "year", "employment", "establishments", "flag")}
    child: dict[str, list] = {k: [] for k in ("region", "industry", "parent", "year", "employment")}
    totals: dict[str, list] = {"industry": [], "year": [], "employment": []}
    seen: set[str] = set()
    for n, row in enumerate(data, start=2):
        code = row[region_at].strip()
        if national_only and len(data) == 1:
            code = NATIONAL
        if code.isdigit() and len(code) < 5:
            code = code.zfill(5)
        if not re.fullmatch(r"\d{5}", code):
            raise InputError(_("not an area code"), file=label, row=n, column=header[region_at], value=code,
                             expected=_("a five-digit area code (00000 Japan, 13000 Tokyo, 28100 Kobe city)"))
        if code in seen:
            raise InputError(_("the area appears twice"), file=label, row=n, value=code)
        seen.add(code)
        if code == NATIONAL:
            for c in codes:
                value = _count(row[main[c]])
                if value is not None and emp:
                    totals["industry"].append(c)
                    totals["year"].append(int(year))
                    totals["employment"].append(value)
            continue
        regions.append(code)
        for c in codes:
            e = _count(row[emp[c]]) if c in emp else None
            s = _count(row[est[c]]) if c in est else None
            obs["region"].append(code)
            obs["industry"].append(c)
            obs["year"].append(int(year))
            obs["employment"].append(e)
            obs["establishments"].append(s)
            suppressed = e is None
            withheld += suppressed and c in emp and row[emp[c]].strip() != ""
            obs["flag"].append("suppressed" if suppressed else "")
        for c, parent in parent_of.items():
            child["region"].append(code)
            child["industry"].append(c)
            child["parent"].append(parent)
            child["year"].append(int(year))
            child["employment"].append(_count(row[main[c]]))
    if national_only:
        if NATIONAL not in seen:
            raise InputError(_("no national row for the reference totals"), file=label,
                             expected=_("one row, or a row with area code 00000"))
    elif NATIONAL not in seen:
        notes.append(f"{label}: " + _("no national row (00000): no reference totals; map with --reference "
                                      "observations"))
    else:
        notes.append(f"{label}: " + _("the national row (00000) is stored as reference totals, not as a region"))
    levels = [region_level(r) for r in regions]
    if "municipality" in levels:
        notes.append(f"{label}: " + _("{municipalities} municipalities (level 'municipality', parent their "
                                      "prefecture) and {prefectures} prefectures: each level is rated on its "
                                      "own").format(municipalities=levels.count("municipality"),
                                                    prefectures=levels.count("prefecture")))
    if withheld:
        notes.append(f"{label}: " + _("{n} withheld cell(s) ('X', '-', '…', '***') stored without a number, "
                                      "flagged suppressed").format(n=withheld))
    return CensusTable(
        observations=pa.table({"region": obs["region"], "industry": obs["industry"],
                               "year": pa.array(obs["year"], pa.int32()),
                               "employment": pa.array(obs["employment"], pa.float64()),
                               "establishments": pa.array(obs["establishments"], pa.float64()),
                               "flag": obs["flag"]}),
        reference_totals=pa.table({"industry": pa.array(totals["industry"], pa.string()),
                                   "year": pa.array(totals["year"], pa.int32()),
                                   "employment": pa.array(totals["employment"], pa.float64())}),
        regions=_regions(regions, path),
        industries=_industries(codes, parent_of),
        children=pa.table({"region": pa.array(child["region"], pa.string()),
                           "industry": pa.array(child["industry"], pa.string()),
                           "parent": pa.array(child["parent"], pa.string()),
                           "year": pa.array(child["year"], pa.int32()),
                           "employment": pa.array(child["employment"], pa.float64())}),
        notes=notes)


def _letter_runs(order: list[str], cols: dict[str, int], data: list[list[str]],
                 tolerance: float) -> tuple[dict[str, str], list[str]]:
    """Letter-suffixed codes that detail the group column before them (code → parent), and the others."""
    parent_of: dict[str, str] = {}
    standalone: list[str] = []
    i = 0
    while i < len(order):
        if not order[i][-1].isalpha():
            i += 1
            continue
        j = i
        while j < len(order) and order[j][-1].isalpha() and order[j][:-1] == order[i][:-1]:
            j += 1
        run = order[i:j]
        before = order[i - 1] if i and not order[i - 1][-1].isalpha() else None
        if before and _adds_up(before, run, cols, data, tolerance):
            parent_of.update({c: before for c in run})
        else:
            # a detail run may also follow the group's other details' runs
            candidates = [c for c in order if c[:2] == run[0][:2] and not c[-1].isalpha()]
            parent = next((c for c in candidates if _adds_up(c, run, cols, data, tolerance)), None)
            if parent:
                parent_of.update({c: parent for c in run})
            else:
                standalone.extend(run)
        i = j
    return parent_of, standalone


def _adds_up(parent: str, run: list[str], cols: dict[str, int], data: list[list[str]], tolerance: float) -> bool:
    """Whether the run's columns add up to the parent's in at least 90 % of the rows where all are numbers."""
    checked = matched = 0
    for row in data:
        p = _count(row[cols[parent]])
        parts = [_count(row[cols[c]]) for c in run]
        if not isinstance(p, float) or any(not isinstance(x, float) for x in parts):
            continue
        checked += 1
        total = sum(parts)
        matched += abs(total - p) <= max(len(run), tolerance * p)
    return checked > 0 and matched >= 0.9 * checked


def _runs_described(parent_of: dict[str, str]) -> list[tuple[str, str]]:
    by_parent: dict[str, list[str]] = {}
    for c, p in parent_of.items():
        by_parent.setdefault(p, []).append(c)
    return [(" + ".join(cs), p) for p, cs in by_parent.items()]


def _regions(codes: list[str], path: Path) -> pa.Table:
    from clusteratlas.reference.japan import prefectures

    prefs = {r["region"]: r for r in prefectures().to_pylist()}
    cities = designated_cities()
    given = _area_names(path)
    rows = []
    for code in codes:
        level = region_level(code)
        if level == "prefecture":
            p = prefs.get(code, {})
            rows.append((code, p.get("name") or given.get(code), p.get("name_ja"), level, p.get("parent"),
                         "meti_bureau" if p.get("parent") else None))
        else:
            name, name_ja = cities.get(code, (given.get(code), None))
            rows.append((code, name, name_ja, level, f"{code[:2]}000", "prefecture"))
    names = ("region", "name", "name_ja", "level", "parent", "hierarchy")
    return pa.table({k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(names)})


def _area_names(path: Path) -> dict[str, str]:
    """Names from an ``AreaID.csv`` (AreaID, AreaName) beside the table, when there is one."""
    beside = path.with_name("AreaID.csv")
    if not beside.is_file():
        return {}
    with open(beside, encoding="utf-8-sig", newline="") as fh:
        return {r["AreaID"].strip(): re.sub(r"\(.*\)$", "", r["AreaName"]).strip()
                for r in csv.DictReader(fh) if r.get("AreaID") and r.get("AreaName")}


def _industries(codes: list[str], parent_of: dict[str, str]) -> pa.Table:
    """The JSIC Rev. 13 code list (so every parent is there), with the table's letter-suffixed columns added."""
    from clusteratlas.reference.jp_benchmark import industries, jsic_names

    names = jsic_names(13)
    listed = industries(13)
    rows = list(zip(*(listed[c].to_pylist() for c in listed.column_names), strict=True))
    for c in [*codes, *parent_of]:
        if c in names:
            continue
        en, ja = names.get(c, (None, None))
        parent = parent_of.get(c) or (c[:-1] if len(c) == 4 else c[:2])
        if c[-1].isalpha() and c not in parent_of:
            en = en or f"{c} (groups of {c[:2]} the table does not list separately)"
        rows.append((c, "jsic13", en, ja, parent))
    names_ = ("industry", "classification", "name", "name_ja", "parent")
    return pa.table({k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(names_)})


def import_census(atlas, path: str | Path, *, name: str | None = None, year: int | None = None,
                  replace: bool = False, dry_run: bool = False, strict: bool = False, **options) -> list:
    """Read a census table and store its parts: regions, industries, reference totals, then observations.

    Everything is read and checked before anything is stored (the observations
    go through a dry run first); each part is then stored in its own
    transaction. Returns the import reports (observations first).
    """
    table = read_census(path, year=year, **options)
    name = name or Path(path).name.split(".")[0]
    # the table's own municipalities (the designated cities) are stored with it: they are in a region system
    report = _store(atlas, "observations", table.observations, name, replace=replace, dry_run=True,
                    brings_regions=table.regions)
    report.notes[:0] = table.notes
    report.file = str(path)
    if dry_run:
        return [report]
    from clusteratlas.reference.japan import prefectures

    _store(atlas, "regions", prefectures(), "jp-prefectures")  # the 47 and their METI bureaus (a level above)
    _store(atlas, "regions", table.regions, f"{name}-regions")
    _store(atlas, "industries", table.industries, f"{name}-industries")
    if table.reference_totals.num_rows:
        _store(atlas, "reference-totals", table.reference_totals, f"{name}-totals")
    stored = _store(atlas, "observations", table.observations, name, replace=replace, strict=strict)
    report.replaced, report.dry_run = stored.replaced, False
    return [report]


def store_table(atlas, kind: str, table: pa.Table, name: str, **options):
    """Store an in-memory table through the atlas's checked import; returns its ImportReport."""
    return _store(atlas, kind, table, name, **options)


def _store(atlas, kind: str, table: pa.Table, name: str, **options):
    """Store an in-memory table through the atlas's checked import (as a temporary Parquet file)."""
    import tempfile

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="clusteratlas-") as tmp:
        file = Path(tmp) / f"{name}.parquet"
        pq.write_table(table, file)
        return atlas.import_file(kind, file, name=name, **options)
