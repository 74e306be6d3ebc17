"""Write a table to CSV, Parquet or Excel, all or nothing, with no cell a spreadsheet would run.

The file is written beside the target under a temporary name and renamed
into place only when complete, so a failed export never leaves a
half-written file or destroys an earlier one.

Names come from imported files and may begin like a formula
(``=HYPERLINK(...)``). Excel workbooks store every text as text
(:data:`WORKBOOK_OPTIONS`: never a formula, a link or a number). A CSV cell has
no type, and a spreadsheet computes a text cell that begins with ``= + - @``
(or a tab or carriage return), so CSV text cells that begin so get a leading
apostrophe (:func:`neutralise_formulas`, OWASP's advice); numbers are untouched,
and ``keep_formulas`` (``export --keep-formulas``, the API's
``keep_formulas=true``) writes them as they are. The assessment reader takes the
apostrophe off again (:func:`formula_text`), so ``assess export`` to CSV imports
back unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from clusteratlas._sql import ident, literal
from clusteratlas.errors import InputError
from clusteratlas.i18n import _

EXCEL_MAX_ROWS = 1_048_575
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel"}


def export_format(path: Path) -> str:
    """'csv', 'parquet' or 'excel' from the file name, or raise InputError."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(_("unsupported export format"), file=str(path), value=path.suffix,
                         expected=", ".join(FORMATS))
    return fmt


BOM = b"\xef\xbb\xbf"
#: First characters that make a spreadsheet read a CSV text cell as a formula (tab and carriage return: OWASP's
#: list, since some spreadsheets skip them before one).
FORMULA_START = "=+-@\t\r"
#: xlsxwriter options of every workbook written here: text is text, never a formula, a link or a number.
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                    "nan_inf_to_errors": True}


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """``table`` with an apostrophe before every text cell that begins with one of :data:`FORMULA_START`.

    Only text columns change; numbers, dates and nulls are kept. A spreadsheet shows such a cell as text
    (``'=1+1``) instead of computing it.
    """
    starts = pa.array(list(FORMULA_START))
    for i, field in enumerate(table.schema):
        column = table.column(i)
        if pa.types.is_dictionary(field.type) and pa.types.is_string(field.type.value_type):
            column = pc.cast(column, pa.string())
        elif not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        hit = pc.is_in(pc.utf8_slice_codeunits(column, 0, 1), value_set=starts)
        if pc.any(hit).as_py():
            marked = pc.binary_join_element_wise("'", column, "")
            table = table.set_column(i, field.name, pc.if_else(hit, marked, column))
    return table


def neutralised(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """:func:`neutralise_formulas` in SQL, for a relation that DuckDB writes (its CSV format kept)."""
    starts = ", ".join(literal(c) for c in FORMULA_START)
    apostrophe = literal("'")
    items = [f"CASE WHEN left({ident(name)}, 1) IN ({starts}) THEN {apostrophe} || {ident(name)} "
             f"ELSE {ident(name)} END AS {ident(name)}" if str(kind) == "VARCHAR" else ident(name)
             for name, kind in zip(rel.columns, rel.types, strict=True)]
    return rel.project(", ".join(items))


def formula_text(value: str) -> str:
    """A cell as it was before :func:`neutralise_formulas` (its apostrophe off), for readers of exported CSV."""
    return value[1:] if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START else value


def add_bom(path: Path) -> None:
    """Start a UTF-8 CSV with a byte-order mark, atomically, so that Japanese Excel reads it as UTF-8.

    Excel opens a CSV without a BOM in the system code page (CP932 in Japan)
    and garbles its Japanese names. A file that already has one is left as is.
    """
    path = Path(path)
    if export_format(path) != "csv":
        raise InputError(_("a byte-order mark is for CSV files"), file=str(path), expected=_("a .csv file"))
    with open(path, "rb") as fh:
        if fh.read(3) == BOM:
            return
    tmp = path.with_name(f".{path.name}.bom")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(BOM)
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(rel: duckdb.DuckDBPyRelation, path: Path, *, bom: bool = False, keep_formulas: bool = False) -> int:
    """Write ``rel`` to ``path`` atomically; return the number of rows written (``bom``: see :func:`add_bom`).

    CSV text cells that begin like a formula get an apostrophe unless ``keep_formulas`` (see the module's notes).
    """
    fmt = export_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv":
            (rel if keep_formulas else neutralised(rel)).write_csv(str(tmp), header=True)
            if bom:
                add_bom(tmp)
            rows = None
        elif fmt == "parquet":
            rel.write_parquet(str(tmp))
            rows = None
        else:
            import polars as pl
            import xlsxwriter

            table = rel.to_arrow_table()
            if table.num_rows > EXCEL_MAX_ROWS:
                raise InputError(_("too many rows for one Excel sheet"), file=str(path),
                                 value=table.num_rows, expected=_("at most {EXCEL_MAX_ROWS:,} rows").format(
                                     EXCEL_MAX_ROWS=EXCEL_MAX_ROWS),
                                 hint=_("Export to .csv or .parquet instead"))
            book = xlsxwriter.Workbook(str(tmp), WORKBOOK_OPTIONS)
            pl.from_arrow(table).write_excel(book, worksheet="data", autofit=True)
            book.close()
            rows = table.num_rows
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if rows is None:
        rows = int(rel.count("*").fetchall()[0][0])
    return rows
