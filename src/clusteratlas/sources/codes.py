"""The one rule for codes (region, industry, cluster … ids) wherever they enter the atlas.

A code is read after Unicode NFKC normalisation (full-width ``Ｓ１`` is
``S1``) and trimming of surrounding white space, and refused when it holds a
character of the Unicode categories Cc (control: ESC, BEL …), Cf (format: the
right-to-left mark, zero-width space …), Cs (surrogate), Co (private use), Zl
or Zp (line and paragraph separators), or when it is longer than
:data:`CODE_MAX_LENGTH` characters (:data:`NAME_CODE_MAX_LENGTH` for
cluster and subcluster, which may be names). Such characters are invisible,
so an id that holds one looks like another and would make a second region
beside it; and no real code is long: NUTS (5), FIPS (5), CBSA (5), NAICS
(6), JSIC (4), e-Stat area codes (5) and the CMP cluster names (at most 51,
subcluster names 114) all fit.

The rule is applied in SQL by the staging of :mod:`clusteratlas.sources.generic`
(:func:`register_code_function`, :func:`code_sql`, :func:`bad_code_sql`) and
in Python by :func:`normalise_codes` / :func:`code_problem`; both use the
same Arrow kernels and the same regular expression, defined here once.
"""

from __future__ import annotations

import unicodedata

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from clusteratlas.i18n import _

#: Longest code accepted (characters, after normalisation).
CODE_MAX_LENGTH = 64
#: Longest cluster or subcluster accepted: these may be names (the longest CMP subcluster name has 114).
NAME_CODE_MAX_LENGTH = 128
#: Unicode categories a code may not contain.
FORBIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
_CATEGORY_NAMES = {"Cc": "a control character", "Cf": "an invisible format character",
                   "Cs": "a surrogate", "Co": "a private-use character", "Zl": "a line separator",
                   "Zp": "a paragraph separator"}
#: The same, as an RE2 class (DuckDB and Arrow both use RE2).
FORBIDDEN_PATTERN = "[" + "".join(f"\\p{{{c}}}" for c in FORBIDDEN_CATEGORIES) + "]"
#: Name of the SQL function :func:`register_code_function` adds to a connection.
SQL_FUNCTION = "clusteratlas_code"

RULE = ("a code of at most {n} characters without control, format, surrogate, private-use or line/paragraph "
        "separator characters (Unicode " + ", ".join(FORBIDDEN_CATEGORIES) + "), read after NFKC "
        "normalisation and trimming")


def normalise_codes(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """NFKC-normalise and trim a string array (nulls stay null). The definition of a code's normal form."""
    return pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFKC"))


def normalise_code(value: str) -> str:
    """One code in normal form (see :func:`normalise_codes`)."""
    return normalise_codes(pa.array([value], pa.string()))[0].as_py()


def code_problem(code: str, max_length: int = CODE_MAX_LENGTH) -> str | None:
    """What is wrong with a normalised code, or None when it is acceptable."""
    if pc.match_substring_regex(pa.array([code]), FORBIDDEN_PATTERN)[0].as_py():
        bad = next(ch for ch in code if unicodedata.category(ch) in FORBIDDEN_CATEGORIES)
        name = unicodedata.name(bad, "")
        kind = _CATEGORY_NAMES[unicodedata.category(bad)]
        return _("the code holds U+{point:04X}{name}, {kind}").format(point=ord(bad), name=" " + name if name else "",
                                                                    kind=_(kind))
    if len(code) > max_length:
        return _("the code is {n:,} characters long").format(n=len(code))
    return None


def visible(text: str) -> str:
    """``text`` with every character of :data:`FORBIDDEN_CATEGORIES` written as ``<U+XXXX>``, for display.

    Names, unlike codes, are not refused for such characters (real names hold soft hyphens and zero-width
    joiners), but where they are shown to people a right-to-left override or a zero-width space would make a
    name read as another (``Sample\u202etxt.exe`` shows as ``Sampleexe.txt``): the web pages and the HTML report
    show them as visible escapes instead. Printable text (almost every name) is returned as it is.
    """
    if text.isprintable():
        return text
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in FORBIDDEN_CATEGORIES else ch for ch in text)


def shown(code: str, limit: int = 40) -> str:
    """A code cut to ``limit`` characters for a message (its repr shows the escaped characters)."""
    return code if len(code) <= limit else code[:limit] + "…"


def register_code_function(con: duckdb.DuckDBPyConnection) -> None:
    """Add the SQL function ``clusteratlas_code(text)`` (:func:`normalise_codes`) to a connection, once."""
    try:
        con.create_function(SQL_FUNCTION, lambda values: normalise_codes(values), [duckdb.sqltype("VARCHAR")],
                            duckdb.sqltype("VARCHAR"), type="arrow", side_effects=False)
    except duckdb.NotImplementedException as exc:  # already there
        if "already created" not in str(exc):
            raise


def code_sql(expr: str) -> str:
    """SQL for the normal form of a code; printable ASCII (already normal but for blanks) skips the UDF."""
    return (f"CASE WHEN regexp_full_match({expr}, '[ -~]*') THEN trim({expr}) "
            f"ELSE {SQL_FUNCTION}({expr}) END")


def bad_code_sql(expr: str, max_length: int = CODE_MAX_LENGTH) -> str:
    """SQL that is true for a normalised code the rule refuses."""
    return f"(regexp_matches({expr}, '{FORBIDDEN_PATTERN}') OR length({expr}) > {max_length})"
