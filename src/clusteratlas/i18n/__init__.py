"""The language of output: English (default) or Japanese, with gettext message catalogues.

The catalogues are standard gettext files, ``locales/<lang>/LC_MESSAGES/clusteratlas.po``
compiled to ``.mo`` with Babel (``python -m clusteratlas.i18n.compile``; a test checks the ``.mo`` is
current), so the web pages can use the same catalogue through Jinja2's i18n extension
(``env.install_gettext_translations(clusteratlas.i18n.translations("ja"))``).

The language is chosen, first match wins, by ``--lang``, the ``CLUSTERATLAS_LANG``
environment variable, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``ja_JP.UTF-8``
means Japanese). It decides the CLI's help and messages, table headers and which name of a
region, cluster or industry is shown (English by default; Japanese only on request).
"""

from __future__ import annotations

import gettext
import itertools
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources

from rich.cells import cell_len

LANGUAGES = ("en", "ja")
DOMAIN = "clusteratlas"
_state = {"lang": "en"}
#: Called with (language, msgid) for every message the catalogue lacks (tests use it to find untranslated text).
MISS_HOOKS: list[Callable[[str, str], None]] = []


def normalise(lang: str | None) -> str | None:
    """``ja``, ``ja_JP.UTF-8``, ``JA`` -> ``ja``; ``C``/``POSIX``/``en_US`` -> ``en``; nothing -> None."""
    if not lang:
        return None
    code = lang.strip().split(".")[0].split("_")[0].split("-")[0].lower()
    if code in LANGUAGES:
        return code
    return "en" if code in ("c", "posix") or code.isalpha() else None


