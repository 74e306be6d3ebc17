"""Answers kept encoded and served before routing; the request's language for the query layer.

The server reads one version of the atlas file at a time; a write (through
this server or any other process) makes a new version, which the server
opens at the next request (:mod:`clusteratlas.server.service`). Every
answer names the version it was computed from (its ETag and
``X-Atlas-Version``). So a read answer is kept, exactly as it was sent
(status, headers, body bytes, gzipped or not), under the key

    (atlas version, generation, path, query string, format asked by Accept, language, gzip or not)

and the next identical request is answered from memory by a small ASGI
check before FastAPI routes and validates it: the same headers, and 304 when
the client's ETag (or Last-Modified) is current. The version and the
generation move with every new version the server opens (which also empties
the cache), so an answer of an atlas that has changed is never served.

Only successful answers that carry ``X-Atlas-Version`` (the read routes')
are kept: problem documents, the token list, the write log, health and the pages are not.
The cache is bounded in bytes (``serve --cache-mb``, default 256; 0 turns it
off) and drops the least recently used answers first; with ``--workers N``
each process has its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from email.utils import parsedate_to_datetime
from typing import Any

from clusteratlas import i18n
from clusteratlas.queries._core import memo
from clusteratlas.server.contract import WARM_SCOPE_KEY
from clusteratlas.server.formats import negotiate
from clusteratlas.server.language import language

#: Default bound of the cache, in MB.
DEFAULT_CACHE_MB = 256.0
#: Paths under this prefix are cached (health and the write routes answer without X-Atlas-Version: never kept).
PREFIX = "/api/v1/"
_UNCACHED = frozenset({"/api/v1/health", "/api/v1/writes"})  # /writes needs a token: answered by the route
#: Headers a 304 repeats (RFC 9110 15.4.5).
_NOT_MODIFIED_HEADERS = frozenset({b"etag", b"last-modified", b"cache-control", b"vary", b"x-atlas-version"})


def not_modified(etag: str, last_modified: Any, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether the client's copy is current: its If-None-Match lists ``etag`` (or ``*``), else its
    If-Modified-Since is not older than ``last_modified`` (a datetime). A bad date means not current."""
    if if_none_match is not None:
        tags = [m.strip() for m in if_none_match.split(",")]
        return etag in tags or "*" in tags
    if if_modified_since:
        try:
            return parsedate_to_datetime(if_modified_since) >= last_modified
        except (TypeError, ValueError):
            return False
    return False


class ResponseCache:
    """Encoded answers by key, least recently used dropped past ``max_bytes`` (0: keep nothing).

    An answer larger than ``max_item`` (default: an eighth of the cache) is not kept.
    """

    def __init__(self, max_bytes: int = int(DEFAULT_CACHE_MB * 1e6), max_item: int | None = None) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self.max_item = max_item if max_item is not None else self.max_bytes // 8
        self._items: OrderedDict[tuple, tuple[int, list[tuple[bytes, bytes]], bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def size(self) -> int:
        """Bytes held (bodies and headers)."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: tuple, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        cost = _cost(headers, body)
        if not self.enabled or cost > self.max_item:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= _cost(old[1], old[2])
            self._items[key] = (status, headers, body)
            self._size += cost
            while self._size > self.max_bytes and self._items:
                _, (_, h, b) = self._items.popitem(last=False)
                self._size -= _cost(h, b)
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0


def _cost(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    return len(body) + sum(len(k) + len(v) for k, v in headers) + 200


class AnswerCacheMiddleware:
    """Sets the request's language (``?lang=``, else the language cookie, else English) for everything
    the request runs (and, for a GET, the store of facts its queries keep about this atlas version), then
    answers a GET under ``/api/v1/`` from the cache when it can, else passes it on
    and keeps a cacheable answer on its way out."""

    def __init__(self, app: Any, *, service: Any) -> None:
        self.app = app
        self.service = service
        self.cache: ResponseCache = service.cache
        self._language = language

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        lang = self._language(Request(scope))
        # the request reads one version of the atlas from start to end (a newer one if a write replaced the file)
        with self.service.pinned():
            await self._answer(scope, receive, send, lang)

    async def _answer(self, scope: dict, receive: Any, send: Any, lang: str) -> None:
        # a GET only reads: its queries may keep facts about this version of the atlas (levels, years…)
        facts = self.service.memo() if scope["method"] in ("GET", "HEAD") else None
        with i18n.language_for(lang), memo(facts):
            path = scope["path"]
            if (scope["method"] != "GET" or not self.cache.enabled or not path.startswith(PREFIX)
                    or path in _UNCACHED):
                await self._live(scope, receive, send)
                return
            headers = dict(scope.get("headers") or ())
            version = self.service.cache_version()
            # the format the Accept header asks for (what the routes negotiate), not its exact text
            wanted = negotiate(None, headers.get(b"accept", b"").decode("latin-1"))
            key = (version, path, scope.get("query_string", b""), wanted, lang,
                   b"gzip" in headers.get(b"accept-encoding", b"").lower())
            hit = self.cache.get(key)
            if hit is not None:
                await _replay(hit, headers, send)
                return
            await self._live(scope, receive, self._keeping(key, version[0], send))

    async def _live(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass a request on, counting it while it runs unless it is the warm-up's (which waits while any
        live request is being computed: :mod:`clusteratlas.server.warm`)."""
        if scope.get(WARM_SCOPE_KEY):
            await self.app(scope, receive, send)
            return
        self.service.live_requests += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.service.live_requests -= 1

    def _keeping(self, key: tuple, version: str, send: Any) -> Any:
        """``send``, keeping a copy of a cacheable answer (200, of this atlas version) as it goes out."""
        state: dict[str, Any] = {"keep": False, "chunks": [], "size": 0}
        limit = self.cache.max_item

        async def keeping(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower(): v for k, v in message.get("headers", ())}
                state["keep"] = (message["status"] == 200 and names.get(b"x-atlas-version") == version.encode()
                                 and b"set-cookie" not in names)
                state["status"], state["headers"] = message["status"], list(message.get("headers", ()))
            elif message["type"] == "http.response.body" and state["keep"]:
                body = message.get("body", b"")
                state["size"] += len(body)
                if state["size"] > limit:
                    state["keep"], state["chunks"] = False, []
                else:
                    state["chunks"].append(body)
                if not message.get("more_body", False) and state["keep"]:
                    body = b"".join(state["chunks"])
                    kept = [(k, v) for k, v in state["headers"]
                            if k.lower() not in (b"content-length", b"transfer-encoding")]
                    kept.append((b"content-length", str(len(body)).encode()))
                    self.cache.put(key, state["status"], kept, body)
            await send(message)

        return keeping


async def _replay(hit: tuple[int, list[tuple[bytes, bytes]], bytes], request_headers: dict[bytes, bytes],
                  send: Any) -> None:
    """Send a kept answer, or 304 with its validators when the client's copy is current."""
    status, headers, body = hit
    found = {k.lower().decode("latin-1"): v.decode("latin-1") for k, v in headers}
    inm = request_headers.get(b"if-none-match")
    ims = request_headers.get(b"if-modified-since")
    if (inm is not None or ims) and "etag" in found:
        try:
            modified = parsedate_to_datetime(found.get("last-modified", ""))
        except (TypeError, ValueError):
            modified = None
        fresh = not_modified(found["etag"], modified, inm.decode("latin-1") if inm is not None else None,
                             ims.decode("latin-1") if ims and modified is not None else None)
        if fresh:
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(k, v) for k, v in headers if k.lower() in _NOT_MODIFIED_HEADERS]})
            await send({"type": "http.response.body", "body": b""})
            return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
