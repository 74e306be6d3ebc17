"""How a read is answered: a table or an object with its provenance, cache headers, on a worker thread.

The API's read routes and the pages' JSON twins (:mod:`clusteratlas.server.web`) answer through
:func:`answer_table` and :func:`answer_object`, so that every answer carries the same provenance, ETag,
Last-Modified and formats, and waits its turn the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import anyio
import anyio.to_thread
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from clusteratlas.errors import InputError
from clusteratlas.i18n import _, get_language
from clusteratlas.queries._core import TableResult
from clusteratlas.queries.answers import StoredObject
from clusteratlas.server.cache import not_modified
from clusteratlas.server.contract import WARM_SCOPE_KEY
from clusteratlas.server.formats import dumps, json_response, negotiate, table_response
from clusteratlas.server.service import AtlasService

#: Queries run at once (new answers); the others wait their turn, cached answers never wait.
READERS = 4


def service_of(request: Request) -> AtlasService:
    """The served atlas of the request's application."""
    return request.app.state.service


def cache_headers(request: Request, service: AtlasService, fmt: str) -> tuple[dict[str, str], bool]:
    """ETag and Last-Modified from the atlas' last change; True when the client's copy is current.

    The ETag names the atlas version, the URL, the format and the language (notes follow ``?lang=`` or
    the language cookie, hence ``Vary: Cookie``).
    """
    version, modified = service.stamp()
    key = hashlib.sha256(f"{version}|{request.url.path}?{request.url.query}|{fmt}|{get_language()}".encode()
                         ).hexdigest()[:20]
    etag = f'W/"{key}"'
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True),
               "Cache-Control": "public, no-cache", "X-Atlas-Version": version, "Vary": "Accept, Cookie"}
    return headers, not_modified(etag, modified, request.headers.get("if-none-match"),
                                 request.headers.get("if-modified-since"))


async def _cached(request: Request, service: AtlasService, fmt: str,
                  build: Callable[[dict[str, str]], Response],
                  inline: Callable[[dict[str, str]], Response | None] | None = None) -> Response:
    """304 when the client's copy is current, else a new answer: ``inline(headers)`` when it gives one (an
    answer held in memory, built without a query), else ``build(headers)`` on a worker thread (a few at once).

    Identical requests are answered before they reach here, from the cache of encoded answers
    (:mod:`clusteratlas.server.cache`), which keeps this answer on its way out.
    """
    headers, fresh = cache_headers(request, service, fmt)
    if fresh:
        return Response(status_code=304, headers=headers)
    if inline is not None:
        # no worker thread: handing a request to one and back costs a cold server's first answers more than
        # the lookup itself (synthetic region profiles at 50 clients: p95 85–100 -> 37–42 ms in the first 5 s)
        response = inline(headers)
        if response is not None:
            return response
    if request.scope.get(WARM_SCOPE_KEY):  # the warm-up's own thread computes it: no live request's slot taken
        return build(headers)
    if service.read_limiter is None:  # a few queries at once: more only thrash the cores and DuckDB's memory
        service.read_limiter = anyio.CapacityLimiter(READERS)
    return await anyio.to_thread.run_sync(build, headers, limiter=service.read_limiter)


def _flag(request: Request, name: str) -> bool:
    """A true/false query parameter of a tabular answer (``keep_formulas``: CSV cells as stored; ``bom``: a CSV
    that starts with the UTF-8 byte-order mark), false by default."""
    value = request.query_params.get(name)
    if value is None:
        return False
    try:
        return TypeAdapter(bool).validate_python(value)
    except ValidationError:
        raise InputError(_("{name} must be true or false").format(name=name), value=value[:40],
                         expected=_("true or false")) from None


async def answer_table(request: Request, fmt: str | None, name: str, run: Callable[[Any], TableResult]) -> Response:
    """``run(connection)``'s rows in the negotiated format (``fmt``, else ``Accept``), with provenance; ``name``
    names a download."""
    service = service_of(request)
    chosen = negotiate(fmt, request.headers.get("accept"))
    keep, bom = _flag(request, "keep_formulas"), _flag(request, "bom")

    def build(headers: dict[str, str]) -> Response:
        result = run(service.reader())
        return table_response(result.table, result.meta, service.provenance().as_dict(), chosen, headers, name,
                              keep_formulas=keep, bom=bom)

    return await _cached(request, service, chosen, build)


async def answer_object(request: Request, run: Callable[[Any], Any],
                        held: Callable[[], Any] | None = None) -> Response:
    """``run(connection)``'s object (a profile, a document) as JSON ``data`` with provenance; ``held()`` gives
    the same object when the server holds it in memory (a stored answer: :func:`clusteratlas.queries.answers.held`),
    else None."""
    service = service_of(request)

    def respond(data: Any, provenance: dict[str, Any], headers: dict[str, str]) -> Response:
        if isinstance(data, StoredObject):  # its JSON as stored: the bytes json_response would write
            body = b'{"data":' + data.json + b',"provenance":' + dumps(provenance) + b"}"
            return Response(body, media_type="application/json", headers=headers)
        if hasattr(data, "as_dict"):
            data = data.as_dict()
        return json_response({"data": data, "provenance": provenance}, headers=headers)

    def build(headers: dict[str, str]) -> Response:
        data = run(service.reader())
        return respond(data, service.provenance().as_dict(), headers)

    def inline(headers: dict[str, str]) -> Response | None:
        provenance = service.held_provenance()
        data = held() if held is not None and provenance is not None else None
        return None if data is None else respond(data, provenance.as_dict(), headers)

    return await _cached(request, service, "json", build, inline if held is not None else None)
