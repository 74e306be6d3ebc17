"""Limits of the served port: how long a request may take to arrive, how many connections are served at once.

Uvicorn closes a keep-alive connection that stays idle, but it waits for ever for a request that arrives
slowly: a client that sends its headers or its body a byte at a time holds a connection, and a few hundred of
them hold the server's sockets (issue 20). :class:`TimedH11Protocol` (uvicorn's h11 protocol with two timers)
answers ``408 Request Timeout`` and closes the connection when

- the request line and headers have not all arrived ``header_timeout`` seconds after the connection was made
  (or after the first byte of the next request on a kept-alive connection), or
- the body has not all arrived ``body_timeout`` seconds after its headers.

:class:`ServerLimits` holds these with uvicorn's own limits (the keep-alive time, the largest request head,
the connections served at once: above it the protocol answers 503) and turns them into ``uvicorn.run`` options;
``clusteratlas serve`` takes each as an option. On the open internet, put a reverse proxy in front as well
(docs/security.md): it buffers slow clients and terminates TLS.

Who the client is: uvicorn by default believes ``X-Forwarded-For`` from 127.0.0.1, so any local process
could name any client address and escape the per-address throttle of failed token checks and the rate
limit. :class:`ServerLimits` turns forwarded headers off unless the proxies to believe are named
(``serve --forwarded-allow-ips``, checked by :func:`trusted_proxies`).

The answers the protocol writes itself, before the app and its middleware are reached (400 for a request h11
cannot read, 408, 503 over the connection limit), are problem documents with the security headers of
:mod:`clusteratlas.server.headers`, like every other answer (uvicorn's own 400 and 503 are plain English
text): the 503 and a body's 408 in the request's language, the 400 and a head's 408 in every language, since no
language could be read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import h11
from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from clusteratlas import i18n
from clusteratlas.i18n import _
from clusteratlas.server.headers import RAW_HEADERS
from clusteratlas.server.language import language

log = logging.getLogger("clusteratlas.server")


@dataclass(frozen=True)
class ServerLimits:
    """How long a request may take to arrive and how many connections are served at once.

    The defaults are ``clusteratlas serve``'s: 10 s for the headers, 60 s for a body, 5 s of keep-alive,
    500 connections, 64 KiB of request head.

    Attributes
    ----------
    header_timeout
        Seconds for a request's line and headers to arrive.
    body_timeout
        Seconds for a request's body to arrive, from the end of its headers (a 20 MB upload at 1 MB/s takes 20).
    keep_alive
        Seconds an idle connection is kept open between two requests.
    max_connections
        Connections served at once; a request on a connection beyond it is answered 503.
    max_header_kb
        Largest request line and headers, in KiB (the URL limit of the guard is 32 KiB).
    forwarded_allow_ips
        The reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (addresses or
        networks, comma-separated); None: no one's, the client is the address that connected.
    """

    header_timeout: float
    body_timeout: float
    keep_alive: float
    max_connections: int
    max_header_kb: int
    forwarded_allow_ips: str | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (picklable: ``--workers N`` sends them)."""
        return {"http": partial(TimedH11Protocol, header_timeout=self.header_timeout, body_timeout=self.body_timeout),
                "timeout_keep_alive": self.keep_alive, "limit_concurrency": self.max_connections,
                "h11_max_incomplete_event_size": self.max_header_kb * 1024,
                "proxy_headers": self.forwarded_allow_ips is not None,
                "forwarded_allow_ips": self.forwarded_allow_ips}


def trusted_proxies(value: str) -> str:
    """``serve --forwarded-allow-ips``: IP addresses or networks separated by commas, normalised.

    Parameters
    ----------
    value
        For example ``127.0.0.1`` or ``10.0.0.5, 10.1.0.0/16``.

    Returns
    -------
    str
        The addresses and networks, comma-separated without blanks (as uvicorn takes them).

    Raises
    ------
    InputError
        An item is neither an address nor a network. Uvicorn would take it as a name that never matches and
        silently believe no one; ``*`` (everyone) would let any client name any address.
    """
    from clusteratlas.errors import InputError
    from clusteratlas.i18n import _

    items = [item.strip() for item in value.split(",")]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            raise InputError(_("--forwarded-allow-ips: not an IP address or network"), value=item,
                             expected=_("the reverse proxy's addresses or networks, separated by commas (e.g. "
                                        "127.0.0.1 or 10.0.0.0/24)")) from None
    return ",".join(items)


