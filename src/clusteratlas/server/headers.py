"""Security headers on every answer: a Content-Security-Policy, no MIME sniffing, no framing, a referrer policy.

The pages run no inline script (each page names its drawing in ``<body data-page>`` and ``app.js`` draws it),
so the policy allows scripts from this server only: a name that slipped through escaping could still not run.
Style attributes are allowed (ECharts writes its tooltips with them) but style sheets come from this server
only. The Swagger UI at ``/api/docs`` has one inline script, allowed by a nonce made for each answer
(:func:`docs_policy`). Every answer also says ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (the
evaluations page with its token field cannot be framed), ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

from typing import Any

#: The policy of every answer but the API docs.
PAGE_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",  # ECharts' tooltips: style attributes, never a style sheet or a script
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",  # the map shapes (/api/v1/geometry) and the upload form
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
#: Headers every answer carries (an answer that sets one itself keeps its own).
HEADERS: dict[str, str] = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
#: :data:`HEADERS` as ASGI (and raw HTTP) header pairs.
RAW_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in HEADERS.items()]


def docs_policy(nonce: str) -> str:
    """The policy of the Swagger UI page: its inline start-up script by ``nonce``; Swagger writes inline styles."""
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])


class SecurityHeadersMiddleware:
    """Adds :data:`HEADERS` to every HTTP answer that does not set them itself (pages, API, static files,
    cached answers and the guard's refusals alike)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in RAW_HEADERS if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
