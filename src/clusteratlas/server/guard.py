"""Checks before any route runs: malformed URLs, body size, tokens, rate limits.

A pure ASGI middleware, so a refused request never reaches the app:

- a NUL byte (raw or ``%00``) in the path or query: 400;
- a URL over 32 KiB: 422 (a parameter too long);
- both ``Content-Length`` and ``Transfer-Encoding``: 400 (the two disagree on
  where the body ends: request smuggling, and a way past the size check);
- a body without a length, or over the configured limit: 411 / 413, before
  any byte of it is read; and the bytes are counted as they arrive, so a
  body longer than it said is cut off at the limit with 413 too;
- a token (``Authorization``) is checked here, once, before the route: a
  wrong, revoked or expired one is 401 wherever it is sent; a request to a
  write route that carries a body needs a valid token before a byte of the
  body is read (the upload is then streamed to a temporary file);
- failed token checks from one client address (an IPv6 client's /64): over
  ``auth_failures`` (default 10/minute) the address gets 429 before its
  token is even looked up; at most two checks run at a time, on their own
  threads (see :mod:`clusteratlas.server.auth` on hashing);
- more requests than ``rate_limit`` (e.g. ``600/minute``): counted per
  verified token, else per client address, so fake token ids are limited
  like anonymous calls and nobody can spend a real token's allowance;
  429 with Retry-After (the ``limits`` library's moving window, in memory).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
import time
import weakref
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import Request

from clusteratlas import i18n
from clusteratlas.i18n import _
from clusteratlas.server.auth import AuthError, Caller, authenticate, require_role, store_upgraded_hash
from clusteratlas.server.contract import CALLER_KEY, WARM_SCOPE_KEY
from clusteratlas.server.language import language

MAX_URL = 32 * 1024
DEFAULT_AUTH_FAILURES = "10/minute"
#: Token checks running at once (each on its own worker thread, never one of the routes').
CHECKS_AT_ONCE = 2
BODY_METHODS = ("POST", "PUT", "PATCH")


class BodyTooLarge(HTTPException):
    """The body passed the limit while it was being read (whatever its headers said)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _("the body is over the limit of {limit} bytes").format(limit=limit))