def _problem(status: int, title: str, detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of an answer the protocol writes itself, before (or instead of) the app and its
    middleware: a problem document with the security headers every answer carries; the connection is closed."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail},
                      ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close"),
               (b"content-length", str(len(body)).encode()), *RAW_HEADERS]
    return headers, body


def _every_language(message: str) -> str:
    """``message`` in every language, " / " between: for an answer written before any request could be read,
    so before its language is known (``?lang=`` or the cookie)."""
    texts = []
    for lang in i18n.LANGUAGES:
        with i18n.language_for(lang):
            texts.append(_(message))
    return " / ".join(dict.fromkeys(texts))


@cache
def _timeout_answer(lang: str | None) -> bytes:
    """The 408, in ``lang``; None (the request's head never arrived, so no language is known): in every one."""
    def text(message: str) -> str:
        if lang is None:
            return _every_language(message)
        with i18n.language_for(lang):
            return _(message)

    headers, body = _problem(408, text("Request timeout"),
                             text("the request did not arrive in time; the connection is closed"))
    return (b"HTTP/1.1 408 Request Timeout\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"
            + body)


BAD_REQUEST = _problem(400, _every_language("Bad request"), _every_language(
    "the request is not valid HTTP/1.1, or its line and headers are too long"))


@cache
def _busy_answer(lang: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    with i18n.language_for(lang):
        return _problem(503, _("Unavailable"),
                        _("the server is serving as many connections as it may; try again shortly"))


async def _busy(scope: dict, receive: Any, send: Any) -> None:
    """The answer over the connection limit, in the request's language (uvicorn's own is plain English text
    with no security headers)."""
    headers, body = _busy_answer(language(Request(scope)))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TimedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a deadline for a request's headers and one for its body (see the module)."""

    def __init__(self, *args: Any, header_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = {"headers": header_timeout, "body": body_timeout}
        self._waiting: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        # the connection limit answered here, with the security headers, instead of by uvicorn's plain 503
        self._most, self.limit_concurrency = self.limit_concurrency, None
        self.app = partial(self._unless_busy, self.app)

    async def _unless_busy(self, app: Any, scope: dict, receive: Any, send: Any) -> None:
        """``app``, or 503 past the connection limit (uvicorn's test, made as this request's task runs)."""
        if self._most is not None and (len(self.connections) >= self._most or len(self.tasks) > self._most):
            log.warning("over the connection limit (%s); answered 503", self._most)
            await _busy(scope, receive, send)
        else:
            await app(scope, receive, send)

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot read (malformed, or its head over ``max_header_kb``): 400, security headers."""
        headers, body = BAD_REQUEST
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body),
                      h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait("headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._wait(None)
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Arm the timer the request's state needs: part of a request head, a body on its way, or none."""
        if self.transport.is_closing():
            self._wait(None)
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._wait("body")
        elif state is h11.IDLE and self.conn.trailing_data[0]:  # the start of a request, not all of its head
            self._wait("headers")
        else:  # a whole request (the app answers it) or an idle kept-alive connection (uvicorn's own timer)
            self._wait(None)

    def _wait(self, what: str | None) -> None:
        """Wait for ``what`` (headers, body) from now on, unless already waiting for it; None: wait for nothing."""
        if what == self._waiting:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._waiting, self._timer = what, None
        if what is not None:
            self._timer = self.loop.call_later(self._limits[what], self._expired)

    def _expired(self) -> None:
        what, self._waiting, self._timer = self._waiting, None, None
        if self.transport.is_closing():
            return
        log.info("%s: the request's %s did not arrive within %s s; connection closed",
                 self.client[0] if self.client else "?", what, self._limits[what or "headers"])
        if what == "headers" or self.cycle is None or not self.cycle.response_started:
            # a body that did not arrive follows its request's language; a head that did not, every language
            scope = getattr(self, "scope", None) if what == "body" else None
            self.transport.write(_timeout_answer(language(Request(scope)) if scope else None))
        self.transport.close()
