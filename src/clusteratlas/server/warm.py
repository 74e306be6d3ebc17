"""Cache warm-up: the common answers of the latest map run, computed before anyone asks.

A cold answer costs a query (tens to hundreds of ms on two cores); a cached
one a few ms. After start-up, and again after every new version of the
atlas file (a write here or in any other process: the cache is emptied), one
background thread
asks the app itself, in-process, for

  every cluster's ranking  ``/api/v1/clusters/{id}/ranking?metric=lq&top=20`` and ``…/ranking``
  every cluster's map layer ``/api/v1/clusters/{id}/map?metric=lq`` and ``…/map``
  every region's profile   ``/api/v1/regions/{id}``

each as a client asks it by default (``Accept: */*``, in English), once
with gzip accepted (browsers, httpx, requests) and once without (curl, wrk).
The requests go through the whole ASGI app (the answer cache keeps them on
their way out), so the cached answers are byte for byte what a live request
computes, under the same keys; there is no second renderer.

Live requests come first: the warm-up starts an answer only while no live
request is being computed (hits from the cache do not count), runs it on
its own thread at the lowest CPU priority (``nice 19`` on Linux) rather
than in the pool live requests share, and yields between answers. It stops
when the cache is nearly full (it never evicts what it or a client put
there) and starts again from the top when the atlas version moves, so an
answer of an older atlas is never kept under the new version's key. The
health route reports its progress (``warming 1,234 / 3,201``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import Any
from urllib.parse import quote, unquote

from clusteratlas.server.contract import WARM_SCOPE_KEY

log = logging.getLogger("clusteratlas.server")
API = "/api/v1"
#: Accept-Encoding of the two variants kept per answer: what browsers and Python clients send, then curl/wrk.
ENCODINGS = (b"gzip, deflate", b"identity")
#: The warm-up stops once the cache holds this share of its bound.
FULL = 0.9
#: How often (s) an idle warmer checks whether the atlas changed under it (another process, a restore).
POLL = 2.0


def warm_paths(clusters: list[str], regions: list[str]) -> list[str]:
    """The URLs warmed, most shared first: per cluster its ranking and map layer (as ``bench_serve`` and the
    routes' defaults ask them), then every region's profile."""
    paths = []
    for c in clusters:
        q = quote(c, safe="")
        paths += [f"{API}/clusters/{q}/ranking?metric=lq&top=20", f"{API}/clusters/{q}/map?metric=lq",
                  f"{API}/clusters/{q}/ranking", f"{API}/clusters/{q}/map"]
    return paths + [f"{API}/regions/{quote(r, safe='')}" for r in regions]


class Warmer:
    """The background warm-up of one server process's answer cache."""

    def __init__(self, app: Any, service: Any, *, enabled: bool = True) -> None:
        self.app = app
        self.service = service
        self.enabled = enabled and service.cache.enabled
        self.state = "on" if self.enabled else "off"
        self.done = self.total = self.kept = 0  # answers asked, to ask, answered 200 (kept unless too large)
        self.version: tuple[str, int] | None = None
        self.started = self.finished = None  # perf_counter of the current pass
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name="atlas-warm", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """The cache was emptied (a write): warm again from the top."""
        self._kick.set()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def status(self) -> dict[str, Any]:
        """How far the warm-up is, for the health route."""
        text = {"off": "off", "on": "starting", "idle": "starting"}.get(self.state, self.state)
        if self.state == "warming":
            text = f"warming {self.done:,} / {self.total:,}"
        elif self.state in ("done", "full"):
            text = f"{self.state}: {self.done:,} / {self.total:,} answers"
            if self.started is not None and self.finished is not None:
                text += f" in {self.finished - self.started:.1f} s"
        return {"state": self.state, "done": self.done, "total": self.total, "answered": self.kept, "text": text,
                "seconds": round((self.finished or time.perf_counter()) - self.started, 1)
                if self.started is not None else None}

    # --------------------------------------------------------------- the thread
    def _main(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # lowest CPU priority for this thread (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            asyncio.run(self._loop())
        except Exception:  # never take the server down; it answers cold instead
            log.exception("cache warm-up failed")
            self.state = "failed"

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.service.refresh()  # a write by another process replaced the file: warm the new version
            except RuntimeError:  # the service was closed
                return
            version = self.service.cache_version()
            if version != self.version:
                self._kick.clear()
                self.version = version
                await self._pass(version)
            else:
                self._kick.wait(POLL)

    def _changed(self, version: tuple[str, int]) -> bool:
        return self._stop.is_set() or self._kick.is_set() or self.service.cache_version() != version

    async def _pass(self, version: tuple[str, int]) -> None:
        """One pass over the common answers of this atlas version; abandoned as soon as it changes."""
        self.state, self.done, self.total, self.kept = "warming", 0, 0, 0
        self.started, self.finished = time.perf_counter(), None
        clusters, regions = self._ids()
        paths = warm_paths(clusters, regions)
        self.total = len(paths) * len(ENCODINGS)
        cache = self.service.cache
        evicted = cache.evictions
        for path in paths:
            for encoding in ENCODINGS:
                if not self._wait_for_live(version):
                    return
                if cache.size >= FULL * cache.max_bytes or cache.evictions != evicted:
                    self.state, self.finished = "full", time.perf_counter()
                    return
                status = await self._get(path, encoding)
                self.done += 1
                self.kept += status == 200
                time.sleep(0)  # let the serving threads have the interpreter between answers
        self.state, self.finished = "done", time.perf_counter()

    def _wait_for_live(self, version: tuple[str, int]) -> bool:
        """Wait while live requests are being computed; False when the pass is to be abandoned."""
        while self.service.live_requests > 0:
            if self._changed(version):
                return False
            time.sleep(0.002)
        return not self._changed(version)

    def _ids(self) -> tuple[list[str], list[str]]:
        """The clusters of the latest map run and every region it has results for (the query layer's lists)."""
        from clusteratlas import queries as Q
        from clusteratlas.errors import InputError
        from clusteratlas.queries.regions import mapped_regions

        with self.service.pinned():
            con = self.service.reader()
            try:
                clusters = [str(c) for c in Q.list_clusters(con).table.column("cluster").to_pylist()]
            except InputError:  # nothing mapped yet: nothing to warm
                return [], []
            return clusters, mapped_regions(con)

    async def _get(self, path: str, encoding: bytes) -> int:
        """GET ``path`` through the whole app, as a client with default headers; its status."""
        raw_path, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0),
                 "root_path": "", "path": unquote(raw_path), "raw_path": raw_path.encode(),
                 "query_string": query.encode(), "state": {}, WARM_SCOPE_KEY: True,
                 "headers": [(b"host", b"localhost"), (b"accept", b"*/*"), (b"accept-encoding", encoding),
                             (b"user-agent", b"clusteratlas-warm")]}
        got: dict[str, Any] = {"status": 0}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                got["status"] = message["status"]

        await self.app(scope, receive, send)
        return got["status"]
