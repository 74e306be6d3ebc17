"""Open a user's CSV, Parquet or Excel file as a DuckDB relation.

This is the one place that touches raw bytes: it refuses empty and binary
files, detects UTF-8 versus Shift_JIS/CP932 (the encoding of most Japanese
official CSVs), and adds a ``__line`` column so every later error can name
the line of the file it came from.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import os
import tempfile
from pathlib import Path

import duckdb

from clusteratlas.errors import InputError

LINE = "__line"
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
JSON_SUFFIXES = {".json"}
ENCODINGS = ("utf-8", "cp932")
_SNIFF_BYTES = 1 << 20
_counter = itertools.count()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_format(path: Path) -> str:
    """Return 'csv', 'parquet' or 'excel' from the file name, or raise InputError."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise InputError(
        "unsupported file type",
        file=str(path),
        value=path.suffix,
        expected="a .csv, .tsv, .txt, .parquet, .xlsx, .xls or .json (Census API) file",
    )


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path))
    if path.stat().st_size == 0:
        raise InputError("the file is empty", file=str(path), expected="a header line and data rows")


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """Return the text encoding of a CSV file: 'utf-8' or 'cp932'.

    Only the first megabyte is examined; DuckDB checks the rest while reading
    and its error is translated by :func:`open_relation`.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if path.suffix.lower() == ".gz":
        return encoding or "utf-8"
    if b"\x00" in head[:65536]:
        raise InputError(
            "this is a binary file, not a text CSV",
            file=str(path),
            expected="a text CSV (UTF-8 or Shift_JIS), a .parquet or an .xlsx file",
        )
    candidates = [encoding] if encoding else list(ENCODINGS)
    for name in candidates:
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
        return "utf-8" if name.replace("_", "-").lower() in ("utf-8", "utf8") else name
    raise InputError(
        f"cannot decode the file as {' or '.join(candidates)}",
        file=str(path),
        expected="UTF-8 or Shift_JIS/CP932 text",
        hint="Pass --encoding with the file's encoding",
    )


def _transcode_to_utf8(path: Path, encoding: str, workdir: Path) -> Path:
    """Copy a non-UTF-8 text file to UTF-8 in ``workdir``, streaming."""
    target = workdir / (path.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(_SNIFF_BYTES):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"the file is not valid {encoding} text",
                    file=str(path),
                    row=line + chunk[: exc.start].count(b"\n"),
                    expected=f"{encoding} text throughout",
                ) from None
            line += text.count("\n")
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return target


def _csv_relation(con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None,
                  workdir: Path | None) -> duckdb.DuckDBPyRelation:
    enc = detect_encoding(path, encoding)
    # only a transcoded copy needs a folder (it must outlive this call: DuckDB reads it lazily)
    source = path if enc == "utf-8" else _transcode_to_utf8(
        path, enc, workdir or Path(tempfile.mkdtemp(prefix="clusteratlas-")))
    try:
        rel = con.read_csv(str(source), header=True, all_varchar=True, null_padding=False)
        names = rel.columns
    except duckdb.Error as exc:
        raise InputError(f"cannot read as CSV: {_first_line(exc)}", file=str(path)) from None
    if len(names) == 1 and names[0].startswith("column"):
        raise InputError("the file has no header line", file=str(path),
                         expected="a first line with column names")
    return rel


def sheet_rows(path: Path, sheet: int | str = 0) -> list[list[str | None]]:
    """All rows of one sheet of an .xlsx or .xls workbook as text cells (None where empty).

    For official workbooks whose header is not on the first row (titles and
    notes above it); the caller finds the header.
    """
    path = Path(path)
    _check_exists(path)
    try:
        if path.suffix.lower() == ".xls":
            import xlrd

            book = xlrd.open_workbook(str(path), on_demand=True)
            ws = book.sheet_by_name(sheet) if isinstance(sheet, str) else book.sheet_by_index(sheet)
            rows = [[_excel_text(c.value) if c.value not in ("", None) else None for c in ws.row(i)]
                    for i in range(ws.nrows)]
            book.release_resources()
            return rows
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]
        rows = [[None if v is None else _excel_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        book.close()
        return rows
    except (KeyError, IndexError) as exc:
        raise InputError(f"the workbook has no sheet {sheet!r}", file=str(path)) from exc
    except Exception as exc:  # openpyxl and xlrd raise many types for a bad file
        raise InputError(f"cannot read as an Excel workbook: {exc}", file=str(path)) from None


def _excel_table(path: Path):
    import pyarrow as pa

    rows = iter(sheet_rows(path))
    header = next(rows, None)
    if not header or all(h is None for h in header):
        raise InputError("the first sheet has no header row", file=str(path))
    names = [str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(header)]
    columns: list[list[str | None]] = [[] for _ in names]
    for row in rows:
        for i in range(len(names)):
            columns[i].append(row[i] if i < len(row) else None)
    return pa.table({n: pa.array(c, type=pa.string()) for n, c in zip(names, columns, strict=True)})


def _json_table(path: Path):
    """A Census-API-style JSON answer: an array of arrays whose first row names the columns."""
    import json

    import pyarrow as pa

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read as JSON: {exc}", file=str(path)) from None
    if not (isinstance(doc, list) and doc and all(isinstance(r, list) for r in doc)
            and all(isinstance(h, str) for h in doc[0])):
        raise InputError("not a table in the Census API's JSON shape", file=str(path),
                         expected='an array of rows whose first row names the columns: [["NAICS2017","EMP",…],…]')
    header = doc[0]
    for line, row in enumerate(doc[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"row has {len(row)} values, the header {len(header)}", file=str(path), row=line)
    return pa.table({name: pa.array([None if r[i] is None else str(r[i]) for r in doc[1:]], pa.string())
                     for i, name in enumerate(header)})


def _excel_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def open_relation(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], *,
                  encoding: str | None = None, workdir: Path | None = None,
                  ) -> str:
    """Open ``path`` as a temp view on ``con`` with an added ``__line`` column; return its name.

    CSV and Excel cells come as text (so bad values can be reported as found);
    Parquet keeps its own types. ``__line`` is the file line (header = 1) for
    CSV and Excel, and the row number + 1 for Parquet.
    """
    path = Path(path)
    _check_exists(path)
    kind = file_format(path)
    if kind == "csv":
        rel = _csv_relation(con, path, encoding, workdir)
        numbered = f"SELECT *, (row_number() OVER () + 1)::BIGINT AS {LINE} FROM rel"
    elif kind == "parquet":
        try:
            rel = con.read_parquet(str(path), file_row_number=True)
        except duckdb.Error as exc:
            raise InputError(f"cannot read as Parquet: {_first_line(exc)}", file=str(path)) from None
        numbered = f"SELECT * EXCLUDE (file_row_number), (file_row_number + 2)::BIGINT AS {LINE} FROM rel"
    else:
        rel = _excel_table(path) if kind == "excel" else _json_table(path)
        numbered = f"SELECT *, (row_number() OVER () + 1)::BIGINT AS {LINE} FROM rel"
    view = f"__src{next(_counter)}"
    if kind in ("excel", "json"):
        con.register(view + "_raw", rel)
    else:
        rel.to_view(view + "_raw", replace=True)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {numbered.replace('FROM rel', f'FROM {view}_raw')}")
    return view
