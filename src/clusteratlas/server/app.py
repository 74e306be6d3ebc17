"""The FastAPI application: read routes over the query layer, write routes through the writer queue.

No SQL here: every answer is one call into :mod:`clusteratlas.queries` (or,
for writes, the same Atlas methods the CLI uses). Errors are RFC 9457
problem documents; no input produces a stack trace.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Annotated, Any, Literal

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from clusteratlas import __version__, i18n
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.metrics.run import MapRun
from clusteratlas.queries._core import Missing, NotFound
from clusteratlas.server.auth import AuthError
from clusteratlas.server.cache import DEFAULT_CACHE_MB, AnswerCacheMiddleware, not_modified
from clusteratlas.server.formats import MEDIA, dumps
from clusteratlas.server.guard import DEFAULT_AUTH_FAILURES
from clusteratlas.server.headers import HEADERS, SecurityHeadersMiddleware, docs_policy
from clusteratlas.server.service import AtlasService, ReadOnly
from clusteratlas.sources.limits import LimitError

log = logging.getLogger("clusteratlas.server")
PROBLEM = "application/problem+json"


def _N(message: str) -> str:
    """``message`` unchanged: marks a catalogue message that :func:`problem` translates when it answers."""
    return message
#: Default cap on a request body (uploads included), in bytes.
DEFAULT_MAX_BODY = 20 * 1024 * 1024
#: Default time for reading and checking one upload, in seconds (the one writer is busy meanwhile).
DEFAULT_UPLOAD_SECONDS = 60.0


@dataclass
class Settings:
    """How the server runs: which atlas, limits, CORS and rate limiting."""

    atlas: str
    read_only: bool = False
    max_body: int = DEFAULT_MAX_BODY
    cors_origins: list[str] = field(default_factory=list)
    rate_limit: str | None = None  # e.g. "600/minute", per token or client address
    memory_limit: str | None = None
    cache_mb: float = DEFAULT_CACHE_MB  # encoded answers kept in memory (0: none)
    warm: bool = True  # compute the common answers into the cache after start-up and every write
    auth_failures: str = DEFAULT_AUTH_FAILURES  # failed token checks allowed per client address
    upload_seconds: float | None = DEFAULT_UPLOAD_SECONDS  # reading and checking one upload (None: no limit)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from CLUSTERATLAS_SERVE_* variables (how ``serve --workers N`` passes them on)."""
        env = os.environ
        return cls(atlas=env["CLUSTERATLAS_SERVE_ATLAS"], read_only=env.get("CLUSTERATLAS_SERVE_READ_ONLY") == "1",
                   max_body=int(env.get("CLUSTERATLAS_SERVE_MAX_BODY", DEFAULT_MAX_BODY)),
                   cors_origins=[o for o in env.get("CLUSTERATLAS_SERVE_CORS", "").split(",") if o],
                   rate_limit=env.get("CLUSTERATLAS_SERVE_RATE_LIMIT") or None,
                   memory_limit=env.get("CLUSTERATLAS_MEMORY_LIMIT") or None,
                   cache_mb=float(env.get("CLUSTERATLAS_SERVE_CACHE_MB") or DEFAULT_CACHE_MB),
                   warm=env.get("CLUSTERATLAS_SERVE_WARM", "1") != "0",
                   auth_failures=env.get("CLUSTERATLAS_SERVE_AUTH_FAILURES") or DEFAULT_AUTH_FAILURES,
                   upload_seconds=float(env.get("CLUSTERATLAS_SERVE_UPLOAD_SECONDS", DEFAULT_UPLOAD_SECONDS)) or None)

    def to_env(self) -> dict[str, str]:
        return {"CLUSTERATLAS_SERVE_ATLAS": str(self.atlas), "CLUSTERATLAS_SERVE_READ_ONLY": "1" if self.read_only
                else "0", "CLUSTERATLAS_SERVE_MAX_BODY": str(self.max_body),
                "CLUSTERATLAS_SERVE_CORS": ",".join(self.cors_origins),
                "CLUSTERATLAS_SERVE_RATE_LIMIT": self.rate_limit or "",
                "CLUSTERATLAS_SERVE_CACHE_MB": str(self.cache_mb),
                "CLUSTERATLAS_SERVE_WARM": "1" if self.warm else "0",
                "CLUSTERATLAS_SERVE_AUTH_FAILURES": self.auth_failures,
                "CLUSTERATLAS_SERVE_UPLOAD_SECONDS": str(self.upload_seconds or 0)}


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
Format = Literal["json", "csv", "parquet", "xlsx"]


# ---------------------------------------------------------------------- problems
def problem(status: int, title: str, detail: str | None = None, request: Request | None = None,
            **extra: Any) -> Response:
    """An RFC 9457 problem document; ``title`` (a catalogue message) and ``detail`` in the request's language.

    The request's language is set around the routes and these handlers (:class:`AnswerCacheMiddleware`); a
    detail already translated where it was raised is kept as it is.
    """
    title, detail = _(title), (_(detail) if detail and i18n.has(detail) else detail)
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": request.url.path if request is not None else None,
            **{k: v for k, v in extra.items() if v is not None}}
    headers = {**HEADERS, **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}  # a 500 skips the middleware
    return Response(dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _input_error(request: Request, exc: InputError) -> Response:
    if isinstance(exc, NotFound):
        return problem(404, _N("Not found"), str(exc), request, did_you_mean=exc.close_matches)
    if isinstance(exc, Missing):
        return problem(404, _N("Not computed yet"), str(exc), request)
    if isinstance(exc, LimitError):
        return problem(413, _N("Upload over a limit"), str(exc), request, expected=exc.expected)
    return problem(422, _N("Bad parameter"), str(exc), request, expected=exc.expected)


def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))[:300],
               "type": str(e.get("type", ""))} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in errors)[:1000]
    return problem(422, _N("Bad parameter"), detail, request, errors=errors)


