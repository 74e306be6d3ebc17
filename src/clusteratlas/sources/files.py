"""Open a user's CSV, Parquet or Excel file as a DuckDB relation.

This is the one place that touches raw bytes: it refuses empty and binary
files, detects UTF-8 versus Shift_JIS/CP932 (the encoding of most Japanese
official CSVs), and adds a ``__line`` column so every later error can name
the line of the file it came from.

Before DuckDB sniffs a CSV, one streaming pass over its bytes
(:func:`scan_text`) refuses what DuckDB would either misread silently or
report without a line: NUL bytes, mixed line endings, a quote that is never
closed, and a last line cut off mid-row. The pass only counts bytes in C
(``bytes.count``); a line-by-line walk happens only to locate a problem
already found. Staging views are TEMP objects: nothing of an import is left
in the atlas file, whether the import succeeds or not.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import itertools
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from clusteratlas._sql import literal
from clusteratlas.errors import InputError, duplicate_names
from clusteratlas.i18n import _
from clusteratlas.sources import limits

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
        _("unsupported file type"),
        file=str(path),
        value=path.suffix,
        expected=_("a .csv, .tsv, .txt, .parquet, .xlsx, .xls or .json (Census API) file"),
    )


def _is_csv(path: Path) -> bool:
    try:
        return file_format(path) == "csv"
    except InputError:
        return False


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(_("file not found"), file=str(path))
    if path.is_dir():
        raise InputError(_("is a folder, not a file"), file=str(path))
    if path.stat().st_size == 0:
        raise InputError(_("the file is empty"), file=str(path), expected=_("a header line and data rows"))


_DELIMITERS = (",", ";", "\t", "|")
_ENDINGS = {"lf": "LF (\\n, Unix)", "crlf": "CR LF (\\r\\n, Windows)", "cr": "CR (\\r, old Mac)"}
_LINE_RE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")
_KEEP = 1 << 20  # at most this much of the header and of the last line is kept for checks


@dataclass(frozen=True)
class TextScan:
    """What one pass over a text file's bytes found (it raised for anything wrong)."""

    lines: int
    header: bytes


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _shown(data: bytes, encoding: str, limit: int = 80) -> str:
    text = data.decode(encoding if encoding != "utf-8" else "utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


def _physical_lines(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, content, line ending) of every line, streaming; for locating a problem only."""
    number, rest = 0, b""
    with _open_bytes(path) as fh:
        while True:
            chunk = fh.read(_SNIFF_BYTES)
            data, hold = rest + chunk, b""
            if chunk and data.endswith(b"\r"):  # maybe half of a CR LF
                data, hold = data[:-1], b"\r"
            pos = 0
            for match in _LINE_RE.finditer(data):
                number += 1
                yield number, match.group(1), match.group(2)
                pos = match.end()
            rest = data[pos:] + hold
            if not chunk:
                if rest:
                    yield number + 1, rest, b""
                return


def _guess_delimiter(header: str) -> str:
    return max(_DELIMITERS, key=header.count)


def _fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def scan_text(path: Path, label: str | None = None, encoding: str = "utf-8") -> TextScan:
    """Check a text table's bytes in one streaming pass; raise InputError naming the line of a problem.

    Refused: a NUL byte (a binary file, or UTF-16), line endings of more than
    one kind outside quoted fields, a ``"`` that opens a quoted field never
    closed, and a last line that stops before the header's number of fields
    (a file cut off, e.g. an interrupted download). The pass counts bytes in
    C; only when a count shows a problem are the lines walked to find where.
    ``encoding`` is only used to show a line: the bytes checked (NUL, CR,
    LF, ``"``) never occur inside a UTF-8 or Shift_JIS character.
    """
    label = label or str(path)
    counts = {"lf": 0, "crlf": 0, "cr": 0}
    quotes = lines = 0
    header = tail = carry = b""
    try:
        with _open_bytes(path) as fh:
            while True:
                chunk = fh.read(_SNIFF_BYTES)
                data, carry = carry + chunk, b""
                if not data:
                    break
                if chunk and data.endswith(b"\r"):  # maybe half of a CR LF: count it with the next chunk
                    data, carry = data[:-1], b"\r"
                nul = data.find(b"\0")
                if nul >= 0:
                    start = max(data.rfind(b"\n", 0, nul), data.rfind(b"\r", 0, nul)) + 1
                    raise InputError(
                        _("a NUL byte (\\x00) at character {value} of the line: this is a binary file, or text in "
                          "UTF-16, not a text CSV").format(
                              value=nul - start + 1), file=label, row=lines + _breaks(data[:nul]) + 1,
                        expected=_("a text CSV (UTF-8 or Shift_JIS), a .parquet or an .xlsx file"))
                crlf = data.count(b"\r\n")
                cr, lf = data.count(b"\r") - crlf, data.count(b"\n") - crlf
                counts["crlf"] += crlf
                counts["cr"] += cr
                counts["lf"] += lf
                quotes += data.count(b'"')
                last = max(data.rfind(b"\n"), data.rfind(b"\r"))
                if lines == 0 and len(header) < _KEEP:
                    first = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=len(data))
                    header += data[:first]
                tail = data[last + 1:] if last >= 0 else (tail + data)[:_KEEP]
                lines += crlf + cr + lf
                if not chunk:
                    break
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(_("the compressed file is damaged or cut off ({exc})").format(exc=exc), file=label,
                         row=lines + 1,
                         expected=_("a complete gzip file"), hint=_("Download it again")) from None
    if sum(1 for n in counts.values() if n) > 1:
        _locate_mixed_endings(path, label)
    if quotes % 2:
        _locate_open_quote(path, label, encoding)
    if tail.strip() and lines >= 1:
        head_text = header.decode(encoding, errors="replace")
        delimiter = _guess_delimiter(head_text)
        expected, found = len(_fields(head_text, delimiter)), len(_fields(tail.decode(encoding, "replace"), delimiter))
        if found < expected:
            raise InputError(
                _("the file ends in the middle of a line: {found} of the header's {expected} fields and no "
                  "line break (a file cut off, e.g. an interrupted download?)").format(
                      found=found, expected=expected), file=label, row=lines + 1,
                value=_shown(tail, encoding), expected=_("{expected} fields on every line").format(expected=expected),
                hint=_("Download or export the file again"))
    return TextScan(lines + (1 if tail else 0), header)


def _locate_mixed_endings(path: Path, label: str) -> None:
    """Raise at the first line whose ending (outside quoted fields) differs from the lines before."""
    inside = False
    first: tuple[str, int] | None = None
    for number, content, ending in _physical_lines(path):
        if content.count(b'"') % 2:
            inside = not inside
        if inside or not ending:
            continue
        style = {b"\n": "lf", b"\r\n": "crlf", b"\r": "cr"}[ending]
        if first is None:
            first = (style, number)
        elif style != first[0]:
            raise InputError(
                _("mixed line endings: this line ends with {value}, the lines before it (from line "
                  "{value2}) with {value3}").format(value=_ENDINGS[style], value2=first[1],
                                                    value3=_ENDINGS[first[0]]), file=label, row=number,
                expected=_("one kind of line ending throughout the file"),
                hint=_("Convert the line endings (e.g. with dos2unix, or save again from a spreadsheet)"))


def _locate_open_quote(path: Path, label: str, encoding: str) -> None:
    """Raise at the line where a quoted field that is never closed starts."""
    inside, opened = False, (0, b"")
    for number, content, _end in _physical_lines(path):
        if content.count(b'"') % 2:
            inside = not inside
            if inside:
                opened = (number, content)
    if inside:
        raise InputError(_("a quoted field starts on this line and is never closed"), file=label, row=opened[0],
                         value=_shown(opened[1], encoding),
                         expected=_('a closing " for every opening " (a " inside a quoted field is written "")'))


def diagnose_csv(path: Path, label: str, encoding: str = "utf-8") -> InputError | None:
    """The first line whose number of fields differs from the header's, as an InputError (or None).

    Used only after DuckDB failed to read a file or read it as one column,
    to say which line is wrong; streams the file through :mod:`csv`.
    """
    with _open_bytes(path) as raw, io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=_guess_delimiter(fh.readline()))
        fh.seek(0)
        header, start = None, 1
        try:
            for row in reader:
                if header is None:
                    header = row
                elif row and len(row) != len(header):
                    return InputError(_("the line has {row} fields, the header {header}").format(
                        row=len(row), header=len(header)), file=label,
                                      row=start, value=_shown(reader.dialect.delimiter.join(row).encode(), "utf-8"),
                                      expected=_("{header} fields on every line").format(header=len(header)))
                start = reader.line_num + 1
        except csv.Error as exc:
            return InputError(_("cannot read as CSV: {exc}").format(exc=exc), file=label, row=reader.line_num)
    return None


#: DuckDB errors that come from a file's content (others are bugs, and are not translated).
READ_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException,
               duckdb.OutOfRangeException)


def read_error(exc: Exception, label: str, path: Path | None = None, encoding: str = "utf-8") -> InputError:
    """Translate a DuckDB error met while reading a user's file into an InputError with its line."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    original = re.search(r"Original Line: ?(.*)", text)
    if columns:
        expected, found = columns.groups()
        return InputError(_("the line has {found} fields, the header {expected}").format(found=found,
                                                                                         expected=expected), file=label,
                          row=int(line.group(1)) if line else None,
                          value=original.group(1)[:80] if original else None,
                          expected=_("{expected} fields on every line").format(expected=expected))
    if path is not None and path.is_file() and _is_csv(path):
        diagnosed = diagnose_csv(path, label, encoding)
        if diagnosed is not None:
            return diagnosed
    return InputError(_("cannot read the file: {exc}").format(exc=_first_line(exc)), file=label,
                      row=int(line.group(1)) if line else None)


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
        scan_text(path)  # names the line of the NUL byte
    candidates = [encoding] if encoding else list(ENCODINGS)
    for name in candidates:
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
        return "utf-8" if name.replace("_", "-").lower() in ("utf-8", "utf8") else name
    raise InputError(
        _("cannot decode the file as {value}").format(value=' or '.join(candidates)),
        file=str(path),
        expected=_("UTF-8 or Shift_JIS/CP932 text"),
        hint=_("Pass --encoding with the file's encoding"),
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
                    _("the file is not valid {encoding} text").format(encoding=encoding),
                    file=str(path),
                    row=line + chunk[: exc.start].count(b"\n"),
                    expected=_("{encoding} text throughout").format(encoding=encoding),
                ) from None
            line += text.count("\n")
            dst.write(text)
        dst.write(decoder.decode(b"", final=True))
    return target


def _csv_view(con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None, workdir: Path | None,
              view: str) -> None:
    """Create TEMP VIEW ``view`` over a CSV file, after checking its bytes and header."""
    label = str(path)
    enc = detect_encoding(path, encoding)
    scan = scan_text(path, label, enc)
    head = scan.header.decode(enc, errors="replace")
    limits.check_columns(len(_fields(head, _guess_delimiter(head))), label)  # before DuckDB sniffs a huge header
    # only a transcoded copy needs a folder (it must outlive this call: DuckDB reads it lazily)
    source = path if enc == "utf-8" else _transcode_to_utf8(
        path, enc, workdir or Path(tempfile.mkdtemp(prefix="clusteratlas-")))
    options = "header=true, all_varchar=true, null_padding=false"
    try:
        # Sniff once, then read with the options found: a view over plain read_csv would sniff the file
        # again each time a query binds it (0.15 s a time for the CBP state file).
        delimiter, quote, skip, prompt = con.execute(
            f"SELECT Delimiter, Quote, SkipRows, Prompt FROM sniff_csv({literal(str(source))}, {options})"
        ).fetchall()[0]
        reader = prompt.strip().removeprefix("FROM ").rstrip(";")
        if not reader.startswith("read_csv("):
            reader = f"read_csv({literal(str(source))}, {options})"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {reader}")
        names = con.table(view).columns
    except READ_ERRORS as exc:
        raise read_error(exc, label, path, enc) from None
    limits.check_columns(len(names), label)
    if len(names) == 1 and names[0].startswith("column"):
        raise InputError(_("the file has no header line"), file=label,
                         expected=_("a first line with column names"))
    header = scan.header.decode(enc, errors="replace").lstrip("\ufeff")
    if len(names) == 1 and any(d in header for d in _DELIMITERS):
        # DuckDB found no consistent delimiter (it then reads one column): say which line breaks the pattern
        diagnosed = diagnose_csv(path, label, enc)
        if diagnosed is not None:
            raise diagnosed
    _check_csv_header(names, header, source, label, delimiter, quote, skip)


def _check_csv_header(names: list[str], header: str, source: Path, label: str, delimiter: str, quote: str,
                      skip: int) -> None:
    """Refuse a header that names a column twice (DuckDB would rename the second to NAME_1)."""
    lowered = {n.casefold() for n in names}
    renamed = [m for n in names if (m := re.fullmatch(r"(.+)_\d+", n)) and m.group(1).casefold() in lowered]
    if not renamed:
        return
    if skip:
        header = next((c.decode("utf-8", "replace") for n, c, _ in _physical_lines(source) if n == skip + 1), "")
    quotechar = quote if len(quote) == 1 else '"'
    fields = next(csv.reader([header], delimiter=delimiter if len(delimiter) == 1 else ",", quotechar=quotechar), [])
    duplicate_names(fields, label, row=skip + 1)


def iter_sheet_rows(path: Path, sheet: int | str = 0) -> Iterator[tuple[int, list[str | None]]]:
    """(line, cells) of every non-blank row of one sheet of an .xlsx or .xls workbook, streaming.

    Cells are text (None where empty); a row ends at its last filled cell.
    Rows of empty or blank cells are skipped without being held. The sheet's
    ``<dimension>`` is ignored: it may lie, and openpyxl would pad every row
    to its width (one cell at XFD1048576 made that 17 billion cells). Within
    the read limits (:mod:`clusteratlas.sources.limits`): an .xlsx may not
    unpack to more than the limit, the kept rows × the widest row may not pass
    the cell limit, and a server upload has its time limit.
    """
    path = Path(path)
    _check_exists(path)
    label = str(path)
    budget = limits.CellBudget(label)
    try:
        if path.suffix.lower() == ".xls":
            import xlrd

            book = xlrd.open_workbook(str(path), on_demand=True)
            ws = book.sheet_by_name(sheet) if isinstance(sheet, str) else book.sheet_by_index(sheet)
            values = (ws.row_values(i) for i in range(ws.nrows))
        else:
            import openpyxl

            limits.check_unpacked(path, label)
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            ws = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet]
            ws.reset_dimensions()
            values = ws.iter_rows(values_only=True)
        for line, row in enumerate(values, start=1):
            cells = [None if v is None or v == "" else _excel_text(v) for v in row]
            while cells and (cells[-1] is None or not cells[-1].strip()):
                cells.pop()
            if not cells:
                budget.tick(line)
                continue
            budget.row(len(cells), line)
            yield line, cells
        if path.suffix.lower() == ".xls":
            book.release_resources()
        else:
            book.close()
    except InputError:
        raise
    except (KeyError, IndexError) as exc:
        raise InputError(_("the workbook has no sheet {sheet!r}").format(sheet=sheet), file=label) from exc
    except Exception as exc:  # openpyxl and xlrd raise many types for a bad file
        raise InputError(_("cannot read as an Excel workbook: {exc}").format(exc=exc), file=label) from None


def sheet_rows(path: Path, sheet: int | str = 0) -> list[list[str | None]]:
    """All rows of one sheet of an .xlsx or .xls workbook as text cells (None where empty).

    For official workbooks whose header is not on the first row (titles and
    notes above it); the caller finds the header. Blank rows keep their
    place (so a row's index is its line - 1) up to the last filled row, and
    every row is padded to the widest; that whole table counts against the
    cell limit.
    """
    rows: list[list[str | None]] = []
    cells_limit = limits.current().max_cells
    width = 0
    for line, cells in iter_sheet_rows(path, sheet):
        width = max(width, len(cells))
        if line * width > cells_limit:
            raise limits.LimitError(_("the table has more cells (rows × columns) than the limit"), file=str(path),
                                    row=line, value=f"{line:,} rows × {width:,} columns",
                                    expected=_("at most {cells_limit:,} cells").format(cells_limit=cells_limit),
                                    hint=_("Raise the limit with the environment variable CLUSTERATLAS_MAX_CELLS"))
        rows.extend([] for _ in range(line - 1 - len(rows)))
        rows.append(cells)
    for row in rows:
        row.extend([None] * (width - len(row)))
    return rows


def _excel_table(path: Path):
    """The first sheet as a table of text columns named by its first non-blank row, with each row's line.

    Streamed into Arrow a batch at a time (a Python list per cell would take
    several times the memory).
    """
    import pyarrow as pa

    rows = iter_sheet_rows(path)
    first = next(rows, None)
    if first is None:
        raise InputError(_("the first sheet has no header row"), file=str(path))
    names = [str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(first[1])]
    duplicate_names(names, str(path), row=first[0])
    schema = pa.schema([*(pa.field(n, pa.string()) for n in names), pa.field(LINE, pa.int64())])
    batches = []
    for batch in _batched(rows, 8192):
        columns = [[row[i] if i < len(row) else None for _, row in batch] for i in range(len(names))]
        batches.append(pa.record_batch([*columns, [line for line, _ in batch]], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _batched(items, size: int):
    while batch := list(itertools.islice(items, size)):
        yield batch


def _json_table(path: Path):
    """A Census-API-style JSON answer: an array of arrays whose first row names the columns."""
    import json

    import pyarrow as pa

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(_("cannot read as JSON: {exc}").format(exc=exc), file=str(path)) from None
    if not (isinstance(doc, list) and doc and all(isinstance(r, list) for r in doc)
            and all(isinstance(h, str) for h in doc[0])):
        raise InputError(_("not a table in the Census API's JSON shape"), file=str(path),
                         expected=_('an array of rows whose first row names the columns: [["NAICS2017","EMP",…],…]'))
    header = doc[0]
    duplicate_names(header, str(path))
    budget = limits.CellBudget(str(path))
    for line, row in enumerate(doc, start=1):
        budget.row(len(row), line)
    for line, row in enumerate(doc[1:], start=2):
        if len(row) != len(header):
            raise InputError(_("row has {row} values, the header {header}").format(row=len(row), header=len(header)),
                             file=str(path), row=line)
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
    CSV and Excel, and the row number + 1 for Parquet. Every object made here
    is temporary (TEMP views, registered tables): nothing reaches the atlas
    file, and nothing keeps pointing at the user's file after the connection closes.
    """
    path = Path(path)
    _check_exists(path)
    kind = file_format(path)
    view = f"__src{next(_counter)}"
    raw = view + "_raw"
    if kind == "csv":
        _csv_view(con, path, encoding, workdir, raw)
        numbered = f"SELECT *, (row_number() OVER () + 1)::BIGINT AS {LINE} FROM {raw}"
    elif kind == "parquet":
        try:
            import pyarrow.parquet as pq

            duplicate_names(pq.read_schema(path).names, str(path), row=None)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM "
                        f"read_parquet({literal(str(path))}, file_row_number=true)")
        except (duckdb.Error, OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError)
            raise InputError(_("cannot read as Parquet: {exc}").format(exc=_first_line(exc)), file=str(path)) from None
        numbered = f"SELECT * EXCLUDE (file_row_number), (file_row_number + 2)::BIGINT AS {LINE} FROM {raw}"
    elif kind == "excel":
        con.register(raw, _excel_table(path))
        numbered = f"SELECT * FROM {raw}"
    else:
        con.register(raw, _json_table(path))
        numbered = f"SELECT *, (row_number() OVER () + 1)::BIGINT AS {LINE} FROM {raw}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {numbered}")
    return view
