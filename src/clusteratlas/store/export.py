"""Write a table to CSV, Parquet or Excel, all or nothing.

The file is written beside the target under a temporary name and renamed
into place only when complete, so a failed export never leaves a
half-written file or destroys an earlier one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from clusteratlas.errors import InputError

EXCEL_MAX_ROWS = 1_048_575
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel"}


def export_format(path: Path) -> str:
    """'csv', 'parquet' or 'excel' from the file name, or raise InputError."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError("unsupported export format", file=str(path), value=path.suffix,
                         expected=", ".join(FORMATS))
    return fmt


BOM = b"\xef\xbb\xbf"


def add_bom(path: Path) -> None:
    """Start a UTF-8 CSV with a byte-order mark, atomically, so that Japanese Excel reads it as UTF-8.

    Excel opens a CSV without a BOM in the system code page (CP932 in Japan)
    and garbles its Japanese names. A file that already has one is left as is.
    """
    path = Path(path)
    if export_format(path) != "csv":
        raise InputError("a byte-order mark is for CSV files", file=str(path), expected="a .csv file")
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


def write_table(rel: duckdb.DuckDBPyRelation, path: Path, *, bom: bool = False) -> int:
    """Write ``rel`` to ``path`` atomically; return the number of rows written (``bom``: see :func:`add_bom`)."""
    fmt = export_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv":
            rel.write_csv(str(tmp), header=True)
            if bom:
                add_bom(tmp)
            rows = None
        elif fmt == "parquet":
            rel.write_parquet(str(tmp))
            rows = None
        else:
            import polars as pl

            table = rel.to_arrow_table()
            if table.num_rows > EXCEL_MAX_ROWS:
                raise InputError("too many rows for one Excel sheet", file=str(path),
                                 value=table.num_rows, expected=f"at most {EXCEL_MAX_ROWS:,} rows",
                                 hint="Export to .csv or .parquet instead")
            pl.from_arrow(table).write_excel(tmp, worksheet="data", autofit=True)
            rows = table.num_rows
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if rows is None:
        rows = int(rel.count("*").fetchall()[0][0])
    return rows
