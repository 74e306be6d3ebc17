"""Checks before any route runs: malformed URLs, body size, rate limits.

A pure ASGI middleware, so a refused request never reaches the app:

- a NUL byte (raw or ``%00``) in the path or query: 400;
- a URL over 32 KiB: 422 (a parameter too long);
- a body without a length, or over the configured limit: 411 / 413, before
  any byte of it is read (uploads are then streamed to a temporary file);
- more requests than ``rate_limit`` (e.g. ``600/minute``) from one token, or
  without a token from one client address: 429 with Retry-After
  (counted with the ``limits`` library's moving window, in memory).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from clusteratlas.server.warm import SCOPE_KEY as WARM_SCOPE_KEY

MAX_URL = 32 * 1024


class GuardMiddleware:
    def __init__(self, app: Any, *, max_body: int, rate_limit: str | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.limiter = None
        if rate_limit:
            from limits import parse
            from limits.storage import MemoryStorage
            from limits.strategies import MovingWindowRateLimiter

            self.item = parse(rate_limit)
            self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if len(path) + len(query) > MAX_URL:
            await _problem(send, scope, 422, "Bad parameter", f"the URL is over {MAX_URL} bytes; expected shorter "
                           "parameters (send long region lists in several requests)")
            return
        if b"\x00" in path or b"\x00" in query or b"%00" in path or b"%00" in query or "\x00" in scope["path"]:
            await _problem(send, scope, 400, "Bad request", "NUL bytes are not allowed in a URL")
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope["method"] in ("POST", "PUT", "PATCH"):
            length = headers.get(b"content-length")
            if length is None:
                if headers.get(b"transfer-encoding"):
                    await _problem(send, scope, 411, "Length required", "send a Content-Length header")
                    return
            else:
                try:
                    size = int(length)
                except ValueError:
                    await _problem(send, scope, 400, "Bad request", "bad Content-Length")
                    return
                if size > self.max_body:
                    await _problem(send, scope, 413, "Request body too large",
                                   f"the body has {size} bytes; the limit is {self.max_body}")
                    return
        if self.limiter is not None and not scope.get(WARM_SCOPE_KEY):  # the server's own warm-up is not limited
            auth = headers.get(b"authorization", b"").decode("latin-1")
            parts = auth.split("_")
            key = f"token:{parts[1]}" if auth.lower().startswith("bearer ca_") and len(parts) > 2 else \
                f"ip:{(scope.get('client') or ('?', 0))[0]}"
            if not self.limiter.hit(self.item, key):
                reset = self.limiter.get_window_stats(self.item, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                await _problem(send, scope, 429, "Too many requests",
                               f"over the rate limit of {self.item}; retry in {wait} s",
                               extra_headers=[(b"retry-after", str(wait).encode())])
                return
        await self.app(scope, receive, send)


async def _problem(send: Any, scope: dict, status: int, title: str, detail: str,
                   extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": scope["path"].replace("\x00", "")[:200]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *(extra_headers or [])]})
    await send({"type": "http.response.body", "body": body})
