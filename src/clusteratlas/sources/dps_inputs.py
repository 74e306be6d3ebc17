"""Readers for the inputs of data-driven cluster definitions: BEA input–output tables, BLS occupation matrices.

Both are read as published (CSV, gzip CSV, Parquet or Excel, through
:func:`clusteratlas.sources.files.open_relation`, so every error names the
file, line and column) and carried onto the industry codes of the atlas:

* **BEA detail Use table** (commodities × industries, producer prices), with
  the **Make table** when given (industries × commodities) to turn it into
  industry × industry flows (the market-share transformation: flows = D · U,
  D = make shares of each commodity's output), and **BEA's crosswalk** from
  BEA detail codes to NAICS (a column of BEA detail codes and a column of
  NAICS codes at any level). Rows and columns that are not industries
  (totals T0xx, value added V0xx, final demand F0xx) drop out because they
  are not in both margins. Negative intermediate cells (BEA records scrap and
  used goods as negative uses) count as 0; the number is reported.
* **BLS industry × occupation employment**: the Employment Projections
  National Employment Matrix (long form: ``nem_industry_code``, ``occ_code``,
  employment) or an OEWS national industry file (``NAICS``, ``OCC_CODE``,
  ``TOT_EMP``). Summary occupations are left out where the file marks them;
  suppressed cells (empty, ``*``, ``**``, ``#``) are left out and counted.

An industry of the atlas takes the BEA codes (or the BLS industry) of the
longest code prefix the crosswalk (or matrix) lists for it: BLS's matrix
codes are NAICS padded with zeros (311100 = NAICS 3111), and ranges such as
1131-2 stand for each code in the range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clusteratlas._sql import plain_connect
from clusteratlas.errors import InputError
from clusteratlas.i18n import _

SUPPRESSED = {"", "*", "**", "***", "#", "(D)", "(S)", "(X)", "-", "—", "…", "..."}


def _read_text(path) -> tuple[list[str], list[tuple]]:
    """Column names and rows (text, with the file line last) of a CSV/Parquet/Excel file."""
    from clusteratlas.sources.files import LINE, file_format, open_relation

    if file_format(Path(path)) == "excel" and (found := _bea_workbook(path)) is not None:
        return found
    con = plain_connect()
    try:
        view = open_relation(con, path)
        names = [c for c in con.table(view).columns if c != LINE]
        cols = ", ".join(f'"{c}"::VARCHAR' for c in names)
        rows = con.sql(f"SELECT {cols}, {LINE} FROM {view}").fetchall()
    finally:
        con.close()
    return names, rows


def _bea_workbook(path) -> tuple[list[str], list[tuple]] | None:
    """A BEA workbook (titles above a 'Code' header row, one sheet per year): header and rows, or None.

    The first sheet holding a row that starts with 'Code' is read; the row
    of names under the codes, if any, is skipped; lines are the sheet's rows.
    """
    from clusteratlas.sources.files import sheet_rows

    for sheet in range(64):
        try:
            rows = sheet_rows(path, sheet)
        except InputError:
            return None
        for at, row in enumerate(rows[:50]):
            if row and str(row[0] or "").strip().lower() == "code" and sum(c is not None for c in row) > 3:
                names = [str(c or f"column{i}").strip() for i, c in enumerate(row)]
                body = []
                for n, r in enumerate(rows[at + 1:]):
                    if r and r[0] is not None and str(r[0]).strip():
                        body.append((*(list(r) + [None] * len(names))[:len(names)], at + 2 + n))
                return names, body
    return None


def _number(text, *, file: str, row: int, column: str) -> float | None:
    """A cell as a number; None when suppressed or empty; InputError when neither."""
    if text is None or str(text).strip() in SUPPRESSED:
        return None
    try:
        value = float(str(text).replace(",", ""))
    except ValueError:
        raise InputError(_("not a number"), file=file, row=row, column=column, value=text,
                         expected=_("a number, or a suppression mark (*, **, #, empty)")) from None
    if not np.isfinite(value):
        raise InputError(_("not a finite number"), file=file, row=row, column=column, value=text)
    return value


def _code(text) -> str:
    return str(text).strip() if text is not None else ""


@dataclass(frozen=True)
class IOTable:
    """Industry × industry intermediate flows (``flows[i, j]``: what industry j buys from industry i)."""

    codes: list[str]
    flows: np.ndarray
    negatives: int = 0


def _wide(path, names: list[str] | None = None, rows: list[tuple] | None = None,
          ) -> tuple[list[str], dict[str, dict[str, float]]]:
    """A wide BEA table: first column the row code, other columns codes; returns the columns and the rows."""
    file = str(path)
    if names is None or rows is None:
        names, rows = _read_text(path)
    text = {i for i, n in enumerate(names) if re.search(r"description|name|title", n, re.I)}
    keep = [i for i in range(1, len(names)) if i not in text]  # BEA workbooks name the codes in a column
    if len(names) < 3:
        raise InputError(_("an input-output table needs a code column and at least two industry columns"),
                         file=file, value=names)
    columns = [_code(names[i]) for i in keep]
    out = {}
    for row in rows:
        key, line = _code(row[0]), row[-1]
        if not key:
            continue
        values = {}
        for col, cell in zip(columns, (row[i] for i in keep), strict=True):
            v = _number(cell, file=file, row=line, column=col)
            if v is not None:
                values[col] = v
        out[key] = values
    return columns, out


def _long_io(path, names: list[str], rows: list[tuple]) -> IOTable:
    """Flows given long: from_industry, to_industry, value (one row per pair, values ≥ 0)."""
    file, pos = str(path), {n: names.index(n) for n in names}
    cells: dict[tuple[str, str], float] = {}
    for row in rows:
        a, b = _code(row[pos["from_industry"]]), _code(row[pos["to_industry"]])
        v = _number(row[pos["value"]], file=file, row=row[-1], column="value")
        if not a or not b or v is None:
            continue
        if v < 0:
            raise InputError(_("a flow must be ≥ 0"), file=file, row=row[-1], column="value", value=v)
        cells[(a, b)] = cells.get((a, b), 0.0) + v
    codes = sorted({a for a, _ in cells} | {b for _, b in cells})
    index = {c: i for i, c in enumerate(codes)}
    flows = np.zeros((len(codes), len(codes)))
    for (a, b), v in cells.items():
        flows[index[a], index[b]] += v
    if len(codes) < 2:
        raise InputError(_("no flows between two industries"), file=file)
    return IOTable(codes, flows)


def _clip(block: np.ndarray) -> tuple[np.ndarray, int]:
    """Negative intermediate cells set to 0, and how many there were."""
    negative = int((block < 0).sum())
    return np.where(block < 0, 0.0, block), negative


def read_io_table(use_path, make_path=None) -> IOTable:
    """Industry × industry flows from BEA's detail Use table (and Make table, when given).

    A long file (columns from_industry, to_industry, value) is read as flows directly.
    """
    file = str(use_path)
    names, rows = _read_text(use_path)
    if {"from_industry", "to_industry", "value"} <= set(names):
        return _long_io(use_path, names, rows)
    use_cols, use = _wide(use_path, names, rows)
    if make_path is None:
        codes = [c for c in use_cols if c in use]
        flows, negatives = _clip(np.array([[use[r].get(c, 0.0) for c in codes] for r in codes]))
    else:
        make_cols, make = _wide(make_path)
        codes = [c for c in use_cols if c in make]  # industries: columns of Use, rows of Make
        commodities = [c for c in make_cols if c in use]  # commodities: columns of Make, rows of Use
        if not codes or not commodities:
            raise InputError(_("the Make table's industries and commodities match none of the Use table's"),
                             file=str(make_path), hint=_("give the Make table of the same year and schema"))
        v, neg_make = _clip(np.array([[make[i].get(c, 0.0) for c in commodities] for i in codes]))
        u, negatives = _clip(np.array([[use[c].get(j, 0.0) for j in codes] for c in commodities]))
        negatives += neg_make
        q = v.sum(axis=0)
        shares = np.divide(v, q, out=np.zeros_like(v), where=q > 0)
        flows = shares @ u
    if len(codes) < 2 or not np.asarray(flows).sum() > 0:
        raise InputError(_("no industry × industry flows found: the row codes match none of the column codes"),
                         file=file, expected=_("BEA's Use table: commodity codes down the first column, "
                         "industry codes across"))
    return IOTable(codes, np.asarray(flows, dtype=np.float64), negatives)


def read_crosswalk(path) -> dict[str, list[str]]:
    """NAICS code (any level) → the BEA detail codes it belongs to, from BEA's (or useeior's) crosswalk."""
    file = str(path)
    names, rows = _read_text(path)
    bea = ([n for n in names if re.search(r"bea.*detail.*code", n, re.I)]
           or [n for n in names if re.search(r"bea.*code", n, re.I)] or [n for n in names if "bea" in n.lower()])
    naics = [n for n in names if re.search(r"naics.*code", n, re.I)] or [n for n in names if "naics" in n.lower()]
    if not bea or not naics:
        raise InputError(_("cannot find the BEA code and NAICS code columns"), file=file, value=names,
                         expected=_("a column naming BEA codes (e.g. BEA_2017_Detail_Code) and one naming NAICS "
                                  "codes (e.g. NAICS_2017_Code)"))
    b, n_ = names.index(bea[0]), names.index(naics[0])
    out: dict[str, list[str]] = {}
    for row in rows:
        code, target = _code(row[n_]), _code(row[b])
        if code and target and target not in out.setdefault(code, []):
            out[code].append(target)
    if not out:
        raise InputError(_("the crosswalk has no rows with both codes"), file=file)
    return out


def crosswalk_names(path) -> dict[str, str]:
    """NAICS code → its name, from a crosswalk that carries one (e.g. NAICS_2017_Name); empty when it does not."""
    names, rows = _read_text(path)
    code = [n for n in names if re.search(r"naics.*code", n, re.I)]
    title = [n for n in names if re.search(r"naics.*(name|title)", n, re.I)]
    if not code or not title:
        return {}
    c, t = names.index(code[0]), names.index(title[0])
    return {_code(r[c]): str(r[t]).strip() for r in rows if r[c] and r[t]}


def _longest_prefix(code: str, keys: dict) -> str | None:
    for n in range(len(code), 1, -1):
        if code[:n] in keys:
            return code[:n]
    return None


def io_link_for(industries, table: IOTable, crosswalk: dict[str, list[str]] | None = None, *,
                file: str | None = None) -> tuple[np.ndarray, int]:
    """The IO link between the atlas industries (NaN where an industry has no BEA code) and how many matched.

    Each industry takes the BEA codes of the longest NAICS prefix in the
    crosswalk (without one, the BEA code equal to, or the longest prefix of,
    the industry code). Two industries share link 1 when they share a BEA
    code (BEA does not tell them apart), else the largest link between their
    BEA codes.
    """
    from clusteratlas.relate.definitions import io_linkage

    link = io_linkage(table.flows)
    index = {c: i for i, c in enumerate(table.codes)}
    if crosswalk is None:
        stripped = {c.rstrip("0") or c: [c] for c in table.codes}
        crosswalk = {**stripped, **{c: [c] for c in table.codes}}
    members = []
    for code in map(str, industries):
        key = _longest_prefix(code, crosswalk)
        members.append([index[b] for b in crosswalk.get(key, []) if b in index] if key else [])
    matched = sum(bool(m) for m in members)
    if matched == 0:
        raise InputError(_("the input-output table's codes match none of the industries"), file=file,
                         value=", ".join(map(str, list(industries)[:5])),
                         hint=_("give BEA's crosswalk to NAICS (--io-crosswalk) or a table in the atlas' codes"))
    n = len(members)
    have = np.array([bool(m) for m in members])
    # the largest link between the two industries' BEA codes: first over a's codes (rows), then over b's
    rows = np.array([link[m].max(axis=0) if m else np.full(len(index), np.nan) for m in members])
    first = np.array([m[0] if m else 0 for m in members])
    out = rows[:, first]
    for b in np.flatnonzero([len(m) > 1 for m in members]):
        out[:, b] = rows[:, members[b]].max(axis=1)
    membership = np.zeros((n, len(index)))
    for a, m in enumerate(members):
        membership[a, m] = 1.0
    out = np.maximum(out, out.T)
    out[(membership @ membership.T) > 0] = 1.0  # a BEA industry shared: BEA cannot tell them apart
    out[~have, :] = np.nan
    out[:, ~have] = np.nan
    return out, matched


@dataclass(frozen=True)
class OccupationMatrix:
    """Employment by industry (BLS codes) × detailed occupation."""

    industries: list[str]
    occupations: list[str]
    employment: np.ndarray
    suppressed: int = 0


_IND = ("nem_industry_code", "industry_code", "naics", "industry")
_OCC = ("occ_code", "occupation_code", "occupation", "soc_code")
_EMP = ("emp_2014_thousands", "tot_emp", "employment", "emp")


def _pick(names: list[str], wanted: tuple[str, ...], prefix: str | None = None) -> str | None:
    lower = {n.lower(): n for n in names}
    for w in wanted:
        if w in lower:
            return lower[w]
    if prefix:
        return next((n for n in names if n.lower().startswith(prefix)), None)
    return None


def read_occupations(path) -> OccupationMatrix:
    """An industry × occupation employment matrix from BLS's National Employment Matrix or OEWS files."""
    file = str(path)
    names, rows = _read_text(path)
    ind, occ = _pick(names, _IND), _pick(names, _OCC)
    emp = _pick(names, _EMP, prefix="emp_")
    if not (ind and occ and emp):
        raise InputError(_("cannot find the industry, occupation and employment columns"), file=file, value=names,
                         expected=_("nem_industry_code/NAICS, occ_code/OCC_CODE, emp_…/TOT_EMP/employment"))
    kind = _pick(names, ("occ_type", "o_group"))
    pos = {n: names.index(n) for n in names}
    cells: dict[tuple[str, str], float] = {}
    suppressed = 0
    for row in rows:
        if kind is not None and _code(row[pos[kind]]).lower() not in ("line item", "detailed"):
            continue
        i, o = _code(row[pos[ind]]), _code(row[pos[occ]])
        if not i or not o or o.startswith("00-"):
            continue
        v = _number(row[pos[emp]], file=file, row=row[-1], column=emp)
        if v is None:
            suppressed += 1
            continue
        if v < 0:
            raise InputError(_("employment must be ≥ 0"), file=file, row=row[-1], column=emp, value=v)
        cells[(i, o)] = max(cells.get((i, o), 0.0), v)  # a code listed as summary and line item counts once
    if not cells:
        raise InputError(_("no occupation employment left: every cell is suppressed or empty"), file=file,
                         value=f"{suppressed} suppressed cells", hint=_("give BLS's matrix with published cells"))
    industries = sorted({i for i, _ in cells})
    occupations = sorted({o for _, o in cells})
    ii = {c: k for k, c in enumerate(industries)}
    oo = {c: k for k, c in enumerate(occupations)}
    out = np.zeros((len(industries), len(occupations)))
    for (i, o), v in cells.items():
        out[ii[i], oo[o]] = v
    return OccupationMatrix(industries, occupations, out, suppressed)


