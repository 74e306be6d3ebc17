"""What the server promises: its answers' shapes, its problem documents and the marks it puts on a request.

The vocabulary every other server module shares, and nothing else: the RFC 9457 problem model, the answer
models and the ``responses`` documents of the OpenAPI schema (:data:`TABULAR`, :data:`OBJECT`,
:data:`WRITE_ERRORS`), the formats a table is sent in, and the ASGI scope keys of the warm-up and of the
authenticated caller. It imports no other server module but :mod:`~clusteratlas.server.formats`, so that
routes, pages, writes and middleware can all build on it without importing each other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from clusteratlas.metrics.run import MapRun
from clusteratlas.server.formats import MEDIA

#: The media type of a problem document (RFC 9457).
PROBLEM = "application/problem+json"
#: Marks a warm-up request in the ASGI scope (never set by a client: scopes come from the server).
WARM_SCOPE_KEY = "clusteratlas.warm"
#: Where the guard leaves the authenticated caller in the ASGI scope, for the routes.
CALLER_KEY = "clusteratlas.caller"


# ----------------------------------------------------------------- models (docs)
class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    did_you_mean: list[str] | None = None
    expected: str | None = None
    errors: list[dict[str, Any]] | None = None


class SourceModel(BaseModel):
    kind: str
    name: str | None = None
    file: str
    rows: int
    sha256: str
    imported_at: str


class ProvenanceModel(BaseModel):
    """Where the answer comes from."""

    atlas: str
    version: str
    last_modified: str
    map_run: MapRun | None = None  # the stored run itself (clusteratlas.metrics.run), its spec nested
    sources: list[SourceModel]


class TableAnswer(BaseModel):
    """Rows, what they are (meta) and where they come from."""

    data: list[dict[str, Any]]
    meta: dict[str, Any]
    provenance: ProvenanceModel


class ObjectAnswer(BaseModel):
    """One object (a profile, a document) and where it comes from."""

    data: dict[str, Any]
    provenance: ProvenanceModel


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
           "description": text}
    for code, text in ((400, "Malformed request"), (404, "Unknown id (with close matches) or nothing computed yet"),
                       (413, "Request body too large"), (422, "Bad parameter: what was expected"),
                       (429, "Too many requests"))
}
TABULAR: dict[int | str, dict[str, Any]] = {
    200: {"model": TableAnswer, "description": "Rows as JSON (default), CSV, Parquet or Excel",
          "content": {MEDIA["csv"].split(";")[0]: {"schema": {"type": "string"}},
                      MEDIA["parquet"]: {"schema": {"type": "string", "format": "binary"}},
                      MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "Not modified (ETag or Last-Modified matched)"},
    **ERRORS,
}
OBJECT: dict[int | str, dict[str, Any]] = {200: {"model": ObjectAnswer}, 304: TABULAR[304], **ERRORS}
#: The errors of a route that needs a token.
WRITE_ERRORS = {**ERRORS, 401: {**ERRORS[404], "description": "No token, or a wrong, revoked or expired one"},
                403: {**ERRORS[404], "description": "The token's role is too low"},
                503: {**ERRORS[404], "description": "The atlas is served read-only"}}
Format = Literal["json", "csv", "parquet", "xlsx"]
