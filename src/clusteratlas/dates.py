"""Dates as people write them: ISO, Excel date cells, Japanese eras (和暦) and fiscal years (年度).

One parser for every date field of the project, so that a template, an import
and an API call agree on what a date is. :func:`parse_date` returns a
:class:`ParsedDate`: the ISO text to store and compare (``2024-04-01``,
``2024-04`` or ``2024``), the first and last day it covers, and the text as
written (kept beside the ISO form, so nothing the user wrote is lost).

Accepted (after Unicode NFKC, so full-width digits and letters are fine):

- ISO ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``; also ``YYYY/M/D`` and ``YYYY年M月D日``;
- an Excel date cell, read as ``2024-04-01 00:00:00`` (a time of day other
  than midnight is refused: an assessment date has none), or a
  :class:`datetime.date` / :class:`datetime.datetime`;
- a Japanese era date: ``令和6年4月1日``, ``令和元年5月1日``, ``R6.4.1``,
  ``R6/4/1``, ``H31.4.30``, ``令和6年4月``, ``令和6年``; eras 明治 (M), 大正 (T),
  昭和 (S), 平成 (H), 令和 (R). A date before its era began or on/after the day
  the next era began is refused (平成31年5月1日 does not exist: Reiwa began
  2019-05-01);
- a Japanese fiscal year (April to March): ``2024年度``, ``令和6年度``,
  ``R6年度``, ``FY2024``. It is stored as the day it starts (``2024-04-01``);
  :attr:`ParsedDate.last` is its last day (``2025-03-31``).

Everything else raises :class:`ValueError` with a sentence saying why; callers
turn it into an :class:`~clusteratlas.errors.InputError` naming file, line,
column and value.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

#: Japanese eras since the Meiji restoration: (name, abbreviation, first day). Each ends the day before the next
#: begins. Meiji's first day is the Gregorian date of its proclamation; dates before Japan took up the Gregorian
#: calendar (Meiji 6, 1873) are read as Gregorian too.
ERAS: tuple[tuple[str, str, dt.date], ...] = (
    ("明治", "M", dt.date(1868, 10, 23)),
    ("大正", "T", dt.date(1912, 7, 30)),
    ("昭和", "S", dt.date(1926, 12, 25)),
    ("平成", "H", dt.date(1989, 1, 8)),
    ("令和", "R", dt.date(2019, 5, 1)),
)
#: What the error messages say is accepted.
EXPECTED = ("a date: YYYY-MM-DD (or YYYY-MM, YYYY), an Excel date, 令和6年4月1日 / R6.4.1 (明治 大正 昭和 平成 令和), "
            "or a fiscal year 2024年度 / 令和6年度 / FY2024")

_ERA_NAMES = {name: i for i, (name, _, _) in enumerate(ERAS)} | {abbr: i for i, (_, abbr, _) in enumerate(ERAS)}
_ISO = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_EXCEL = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")
_SLASH = re.compile(r"(\d{4})/(\d{1,2})(?:/(\d{1,2}))?")
_KANJI = re.compile(r"(\d{4})年(?:(\d{1,2})月(?:(\d{1,2})日)?)?")
_ERA_KANJI = re.compile(r"(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})年(?:(\d{1,2})月(?:(\d{1,2})日)?)?")
_ERA_DOTTED = re.compile(r"([MTSHR])(元|\d{1,2})[./-](\d{1,2})(?:[./-](\d{1,2}))?")
_FISCAL = re.compile(r"(?:(\d{4})|(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2}))年度")
_FY = re.compile(r"FY(\d{4})")


@dataclass(frozen=True)
class ParsedDate:
    """A date as stored (``iso``), the days it covers, and the text as written."""

    iso: str
    first: dt.date
    last: dt.date
    text: str
    fiscal_year: bool = False

    def is_future(self, today: dt.date | None = None) -> bool:
        """True when the date (its first day) is after today: allowed, but worth a warning."""
        return self.first > (today or dt.date.today())


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().upper()


def _span(year: int, month: int | None, day: int | None) -> tuple[str, dt.date, dt.date]:
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of range")
    if month is None:
        return f"{year:04d}", dt.date(year, 1, 1), dt.date(year, 12, 31)
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} does not exist")
    days = calendar.monthrange(year, month)[1]
    if day is None:
        return f"{year:04d}-{month:02d}", dt.date(year, month, 1), dt.date(year, month, days)
    if not 1 <= day <= days:
        raise ValueError(f"day {day} does not exist in {year:04d}-{month:02d} (it has {days} days)")
    when = dt.date(year, month, day)
    return when.isoformat(), when, when


def _era_year(era: str, year_text: str) -> tuple[int, int]:
    """(index of the era, Gregorian year) of an era year such as 令和 + 6 or R + 元."""
    index = _ERA_NAMES[era]
    name, _, start = ERAS[index]
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise ValueError(f"{name} has no year {year}")
    return index, start.year + year - 1


#: How many years past the current one the ongoing era is read: plans and targets name years a few ahead
#: (令和12年度 for a programme's goal), a year decades ahead is a typing mistake (令和99年).
ERA_YEARS_AHEAD = 10


def _check_era(index: int, first: dt.date, last: dt.date, written: str, today: dt.date | None = None) -> None:
    """Refuse an era date outside its era: before it began, after the next one began, or, for the era that has
    not ended, in a year it has not reached (令和99年 would be 2117: more than :data:`ERA_YEARS_AHEAD` year(s) ahead
    of today is taken for a typing mistake, not a date)."""
    name, _, start = ERAS[index]
    end = ERAS[index + 1][2] if index + 1 < len(ERAS) else None
    if last < start:
        raise ValueError(f"{written} is before {name} began ({start.isoformat()})")
    if end is not None and first >= end:
        raise ValueError(f"{written} is after {name} ended: {ERAS[index + 1][0]} began {end.isoformat()}")
    if end is None:
        year = (today or dt.date.today()).year
        if first.year > year + ERA_YEARS_AHEAD:
            now = year - start.year + 1
            raise ValueError(f"{written} is {first.year}, years ahead: {name} is in its year {now} ({year})")


def _num(text: str | None) -> int | None:
    return None if text is None else int(text)


def parse_date(value: object) -> ParsedDate:
    """Parse one date as written (see the module's docstring for the forms); raise ValueError saying why not."""
    if isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise ValueError("no date given")
    written = value.strip()
    spaced = _normal(written)
    if m := _EXCEL.fullmatch(spaced):
        hour, minute, second = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
        if (hour, minute, second) != (0, 0, 0):
            raise ValueError(f"a date has no time of day ({hour:02d}:{minute:02d}:{second:02d})")
        iso, first, last = _span(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return ParsedDate(iso, first, last, written)
    text = spaced.replace(" ", "")
    if m := _FISCAL.fullmatch(text):
        if m.group(1):
            year = int(m.group(1))
        else:
            index, year = _era_year(m.group(2), m.group(3))
            _check_era(index, dt.date(year, 1, 1), dt.date(year, 12, 31), written)
        return _fiscal(year, written)
    if m := _FY.fullmatch(text):
        return _fiscal(int(m.group(1)), written)
    for pattern in (_ISO, _SLASH, _KANJI):
        if m := pattern.fullmatch(text):
            iso, first, last = _span(int(m.group(1)), _num(m.group(2)), _num(m.group(3)))
            return ParsedDate(iso, first, last, written)
    for pattern in (_ERA_KANJI, _ERA_DOTTED):
        if m := pattern.fullmatch(text):
            index, year = _era_year(m.group(1), m.group(2))
            iso, first, last = _span(year, _num(m.group(3)), _num(m.group(4)))
            _check_era(index, first, last, written)
            return ParsedDate(iso, first, last, written)
    raise ValueError("not a date")


def _fiscal(year: int, written: str) -> ParsedDate:
    """The Japanese fiscal year ``year``: 1 April ``year`` to 31 March of the next, stored as its first day."""
    if not 1 <= year < 9999:
        raise ValueError(f"year {year} is out of range")
    first = dt.date(year, 4, 1)
    return ParsedDate(first.isoformat(), first, dt.date(year + 1, 3, 31), written, fiscal_year=True)


#: What the error messages say is accepted where a year is wanted.
YEAR_EXPECTED = "a year: 2007, 2007年, 平成19年 / H19, a fiscal year 2007年度 / 平成19年度 / FY2007, or an Excel date"
_ERA_YEAR = re.compile(r"(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})年?")


def parse_year(value: object) -> int:
    """A year as people write it, as the calendar (or fiscal-starting) year; raise ValueError saying why not.

    ``2007``, ``"2007"``, ``2007.0``, ``2007年``, ``平成19年``, ``H19``, ``平成19年度`` / ``FY2007`` (the fiscal year
    *starting* in April 2007, labelled 2007 as Japanese statistics label it), an Excel date cell or a full date
    (its year). Registry start years written ``平成19年度`` thus become 2007, and :func:`format_year` shows them
    again as the source wrote them.
    """
    if isinstance(value, bool):
        raise ValueError("not a year")
    if isinstance(value, int | float):
        if value != value or int(value) != value:
            raise ValueError("not a whole year")
        return int(value)
    if isinstance(value, dt.date):
        return value.year
    if not isinstance(value, str) or not value.strip():
        raise ValueError("no year given")
    text = _normal(value.strip()).replace(" ", "")
    if re.fullmatch(r"\d{1,4}(?:\.0+)?", text):
        return int(float(text))
    if m := re.fullmatch(r"(\d{4})年", text):
        return int(m.group(1))
    if m := _ERA_YEAR.fullmatch(text):
        index, year = _era_year(m.group(1), m.group(2))
        _check_era(index, dt.date(year, 1, 1), dt.date(year, 12, 31), value.strip())
        return year
    try:
        return parse_date(value).first.year
    except ValueError as exc:  # a date that is wrong says why (令和99年度 is years ahead); other text is no year
        raise ValueError("not a year" if str(exc) == "not a date" else str(exc)) from None


def era_year(year: int) -> str:
    """The Japanese era year of a calendar year, as printed on official tables: 2007 -> 平成19年, 2019 -> 令和元年.

    A year in which the era changed is named by the era that began in it (2019 -> 令和元年, 1989 -> 平成元年),
    as Japanese statistics do for the year as a whole.
    """
    for name, _abbr, first in reversed(ERAS):
        if year >= first.year:
            n = year - first.year + 1
            return f"{name}{'元' if n == 1 else n}年"
    raise ValueError(f"year {year} is before the Meiji era")


def format_year(year: int | None, style: str = "year", *, fiscal: bool = False) -> str:
    """A year for display: ``year`` (2007), ``era`` (平成19年), or with ``fiscal`` 2007年度 / 平成19年度."""
    if year is None:
        return ""
    if style == "era":
        text = era_year(int(year))
        return text[:-1] + "年度" if fiscal else text
    if style != "year":
        raise ValueError(f"unknown year style {style!r}")
    return f"{int(year)}年度" if fiscal else str(int(year))


def format_date(iso: str | None, style: str = "iso") -> str:
    """A stored ISO date for display: ``iso`` as stored, or ``era``: 2024-04-01 -> 令和6年4月1日, 2024 -> 令和6年."""
    if not iso or style == "iso":
        return iso or ""
    if style != "era":
        raise ValueError(f"unknown date style {style!r}")
    parts = [int(p) for p in str(iso).split("-")]
    day = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    for name, _abbr, first in reversed(ERAS):
        if day >= first or (len(parts) == 1 and day.year >= first.year):
            n = day.year - first.year + 1
            text = f"{name}{'元' if n == 1 else n}年"
            if len(parts) > 1:
                text += f"{parts[1]}月"
            if len(parts) > 2:
                text += f"{parts[2]}日"
            return text
    return str(iso)