def _prefixes(code: str) -> list[str]:
    """The NAICS prefixes a BLS industry code stands for: 311100 → 3111; 1131-2 → 1131, 1132."""
    m = re.fullmatch(r"(\d+)-(\d+)", code)
    if m:
        first, last = m.group(1), m.group(2)
        stem = first[: len(first) - len(last)]
        return [stem + str(d).zfill(len(last)) for d in range(int(first[len(stem):]), int(last) + 1)]
    return [code.rstrip("0") or code] if code.isdigit() else [code]


def occupations_for(industries, matrix: OccupationMatrix, *, file: str | None = None) -> tuple[np.ndarray, int]:
    """Rows of the occupation matrix for the atlas industries (zeros where none matches) and how many matched."""
    keys: dict[str, int] = {}
    for k, code in enumerate(matrix.industries):
        for p in _prefixes(code):
            keys.setdefault(p, k)
    rows, matched = np.zeros((len(industries), len(matrix.occupations))), 0
    for a, code in enumerate(map(str, industries)):
        key = _longest_prefix(code, keys)
        if key is not None:
            rows[a] = matrix.employment[keys[key]]
            matched += rows[a].sum() > 0
    if matched == 0:
        raise InputError(_("the occupation matrix's industry codes match none of the industries"), file=file,
                         value=", ".join(matrix.industries[:5]))
    return rows, matched


