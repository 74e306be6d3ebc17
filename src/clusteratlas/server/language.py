"""The language of a request: ``?lang=`` first, else the language cookie, else English.

One rule for every layer that speaks to the visitor: the answer cache and the query layer's messages, the guard's
refusals and the pages all ask :func:`language`.
"""

from __future__ import annotations

from starlette.requests import Request

from clusteratlas import i18n

#: The cookie that remembers a language chosen with ``?lang=``.
LANG_COOKIE = "clusteratlas_lang"


def language(request: Request) -> str:
    """``?lang=`` first (then remembered in a cookie), else the cookie, else English."""
    asked = i18n.normalise(request.query_params.get("lang"))
    if asked in i18n.LANGUAGES:
        return asked
    kept = i18n.normalise(request.cookies.get(LANG_COOKIE))
    return kept if kept in i18n.LANGUAGES else "en"
