"""Answers in JSON, CSV, Parquet and Excel: the same rows, with the provenance alongside.

JSON wraps rows as ``{"data": [...], "meta": {...}, "provenance": {...}}``;
CSV is streamed batch by batch; Parquet carries the provenance and meta in
its schema metadata; Excel has a second sheet with them. No cell runs in a
spreadsheet: Excel text is stored as text, and CSV text cells that begin with
``= + - @`` (or a tab or carriage return) get a leading apostrophe unless the
request says ``keep_formulas=true`` (see :mod:`clusteratlas.store.export`). In CSV, Parquet
and Excel the provenance is also in the ``Link`` header
(``/api/v1/provenance``) and the ``X-Atlas-Version`` header.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from starlette.responses import Response, StreamingResponse

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import FINITE_KEY, json_bytes, to_rows
from clusteratlas.store.export import WORKBOOK_OPTIONS, neutralise_formulas

FORMATS = ("json", "csv", "parquet", "xlsx")
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ACCEPT = {"application/json": "json", "text/csv": "csv", "application/vnd.apache.parquet": "parquet",
           "application/x-parquet": "parquet", "application/parquet": "parquet",
           MEDIA["xlsx"]: "xlsx"}
#: Rows per streamed CSV chunk, and the size above which CSV is streamed.
CHUNK = 2000
STREAM_ROWS = 20_000


def accepted(accept: str | None, offered: Sequence[str]) -> str | None:
    """The type of ``offered`` that an ``Accept`` header prefers, or None when it accepts none (RFC 9110 12.5.1).

    Each offered type takes the quality (``q``, default 1) of the most specific range that matches it
    (``text/csv``, then ``text/*``, then ``*/*``); the highest quality wins, then the more specific match,
    then the range written first, then the earlier in ``offered``. A type whose quality is 0 is refused; a
    range with a malformed quality is ignored. No header accepts the first offered type.
    """
    if not accept or not accept.strip():
        return offered[0] if offered else None
    ranges: list[tuple[str, str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        kind, _, sub = media.lower().partition("/")
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if kind and sub and 0 <= quality <= 1:
            ranges.append((kind, sub, quality))
    best: tuple[tuple, str] | None = None
    for order, media in enumerate(offered):
        kind, _, sub = media.lower().partition("/")
        matches = []
        for position, (range_kind, range_sub, quality) in enumerate(ranges):
            if (range_kind, range_sub) in ((kind, sub), (kind, "*"), ("*", "*")):
                specificity = (range_kind != "*") + (range_sub != "*")
                matches.append((specificity, -position, quality))
        if not matches:
            continue
        specificity, position, quality = max(matches)  # the most specific range decides (first written on a tie)
        rank = (quality, specificity, position, -order)
        if quality > 0 and (best is None or rank > best[0]):
            best = (rank, media)
    return best[1] if best else None


def negotiate(fmt: str | None, accept: str | None) -> str:
    """The answer's format: ``?format=`` first, else the type ``Accept`` prefers (:func:`accepted`, quality values
    honoured), else JSON (also when it accepts none of them: the header may be disregarded, RFC 9110 12.5.1)."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(_("unknown format"), value=fmt[:40], expected=", ".join(FORMATS))
        return fmt
    media = accepted(accept, list(_ACCEPT))
    return _ACCEPT[media] if media else "json"


def dumps(value: Any) -> bytes:
    """Strict JSON (no NaN: null), UTF-8, Japanese kept readable (:func:`clusteratlas.queries._core.json_bytes`)."""
    return json_bytes(value)


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None,
                  media: str = "application/json") -> Response:
    return Response(dumps(body), status_code=status, media_type=media, headers=headers)


