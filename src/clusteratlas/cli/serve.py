"""Command line for the service: ``clusteratlas serve`` and ``clusteratlas token …``.

A thin layer over :mod:`clusteratlas.server`; registered on the main app when imported.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from clusteratlas.cli._common import AtlasOpt, WideOpt, app, err, failing_cleanly, out
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
from clusteratlas.store import DEFAULT_PATH, Atlas

token_app = typer.Typer(help="API tokens: create (shown once, stored hashed), list, revoke.", no_args_is_help=True)


@contextlib.contextmanager
def stopping_cleanly_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM ends the process as SIGINT does: by an exception, so every ``with`` block closes
    (the demo atlas's temporary folder is removed).

    Uvicorn catches SIGINT and SIGTERM to stop serving, then sends the signal again to the process once it has
    stopped; SIGINT's default handler raises KeyboardInterrupt, but SIGTERM's kills the process at once, leaving
    the folder behind. Here SIGTERM raises ``SystemExit(143)`` (128 + 15, the shell's code for it) instead.
    """
    if threading.current_thread() is not threading.main_thread():  # signals can only be set in the main thread
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo_atlas(stack: contextlib.ExitStack) -> Path:
    """Build the demo atlas (the sample economy, every part) in a temporary folder removed when ``stack`` closes."""
    from clusteratlas.api import build_demo_atlas

    path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clusteratlas-serve-demo-"))) / "demo.duckdb"
    build_demo_atlas(path)
    return path