class GuardMiddleware:
    """The checks above, in that order (see the module docstring).

    Parameters
    ----------
    app
        The application behind the guard.
    max_body
        The largest request body, in bytes.
    rate_limit
        Requests allowed per token or client address, e.g. ``600/minute``; None: no limit.
    auth_failures
        Failed token checks allowed per client address, e.g. ``10/minute``.
    service
        The served atlas (its tokens); None: tokens are not checked here (the routes check them).
    write_routes
        (methods, path pattern) of the routes whose body may only be read for a caller with a valid token.
    """

    def __init__(self, app: Any, *, max_body: int, rate_limit: str | None = None,
                 auth_failures: str = DEFAULT_AUTH_FAILURES, service: Any = None,
                 write_routes: Iterable[tuple[frozenset[str], re.Pattern]] = ()) -> None:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.max_body = max_body
        self.service = service
        self.write_routes = list(write_routes)
        self.limiter = self.item = None
        if rate_limit:
            self.item = parse(rate_limit)
            self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.failures = MovingWindowRateLimiter(MemoryStorage())
        self.failure_item = parse(auth_failures)
        self._checks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> CapacityLimiter

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with i18n.language_for(language(Request(scope))):  # its refusals in the request's language
            await self._guard(scope, receive, send)

    async def _guard(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if len(path) + len(query) > MAX_URL:
            await _problem(send, scope, 422, _("Bad parameter"), _(
                "the URL is over {limit} bytes; expected shorter parameters (send long region lists in several "
                "requests)").format(limit=MAX_URL))
            return
        if b"\x00" in path or b"\x00" in query or b"%00" in path or b"%00" in query or "\x00" in scope["path"]:
            await _problem(send, scope, 400, _("Bad request"), _("NUL bytes are not allowed in a URL"))
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length, chunked = headers.get(b"content-length"), headers.get(b"transfer-encoding")
        if length is not None and chunked is not None:
            await _problem(send, scope, 400, _("Bad request"), _("a request may not carry both Content-Length and "
                                                                 "Transfer-Encoding; send a Content-Length only"))
            return
        if scope["method"] in BODY_METHODS:
            if length is None:
                if chunked is not None:
                    await _problem(send, scope, 411, _("Length required"), _("send a Content-Length header"))
                    return
            else:
                try:
                    size = int(length)
                except ValueError:
                    await _problem(send, scope, 400, _("Bad request"), _("bad Content-Length"))
                    return
                if size > self.max_body:
                    await _problem(send, scope, 413, _("Request body too large"),
                                   _("the body has {size} bytes; the limit is {limit}").format(size=size,
                                                                                             limit=self.max_body))
                    return
        client = _client_key(scope)
        caller, refused = Caller(), None
        header = headers.get(b"authorization")
        if header is not None and self.service is not None:
            if not self.failures.test(self.failure_item, client):
                await self._too_many(send, scope, self.failures, self.failure_item, client,
                                     _("too many failed token checks from this address"))
                return
            try:
                caller = await self._check(header.decode("latin-1"), client)
            except AuthError as exc:
                refused = exc
            except _Throttled:
                await self._too_many(send, scope, self.failures, self.failure_item, client,
                                     _("too many failed token checks from this address"))
                return
        if self.limiter is not None and not scope.get(WARM_SCOPE_KEY):  # the server's own warm-up is not limited
            key = f"token:{caller.token}" if caller.token else f"ip:{client}"
            if not self.limiter.hit(self.item, key):
                await self._too_many(send, scope, self.limiter, self.item, key, _("over the rate limit"))
                return
        if refused is None and scope["method"] in BODY_METHODS and self.service is not None \
                and any(scope["method"] in methods and pattern.match(scope["path"])
                        for methods, pattern in self.write_routes):
            try:
                require_role(caller, "editor")  # every write route needs editor or above
            except AuthError as exc:
                refused = exc
        if refused is not None:
            title = _("Unauthorized") if refused.status == 401 else _("Forbidden")
            await _problem(send, scope, refused.status, title, refused.detail,
                           extra_headers=[(b"www-authenticate", b"Bearer")] if refused.status == 401 else None)
            return
        if self.service is not None:
            scope[CALLER_KEY] = caller
        await self._counted(scope, receive, send)

    async def _check(self, header: str, client: str) -> Caller:
        """The caller of a token, checked on a worker thread of its own (at most CHECKS_AT_ONCE at a time)."""
        import anyio

        loop = asyncio.get_running_loop()  # a limiter serves one event loop (tests run several)
        limiter = self._checks.get(loop)
        if limiter is None:
            limiter = self._checks[loop] = anyio.CapacityLimiter(CHECKS_AT_ONCE)
        service = self.service

        def check() -> Caller:
            if not self.failures.test(self.failure_item, client):  # failures counted while this one waited
                raise _Throttled()
            try:
                return authenticate(service.reader(), header, upgrade=self._upgrade)
            except AuthError:
                self.failures.hit(self.failure_item, client)
                raise

        return await anyio.to_thread.run_sync(check, limiter=limiter)

    def _upgrade(self, token_id: str, new_hash: str) -> None:
        """Store an older token's SHA-256 hash, on the writer thread (read-only: it stays Argon2)."""
        if not self.service.read_only:
            self.service.write_soon(lambda atlas: store_upgraded_hash(atlas.con, token_id, new_hash))

    async def _counted(self, scope: dict, receive: Any, send: Any) -> None:
        """Run the app with the body's bytes counted as they arrive: over the limit, 413."""
        received = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def watched_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (the routes' handler answers it otherwise)
            if started:
                raise
            await _problem(send, scope, 413, _("Request body too large"), exc.detail)

    async def _too_many(self, send: Any, scope: dict, limiter: Any, item: Any, key: str, what: str) -> None:
        reset = limiter.get_window_stats(item, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        await _problem(send, scope, 429, _("Too many requests"), _("{what} ({item}); retry in {wait} s").format(
                           what=what, item=allowance(item), wait=wait),
                       extra_headers=[(b"retry-after", str(wait).encode())])


def allowance(item: Any) -> str:
    """A ``limits`` rate (``600/minute``) in the current language: its own ``str`` is English only
    ("600 per 1 minute")."""
    spans = {  # (one span, several), translated as asked: a refusal is rare
        "second": (_("{amount:,} per second"), _("{amount:,} per {n:,} seconds")),
        "minute": (_("{amount:,} per minute"), _("{amount:,} per {n:,} minutes")),
        "hour": (_("{amount:,} per hour"), _("{amount:,} per {n:,} hours")),
        "day": (_("{amount:,} per day"), _("{amount:,} per {n:,} days")),
        "month": (_("{amount:,} per month"), _("{amount:,} per {n:,} months")),
        "year": (_("{amount:,} per year"), _("{amount:,} per {n:,} years")),
    }
    one, several = spans[item.GRANULARITY.name]
    return (one if item.multiples == 1 else several).format(amount=item.amount, n=item.multiples)


class _Throttled(Exception):
    """The client address passed the failed-check limit while its check waited for a slot."""


def _client_key(scope: dict) -> str:
    """The client's address; an IPv6 address by its /64 (one host usually holds a whole /64)."""
    host = (scope.get("client") or ("?", 0))[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def write_route_patterns(routes: Iterable[Any], prefix: str = "") -> list[tuple[frozenset[str], re.Pattern]]:
    """(methods, path pattern) of the routes (of a router included at ``prefix``) that take a body."""
    from starlette.routing import compile_path

    return [(frozenset(methods), compile_path(prefix + r.path)[0]) for r in routes
            if (methods := set(BODY_METHODS) & set(getattr(r, "methods", None) or ()))]


async def _problem(send: Any, scope: dict, status: int, title: str, detail: str,
                   extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A problem document; ``title`` and ``detail`` already in the request's language (a catalogue message made
    earlier, such as :data:`clusteratlas.server.auth.UNAUTHORIZED`, is translated here)."""
    detail = _(detail) if detail and i18n.has(detail) else detail
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": scope["path"].replace("\x00", "")[:200]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *(extra_headers or [])]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------ the caller
bearer = HTTPBearer(auto_error=False, description="A token from 'clusteratlas token create' (ca_<id>_<secret>)")


def caller(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    """Who is calling (anonymous without a token), as the guard found (checked here only without the guard)."""
    found = request.scope.get(CALLER_KEY)
    if found is not None:
        return found
    return authenticate(request.app.state.service.reader(), request.headers.get("authorization"))


#: A route's caller, as a FastAPI dependency (documents the bearer token in the schema).
Who = Annotated[Caller, Depends(caller)]