def _flat(table: pa.Table) -> pa.Table:
    """Nested columns (lists, structs) and times as text (as in JSON), for CSV and Excel."""
    out = table
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
            out = out.set_column(i, f.name, pa.array([v.isoformat() if v is not None else None
                                                      for v in table.column(i).to_pylist()], pa.string()))
        elif pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
            joined = pc.binary_join(pc.cast(table.column(i), pa.list_(pa.string())), " ")
            out = out.set_column(i, f.name, joined)
        elif pa.types.is_struct(f.type) or pa.types.is_map(f.type):
            out = out.set_column(i, f.name, pa.array([json.dumps(v, default=str) if v is not None else None
                                                      for v in table.column(i).to_pylist()], pa.string()))
    return out


#: The UTF-8 byte-order mark: Excel (Japanese Windows included) opens a CSV that starts with it as UTF-8.
BOM = b"\xef\xbb\xbf"


def _csv_chunks(table: pa.Table, keep_formulas: bool = False, bom: bool = False) -> Iterator[bytes]:
    import pyarrow.csv as pcsv

    if bom:
        yield BOM
    table = _flat(table) if keep_formulas else neutralise_formulas(_flat(table))
    for start in range(0, max(table.num_rows, 1), CHUNK):
        buf = io.BytesIO()
        pcsv.write_csv(table.slice(start, CHUNK), buf,
                       pcsv.WriteOptions(include_header=start == 0, quoting_style="needed"))
        yield buf.getvalue()


def _parquet(table: pa.Table, meta: dict[str, Any], provenance: dict[str, Any]) -> bytes:
    import pyarrow.parquet as pq

    schema_meta = dict(table.schema.metadata or {})
    schema_meta.pop(FINITE_KEY, None)  # the query layer's own mark, not the download's
    schema_meta[b"clusteratlas.meta"] = dumps(meta)
    schema_meta[b"clusteratlas.provenance"] = dumps(provenance)
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(schema_meta), buf)
    return buf.getvalue()


def _xlsx(table: pa.Table, meta: dict[str, Any], provenance: dict[str, Any]) -> bytes:
    import xlsxwriter

    table = _flat(table)
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, **WORKBOOK_OPTIONS,
                                     "default_date_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet("data")
    sheet.write_row(0, 0, table.column_names)
    for r, row in enumerate(table.to_pylist(), start=1):
        for c, value in enumerate(row.values()):
            if hasattr(value, "tzinfo"):
                value = value.replace(tzinfo=None)
            sheet.write(r, c, value)
    about = book.add_worksheet("provenance")
    about.write_column(0, 0, ["meta", "provenance"])
    about.write_column(0, 1, [dumps(meta).decode(), dumps(provenance).decode()])
    book.close()
    return buf.getvalue()


def table_response(table: pa.Table, meta: dict[str, Any], provenance: dict[str, Any], fmt: str,
                   headers: dict[str, str], filename: str, keep_formulas: bool = False, *,
                   bom: bool = False) -> Response:
    """One tabular answer in the format asked for (``keep_formulas``: CSV cells as stored, see the module; a CSV
    with ``bom`` starts with the UTF-8 byte-order mark)."""
    if fmt == "json":
        return json_response({"data": to_rows(table), "meta": meta, "provenance": provenance}, headers=headers)
    headers = {**headers, "Link": '</api/v1/provenance>; rel="describedby"'}
    if fmt == "csv":
        headers["Content-Disposition"] = f'inline; filename="{filename}.csv"'
        if table.num_rows > STREAM_ROWS:  # large: streamed chunk by chunk
            return StreamingResponse(_csv_chunks(table, keep_formulas, bom), media_type=MEDIA["csv"],
                                     headers=headers)
        return Response(b"".join(_csv_chunks(table, keep_formulas, bom)), media_type=MEDIA["csv"], headers=headers)
    if fmt == "parquet":
        headers["Content-Disposition"] = f'attachment; filename="{filename}.parquet"'
        return Response(_parquet(table, meta, provenance), media_type=MEDIA["parquet"], headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return Response(_xlsx(table, meta, provenance), media_type=MEDIA["xlsx"], headers=headers)
