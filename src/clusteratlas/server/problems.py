"""Errors as RFC 9457 problem documents, in the request's language: no input produces a stack trace.

:func:`problem` writes one; the handlers below turn each kind of error (a bad parameter, an unknown id, a
refused token, a read-only atlas, a failed query, anything else) into one. The application registers them
(:func:`clusteratlas.server.app.create_app`); the pages replace some with HTML pages outside ``/api/``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import duckdb
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from clusteratlas import i18n
from clusteratlas.errors import InputError
from clusteratlas.i18n import _N, _
from clusteratlas.queries._core import Missing, NotFound
from clusteratlas.server.auth import AuthError
from clusteratlas.server.contract import PROBLEM
from clusteratlas.server.formats import dumps
from clusteratlas.server.headers import HEADERS
from clusteratlas.server.service import ReadOnly
from clusteratlas.sources.limits import LimitError

log = logging.getLogger("clusteratlas.server")


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


def input_error(request: Request, exc: InputError) -> Response:
    """404 for an unknown id (with close matches) or a thing not computed yet, 413 for a limit, else 422."""
    if isinstance(exc, NotFound):
        return problem(404, _N("Not found"), str(exc), request, did_you_mean=exc.close_matches)
    if isinstance(exc, Missing):
        return problem(404, _N("Not computed yet"), str(exc), request)
    if isinstance(exc, LimitError):
        return problem(413, _N("Upload over a limit"), str(exc), request, expected=exc.expected)
    return problem(422, _N("Bad parameter"), str(exc), request, expected=exc.expected)


#: What pydantic's error types for a query or path parameter mean, as catalogue messages (the error's context
#: fills the braces), so that a 422 reads in the request's language; another type keeps pydantic's English.
_VALIDATION = {
    "missing": _N("a value is required"),
    "int_parsing": _N("must be a whole number"),
    "int_from_float": _N("must be a whole number"),
    "float_parsing": _N("must be a number"),
    "finite_number": _N("must be a finite number"),
    "bool_parsing": _N("must be true or false"),
    "greater_than_equal": _N("must be at least {ge}"),
    "greater_than": _N("must be more than {gt}"),
    "less_than_equal": _N("must be at most {le}"),
    "less_than": _N("must be less than {lt}"),
    "string_too_long": _N("must be at most {max_length} characters long"),
    "string_too_short": _N("must be at least {min_length} characters long"),
    "string_pattern_mismatch": _N("does not have the expected form ({pattern})"),
    "literal_error": _N("must be one of {expected}"),
    "enum": _N("must be one of {expected}"),
}


def _validation_message(error: dict[str, Any]) -> str:
    """One refused parameter's reason in the request's language (pydantic's own message for a type not
    in :data:`_VALIDATION`)."""
    template = _VALIDATION.get(str(error.get("type", "")))
    if template is not None:
        try:
            context = {k: re.sub(r"\s+or\s+", ", ", v) if k == "expected" and isinstance(v, str) else v
                       for k, v in (error.get("ctx") or {}).items()}  # pydantic's "'a', 'b' or 'c'": a list
            return _(template).format(**context)
        except (KeyError, IndexError, ValueError):
            pass
    return str(error.get("msg", ""))


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each parameter FastAPI refused and why, in the request's language."""
    errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": _validation_message(e)[:300],
               "type": str(e.get("type", ""))} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in errors)[:1000]
    return problem(422, _N("Bad parameter"), detail, request, errors=errors)


def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An HTTP error (unknown path, wrong method…) as a problem document; a 405 says which methods are allowed."""
    titles = {404: _N("Not found"), 405: _N("Method not allowed"), 413: _N("Request body too large"),
              401: _N("Unauthorized"), 403: _N("Forbidden"), 400: _N("Bad request"), 503: _N("Unavailable")}
    response = problem(exc.status_code, titles.get(exc.status_code, _N("Error")), str(exc.detail), request)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # every method the schema documents for the path (RFC 9110)
        for template, ops in request.app.openapi()["paths"].items():
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
                response.headers["Allow"] = ", ".join(sorted(m.upper() for m in ops))
                break
    return response


def duckdb_error(request: Request, exc: duckdb.Error) -> Response:
    """422 for a value out of the data's range, else 500 (logged, never shown)."""
    if isinstance(exc, duckdb.ConversionException | duckdb.OutOfRangeException | duckdb.InvalidInputException):
        return problem(422, _N("Bad parameter"), _N("a parameter is out of range for the data"), request)
    log.exception("query failed", exc_info=exc)
    return problem(500, _N("Internal error"), _N("the query failed; the server log has the details"), request)


def auth_error(request: Request, exc: AuthError) -> Response:
    """401 (no valid token) or 403 (a role too low)."""
    return problem(exc.status, _N("Unauthorized") if exc.status == 401 else _N("Forbidden"), exc.detail, request)


def read_only_error(request: Request, exc: ReadOnly) -> Response:
    """503 for a write to an atlas served read-only."""
    return problem(503, _N("Read-only"), _N("this server serves the atlas read-only (--read-only); serve it without "
                                            "--read-only to accept writes"), request)


def any_error(request: Request, exc: Exception) -> Response:
    """500 for anything else (logged, never shown)."""
    log.exception("unexpected error", exc_info=exc)
    return problem(500, _N("Internal error"), _N("the server log has the details"), request)