def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    titles = {404: _N("Not found"), 405: _N("Method not allowed"), 413: _N("Request body too large"),
              401: _N("Unauthorized"), 403: _N("Forbidden"), 400: _N("Bad request"), 503: _N("Unavailable")}
    response = problem(exc.status_code, titles.get(exc.status_code, _N("Error")), str(exc.detail), request)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # every method the schema documents for the path (RFC 9110)
        import re

        for template, ops in request.app.openapi()["paths"].items():
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
                response.headers["Allow"] = ", ".join(sorted(m.upper() for m in ops))
                break
    return response


def _duckdb_error(request: Request, exc: duckdb.Error) -> Response:
    if isinstance(exc, duckdb.ConversionException | duckdb.OutOfRangeException | duckdb.InvalidInputException):
        return problem(422, _N("Bad parameter"), _N("a parameter is out of range for the data"), request)
    log.exception("query failed", exc_info=exc)
    return problem(500, _N("Internal error"), _N("the query failed; the server log has the details"), request)


def _any_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, _N("Internal error"), _N("the server log has the details"), request)


# -------------------------------------------------------------------------- app
def create_app(settings: Settings) -> FastAPI:
    """The API over one atlas (opened at startup, closed at shutdown)."""
    service = AtlasService(settings.atlas, read_only=settings.read_only, memory_limit=settings.memory_limit,
                           cache_bytes=int(settings.cache_mb * 1e6))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.open()
        warmer = app.state.warmer
        warmer.start()
        yield
        warmer.stop()
        service.close()

    app = FastAPI(title="clusteratlas API", version=__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  description="The cluster observatory over HTTP: the same answers as the CLI and the Python API, "
                              "with their provenance. Read routes are open; write routes need a token.")
    app.state.service = service
    app.state.settings = settings
    from clusteratlas.server.warm import Warmer

    app.state.warmer = Warmer(app, service, enabled=settings.warm)
    service.on_clear = app.state.warmer.kick
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(duckdb.Error, _duckdb_error)
    app.add_exception_handler(AuthError, lambda r, e: problem(e.status, _N("Unauthorized") if e.status == 401
                                                              else _N("Forbidden"), e.detail, r))
    app.add_exception_handler(ReadOnly, lambda r, e: problem(
        503, _N("Read-only"), _N("this server serves the atlas read-only (--read-only); serve it without "
                                 "--read-only to accept writes"), r))
    app.add_exception_handler(Exception, _any_error)

    import importlib.resources

    assets = importlib.resources.files("fastapi_offline").joinpath("static")
    app.mount("/api/docs-assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(openapi_url="/api/openapi.json", title="clusteratlas API",
                                   swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/api/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/api/docs-assets/favicon.png")
        nonce = secrets.token_urlsafe(18)  # its one inline script, allowed by the page's own policy
        html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
        return HTMLResponse(html, headers={"Content-Security-Policy": docs_policy(nonce)})

    from clusteratlas.server.routes import router
    from clusteratlas.server.writes import router as write_router

    app.include_router(router, prefix="/api/v1")
    app.include_router(write_router, prefix="/api/v1")
    from starlette.middleware.gzip import GZipMiddleware

    from clusteratlas.server.web import mount

    mount(app)  # the pages (server-rendered HTML over the same queries) and the map geometry route
    # outermost last: the security headers -> the guard (bad URLs, sizes, rate limits) -> CORS -> cached answers
    # and the request's language -> gzip -> the routes. Cached answers are kept as gzip sent them (a variant per
    # encoding).
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(AnswerCacheMiddleware, service=service)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST",
                           "DELETE"], allow_headers=["Authorization", "Content-Type", "If-None-Match"])
    from clusteratlas.server.guard import GuardMiddleware, write_route_patterns

    app.add_middleware(GuardMiddleware, max_body=settings.max_body, rate_limit=settings.rate_limit,
                       auth_failures=settings.auth_failures, service=service,
                       write_routes=write_route_patterns(write_router.routes, "/api/v1"))
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: the guard's refusals carry the headers too
    return app


def factory() -> FastAPI:
    """The app from environment settings (for ``uvicorn --factory`` and ``serve --workers N``)."""
    return create_app(Settings.from_env())


def cache_headers(request: Request, service: AtlasService, fmt: str) -> tuple[dict[str, str], bool]:
    """ETag and Last-Modified from the atlas' last change; True when the client's copy is current.

    The ETag names the atlas version, the URL, the format and the language (notes follow ``?lang=`` or
    the language cookie, hence ``Vary: Cookie``).
    """
    from clusteratlas.i18n import get_language

    version, modified = service.stamp()
    key = hashlib.sha256(f"{version}|{request.url.path}?{request.url.query}|{fmt}|{get_language()}".encode()
                         ).hexdigest()[:20]
    etag = f'W/"{key}"'
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True),
               "Cache-Control": "public, no-cache", "X-Atlas-Version": version, "Vary": "Accept, Cookie"}
    return headers, not_modified(etag, modified, request.headers.get("if-none-match"),
                                 request.headers.get("if-modified-since"))


FormatQ = Annotated[Format | None, "format"]
