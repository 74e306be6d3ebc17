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


def write_table(rel: duckdb.DuckDBPyRelation, path: Path) -> int:
    """Write ``rel`` to ``path`` atomically; return the number of rows written."""
    fmt = export_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "csv":
            rel.write_csv(str(tmp), header=True)
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