def detect(argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> str:
    """The language asked for: ``--lang X`` / ``--lang=X`` in argv, ``CLUSTERATLAS_LANG``, then the locale."""
    environ = os.environ if environ is None else environ
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return check(argv[i + 1])
        if arg.startswith("--lang="):
            return check(arg.split("=", 1)[1])
    if environ.get("CLUSTERATLAS_LANG"):
        return check(environ["CLUSTERATLAS_LANG"])
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        found = normalise(environ.get(var))
        if found:
            return found
    return "en"


def check(lang: str) -> str:
    """A supported language code, or a clear error."""
    from clusteratlas.errors import InputError

    found = (lang or "").strip().split(".")[0].split("_")[0].split("-")[0].lower()
    if found not in LANGUAGES:
        raise InputError(_("unsupported language"), value=lang, expected=", ".join(LANGUAGES))
    return found


#: Called with the language whenever it is set (the CLI puts Typer's module-level panel words into it).
LANGUAGE_LISTENERS: list[Callable[[str], None]] = []


def set_language(lang: str) -> None:
    _state["lang"] = check(lang)
    for listener in LANGUAGE_LISTENERS:
        listener(_state["lang"])


#: A language for this task or thread only (a server answers each request in the language it asks for).
_local_lang: ContextVar[str | None] = ContextVar("clusteratlas_language", default=None)


def get_language() -> str:
    return _local_lang.get() or _state["lang"]


@contextmanager
def language_for(lang: str) -> Iterator[None]:
    """Messages in ``lang`` within the block, in this task or thread only (and threads it starts with its
    context, as anyio's ``to_thread`` does); the process's language is unchanged."""
    token = _local_lang.set(check(lang))
    try:
        yield
    finally:
        _local_lang.reset(token)


@cache
def translations(lang: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The catalogue of one language and domain (English: no catalogue, the source text).

    ``domain`` is the catalogue's file name: ``clusteratlas`` (the CLI's help, messages and table headers)
    or another one kept beside it in ``locales/<lang>/LC_MESSAGES/`` (e.g. the web pages' own strings).
    """
    if lang == "en":
        return gettext.NullTranslations()
    with resources.as_file(resources.files("clusteratlas.i18n").joinpath("locales")) as folder:
        return gettext.translation(domain, localedir=str(folder), languages=[lang])


def has(msgid: str, lang: str | None = None) -> bool:
    """Whether the catalogue of ``lang`` (default: the current language) translates ``msgid``."""
    lang = lang or get_language()
    return lang == "en" or msgid in getattr(translations(lang), "_catalog", {})


def _(msgid: str) -> str:
    """``msgid`` in the current language (the English source text when the catalogue lacks it)."""
    lang = get_language()
    if lang == "en" or not msgid:
        return msgid
    if not has(msgid, lang):
        for hook in MISS_HOOKS:
            hook(lang, msgid)
        return msgid
    return translations(lang).gettext(msgid)


def _N(message: str) -> str:
    """``message`` unchanged: marks a catalogue message kept in a constant and translated (with :func:`_`)
    where it is shown."""
    return message


def listing(items: Sequence[str], most: int, total: int | None = None) -> str:
    """The first ``most`` of ``items`` joined in the current language, and how many of ``total`` (default: all
    the items) are left out: "A, B and 3 more", 「A、B、ほか 3 件」."""
    total = len(items) if total is None else total
    rest = total - min(len(items), most)
    return _(", ").join(items[:most]) + (_(" and {n:,} more").format(n=rest) if rest > 0 else "")


def name(en: str | None, ja: str | None) -> str | None:
    """The name in the current language, else the other one (a name is better than a bare code)."""
    first, second = (ja, en) if get_language() == "ja" else (en, ja)
    return first or second or None


# ------------------------------------------------------------------ line breaking
#: A run of printable ASCII (a number, a code, an option name, an English word) is never broken, nor is an en dash
#: inside one (a span of years, 2015–2020); any other character (a kanji, a kana) may end a line, except before
#: closing and after opening punctuation (kinsoku).
_UNIT = re.compile(r"[!-~](?:[!-~]|–(?=[!-~]))*|[ \t]+|.", re.S)
_NO_START = set("、。，．・：；？！）」』】〕｝〉》ー々ゝゞぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…‥")
_NO_END = set("（「『【〔｛〈《")


def line_breaks(text: str, width: int) -> list[int]:
    """Where to break ``text`` (one paragraph) into lines of at most ``width`` terminal cells.

    Rich wraps at spaces and folds a longer "word" anywhere, and a Japanese sentence is one long word: it
    would be cut inside a number or an option name (``--min`` / ``-employment``). Here a line may end between
    two Japanese characters or at a space between two ASCII runs, never inside a run of ASCII nor at the space
    between a number and its Japanese unit (``2014 年``); a run longer than a line is folded.
    """
    units: list[str] = []
    for m in _UNIT.finditer(text):
        u = m.group(0)
        glued = (len(units) >= 2 and units[-1].isspace() and not u.isspace()
                 and u[0].isascii() != units[-2][-1].isascii())  # the characters either side of the space
        if glued:  # a number and its unit (2014 年, 郡 36): the space between ASCII and Japanese does not break
            space = units.pop()
            units[-1] += space + u
        elif units and (u[0] in _NO_START or units[-1][-1] in _NO_END) and not u.isspace() \
                and not units[-1].isspace():
            units[-1] += u
        else:
            units.append(u)
    offsets, pos, used = [], 0, 0
    for u in units:
        w = cell_len(u)
        if u.isspace():
            pos += len(u)
            used += w
            continue
        if used and used + w > width:  # break before this unit (the spaces before it end the line, and are dropped)
            offsets.append(pos)
            used = 0
        while w > width:  # a unit wider than a line: fold it
            cut, cells = 0, 0
            while cut < len(u) and cells + cell_len(u[cut]) <= width:
                cells += cell_len(u[cut])
                cut += 1
            cut = max(cut, 1)
            pos += cut
            offsets.append(pos)
            u, w = u[cut:], cell_len(u[cut:])
        pos += len(u)
        used += w
    return [o for o in offsets if 0 < o < len(text)]




def wrap(text: str, width: int) -> list[str]:
    """``text`` (one paragraph) as lines of at most ``width`` cells, broken where :func:`line_breaks` says."""
    cuts = [0, *line_breaks(text, width), len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(cuts) if text[a:b].strip()]