def serve(atlas: AtlasOpt = DEFAULT_PATH,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
          workers: Annotated[int, typer.Option(help="Server processes; every one reads the atlas and accepts "
                                               "writes (taken one at a time).", min=1, max=64)] = 1,
          read_only: Annotated[bool, typer.Option(help="Serve read-only (write routes answer 503).")] = False,
          demo: Annotated[bool, typer.Option(help="Build the demo atlas (sample economy) and serve it.")] = False,
          max_body_mb: Annotated[float, typer.Option(help="Largest request body (uploads), in MB.", min=0.001)]
          = 20.0,
          cors_origin: Annotated[list[str] | None, typer.Option(help="Allow browser calls from this origin "
                                                                "(repeatable; default: CORS off).")] = None,
          rate_limit: Annotated[str | None, typer.Option(help="Requests allowed per verified token, else per "
                                                         "client address, e.g. 600/minute (default: no limit).")]
          = None,
          auth_failures: Annotated[str, typer.Option(help="Failed token checks allowed per client address; "
                                                     "past them it gets 429 until the window moves on.")]
          = "10/minute",
          upload_seconds: Annotated[float, typer.Option(help="Seconds for reading and checking one upload "
                                                        "(0: no limit); past them it is refused with 413 and "
                                                        "nothing is stored.", min=0)] = 60.0,
          cache_mb: Annotated[float, typer.Option(help="Memory for recent answers, in MB, per server process "
                                                  "(0: no cache).", min=0)] = 256.0,
          warm: Annotated[bool, typer.Option(help="After start-up and every write, compute the common answers "
                                             "(every region's profile, every cluster's ranking and map "
                                             "layer) into the cache in the background.")] = True,
          header_timeout: Annotated[float, typer.Option(help="Seconds for a request's line and headers to "
                                                        "arrive; a slower client is answered 408 and "
                                                        "disconnected.", min=0.1)] = 10.0,
          body_timeout: Annotated[float, typer.Option(help="Seconds for a request's body (an upload) to arrive "
                                                      "after its headers; a slower client is answered 408 and "
                                                      "disconnected.", min=0.1)] = 60.0,
          keep_alive: Annotated[float, typer.Option(help="Seconds an idle connection is kept open between two "
                                                    "requests.", min=0.1)] = 5.0,
          max_connections: Annotated[int, typer.Option(help="Connections served at once, per server process; a "
                                                       "request on a connection beyond them is answered 503.",
                                                       min=1)] = 500,
          max_header_kb: Annotated[int, typer.Option(help="Largest request line and headers, in KiB.", min=1)]
          = 64,
          forwarded_allow_ips: Annotated[str | None, typer.Option(
              help="Behind a reverse proxy: its addresses or networks (comma-separated), whose X-Forwarded-For "
                   "names the client (default: believed from no one).")] = None,
          log_level: Annotated[str, typer.Option(help="Uvicorn log level.")] = "warning") -> None:
    """Serve the atlas over HTTP: REST API under /api/v1, docs at /api/docs (see docs/api.md and docs/security.md)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(stopping_cleanly_on_sigterm())
        _serve(stack, atlas=atlas, host=host, port=port, workers=workers, read_only=read_only, demo=demo,
               max_body_mb=max_body_mb, cors_origin=cors_origin, rate_limit=rate_limit, auth_failures=auth_failures,
               upload_seconds=upload_seconds, cache_mb=cache_mb, warm=warm, header_timeout=header_timeout,
               body_timeout=body_timeout, keep_alive=keep_alive, max_connections=max_connections,
               max_header_kb=max_header_kb, forwarded_allow_ips=forwarded_allow_ips, log_level=log_level)


def _serve(stack: contextlib.ExitStack, *, atlas: Path, host: str, port: int, workers: int, read_only: bool,
           demo: bool, max_body_mb: float, cors_origin: list[str] | None, rate_limit: str | None, auth_failures: str,
           upload_seconds: float, cache_mb: float, warm: bool, header_timeout: float, body_timeout: float,
           keep_alive: float, max_connections: int, max_header_kb: int, forwarded_allow_ips: str | None,
           log_level: str) -> None:
    """The body of :func:`serve` (a demo atlas lives in a folder that ``stack`` removes when serving ends)."""
    import os

    import uvicorn

    from clusteratlas.server import Settings, create_app
    from clusteratlas.server.timeouts import ServerLimits, trusted_proxies

    with failing_cleanly():
        from limits import parse

        for option, value in (("--rate-limit", rate_limit), ("--auth-failures", auth_failures)):
            if option == "--rate-limit" and not value:
                continue  # no rate limit
            try:
                parse(value)
            except ValueError:
                raise ClusterAtlasError(_("bad {option} {value!r}; expected e.g. 600/minute").format(
                    option=option, value=value)) from None
        proxies = trusted_proxies(forwarded_allow_ips) if forwarded_allow_ips is not None else None
        path = _demo_atlas(stack) if demo else atlas
        settings = Settings(atlas=str(path), read_only=read_only, max_body=int(max_body_mb * 1e6),
                            cors_origins=list(cors_origin or []), rate_limit=rate_limit, cache_mb=cache_mb,
                            warm=warm, auth_failures=auth_failures, upload_seconds=upload_seconds or None)
        app = create_app(settings) if workers == 1 else None
        if app is None:  # check the atlas opens, then hand the settings to the workers through the environment
            os.environ.update(settings.to_env())
            create_app(settings).state.service.close()
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    mode = " (read-only)" if settings.read_only else ""
    out.print(f"Serving {path}{mode}: pages at http://{shown}:{port}/ , API at http://{shown}:{port}/api/v1 "
              f"(docs: http://{shown}:{port}/api/docs). "
                  "Ctrl+C stops.", highlight=False, soft_wrap=True)
    limits = ServerLimits(header_timeout=header_timeout, body_timeout=body_timeout, keep_alive=keep_alive,
                          max_connections=max_connections, max_header_kb=max_header_kb,
                          forwarded_allow_ips=proxies).uvicorn_options()
    if app is not None:
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10, **limits)
    else:
        uvicorn.run("clusteratlas.server.app:factory", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, timeout_graceful_shutdown=10, **limits)


@token_app.command("create")
def token_create(role: Annotated[str, typer.Option(help="editor or admin.")],
                 atlas: AtlasOpt = DEFAULT_PATH,
                 name: Annotated[str | None, typer.Option(help="Who or what the token is for.")] = None,
                 expires: Annotated[float | None, typer.Option(help="Days until it expires (default: never).")]
                 = None) -> None:
    """Create a token; it is printed once and only its hash is stored."""
    from clusteratlas.server.auth import create_token

    with failing_cleanly(), Atlas(atlas) as a:
        token_id, token = create_token(a.con, role, name=name, expires_days=expires)
    err.print(f"Created {role} token {token_id}. It is shown once; keep it safe:", highlight=False)
    print(token)


@token_app.command("list")
def token_list(atlas: AtlasOpt = DEFAULT_PATH, wide: WideOpt = False) -> None:
    """List tokens (id, name, role, dates, state); never their secrets."""
    from clusteratlas.report import plain_table
    from clusteratlas.server.auth import list_tokens

    with failing_cleanly(), Atlas(atlas, read_only=True) as a:
        rows = list_tokens(a.con).to_pylist()
    out.print(plain_table(rows, "API tokens", wide=wide) if rows else "No tokens.", crop=not wide)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (from 'token list').")],
                 atlas: AtlasOpt = DEFAULT_PATH) -> None:
    """Revoke a token at once."""
    from clusteratlas.server.auth import revoke_token

    with failing_cleanly(), Atlas(atlas) as a:
        revoke_token(a.con, token_id)
    out.print(f"Revoked token {token_id}.")


app.command()(serve)
app.add_typer(token_app, name="token")
