"""The application: the server's parts assembled over one atlas (:func:`create_app`), and how it runs.

Nothing is defined here but the assembly. The parts, each importing only the ones listed before it
(``tests/test_server_shape.py`` checks it; ``docs/architecture.md`` says why):

1. :mod:`~clusteratlas.server.formats`, :mod:`~clusteratlas.server.headers`, :mod:`~clusteratlas.server.language`,
   :mod:`~clusteratlas.server.auth`: how a table is encoded, the security headers, a request's language, tokens;
2. :mod:`~clusteratlas.server.contract`: the answers' models, the problem documents' shape, the scope keys;
3. :mod:`~clusteratlas.server.cache`, :mod:`~clusteratlas.server.warm`, :mod:`~clusteratlas.server.timeouts`:
   the answer cache, its warm-up, the connection limits;
4. :mod:`~clusteratlas.server.service`: the served atlas (readers, the one writer);
5. :mod:`~clusteratlas.server.problems`, :mod:`~clusteratlas.server.guard`,
   :mod:`~clusteratlas.server.answering`: errors as problem documents, the guard, how a read is answered;
6. :mod:`~clusteratlas.server.routes`, :mod:`~clusteratlas.server.writes`, :mod:`~clusteratlas.server.web`:
   the read routes, the write routes, the pages;
7. this module.

No SQL in any of them: every answer is one call into :mod:`clusteratlas.queries` (or, for writes, the same
Atlas methods the CLI uses; tokens through :mod:`clusteratlas.store.tokens`).
"""

from __future__ import annotations

import importlib.resources
import os
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import duckdb
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from clusteratlas import __version__
from clusteratlas.errors import InputError
from clusteratlas.server.auth import AuthError
from clusteratlas.server.cache import DEFAULT_CACHE_MB, AnswerCacheMiddleware
from clusteratlas.server.guard import DEFAULT_AUTH_FAILURES, GuardMiddleware, write_route_patterns
from clusteratlas.server.headers import SecurityHeadersMiddleware, docs_policy
from clusteratlas.server.problems import (
    any_error,
    auth_error,
    duckdb_error,
    http_error,
    input_error,
    read_only_error,
    validation_error,
)
from clusteratlas.server.routes import router
from clusteratlas.server.service import AtlasService, ReadOnly
from clusteratlas.server.warm import Warmer
from clusteratlas.server.web import mount
from clusteratlas.server.writes import router as write_router

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


# -------------------------------------------------------------------------- app
def create_app(settings: Settings) -> FastAPI:
    """The API over one atlas (opened at startup, closed at shutdown)."""
    service = AtlasService(settings.atlas, read_only=settings.read_only, memory_limit=settings.memory_limit,
                           cache_bytes=int(settings.cache_mb * 1e6))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.open()
        service.load_answers()  # the stored answers in memory before the first request
        unwatch = service.watch()  # a write from anywhere: its version opened, and its answers read, at once
        warmer = app.state.warmer
        warmer.start()
        yield
        warmer.stop()
        unwatch()
        service.close()

    app = FastAPI(title="clusteratlas API", version=__version__, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  description="The cluster observatory over HTTP: the same answers as the CLI and the Python API, "
                              "with their provenance. Read routes are open; write routes need a token.")
    app.state.service = service
    app.state.settings = settings
    app.state.warmer = Warmer(app, service, enabled=settings.warm)
    service.on_clear = app.state.warmer.kick
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(duckdb.Error, duckdb_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(ReadOnly, read_only_error)
    app.add_exception_handler(Exception, any_error)

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

    app.include_router(router, prefix="/api/v1")
    app.include_router(write_router, prefix="/api/v1")
    mount(app)  # the pages (server-rendered HTML over the same queries) and the map geometry route
    # outermost last: the security headers -> the guard (bad URLs, sizes, rate limits) -> CORS -> cached answers
    # and the request's language -> gzip -> the routes. Cached answers are kept as gzip sent them (a variant per
    # encoding).
    # zlib's own default level, not Starlette's 9: an answer's first gzip costs the tail of a cold server
    # (synthetic region profiles at 50 clients asking gzip: p95 108–116 ms at 9, 71–90 ms at 6), for 2.5 %
    # more bytes (8,666 against 8,456)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=6)
    app.add_middleware(AnswerCacheMiddleware, service=service)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST",
                           "DELETE"], allow_headers=["Authorization", "Content-Type", "If-None-Match"])
    app.add_middleware(GuardMiddleware, max_body=settings.max_body, rate_limit=settings.rate_limit,
                       auth_failures=settings.auth_failures, service=service,
                       write_routes=write_route_patterns(write_router.routes, "/api/v1"))
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: the guard's refusals carry the headers too
    return app


def factory() -> FastAPI:
    """The app from environment settings (for ``uvicorn --factory`` and ``serve --workers N``)."""
    return create_app(Settings.from_env())
