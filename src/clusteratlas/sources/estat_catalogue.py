"""Find an e-Stat table of a survey (getStatsList) instead of knowing its statsDataId.

The e-Stat API (version 3.0) lists the tables of a government statistic with ``getStatsList``
(``statsCode`` = the 8-digit government statistics code, ``surveyYears`` = ``yyyy``); its JSON answer
is ``GET_STATS_LIST`` → ``RESULT`` (``STATUS`` 0 = normal, 1 = nothing found, 2 = normal with some
parameters corrected, 100 and above = an error, with ``ERROR_MSG``) and ``DATALIST_INF`` → ``TABLE_INF``
(one object, or a list): each table with ``@id`` (its statsDataId), ``STAT_NAME``, ``STATISTICS_NAME``,
``TITLE`` (text, or ``{"@no", "$"}``), ``SURVEY_DATE`` (``yyyymm``), ``COLLECT_AREA`` and ``TITLE_SPEC``.

Surveys known here (government statistics codes as e-Stat lists them):

- ``economic-census-activity``: 経済センサス‐活動調査 (Economic Census for Business Activity), statsCode
  ``00200553``; conducted 2012, 2016 and 2021 (JSIC Rev. 13 in 2016 and 2021).

The statsDataIds of its tables are not fixed here (none could be checked against e-Stat's own listing):
e-Stat publishes many tables per round, and which one is "employees by prefecture × JSIC" is a matter of
reading titles. So
:func:`choose_table` ranks the listed tables by their titles: establishment tables (事業所に関する集計, not
the enterprise tables, which count jobs where the head office is) of employees (従業者数) by industry
(産業), at the area wanted (都道府県 / 市区町村), the finest industry level first (小分類, then 中分類,
then 大分類). The chosen table and the runners-up are printed with their ids, so a user can pass
``--table ID`` to take another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

#: Surveys that ``fetch estat --survey`` can search: name -> (statsCode, Japanese name, survey years).
SURVEYS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "economic-census-activity": ("00200553", "経済センサス‐活動調査", (2012, 2016, 2021)),
}
#: The words an area level is named by in e-Stat titles.
AREAS = {"prefecture": "都道府県", "municipality": "市区町村"}
_DETAIL = (("小分類", 3), ("中分類", 2), ("大分類", 1))


@dataclass(frozen=True)
class Table:
    """One table of a getStatsList answer."""

    id: str
    title: str
    statistics_name: str
    survey_date: str
    collect_area: str

    def describe(self) -> str:
        return f"{self.id}: {self.title} ({self.statistics_name}; {self.survey_date})"


def stats_list_url(root: str, *, app_id: str, survey: str, year: int) -> str:
    """The getStatsList request for the tables of ``survey`` in ``year``."""
    code, _name, years = _survey(survey)
    if year not in years:
        raise InputError(_("no {survey} in {year}").format(survey=survey, year=year), value=year,
                         expected=", ".join(map(str, years)))
    return f"{root}/getStatsList?appId={app_id}&lang=J&statsCode={code}&surveyYears={year}&limit=10000"


def _survey(survey: str) -> tuple[str, str, tuple[int, ...]]:
    if survey not in SURVEYS:
        raise InputError(_("unknown e-Stat survey"), value=survey, expected=", ".join(SURVEYS))
    return SURVEYS[survey]


def _text(value: object) -> str:
    """An e-Stat field: plain text, or an object with the text under ``$``."""
    if isinstance(value, dict):
        return str(value.get("$", ""))
    return "" if value is None else str(value)


def read_stats_list(path: str | Path) -> list[Table]:
    """The tables of a getStatsList JSON answer; an InputError for an e-Stat error or a wrong shape."""
    label = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(_("not a getStatsList JSON answer: {exc}").format(exc=exc), file=label) from None
    root = doc.get("GET_STATS_LIST") if isinstance(doc, dict) else None
    if not isinstance(root, dict) or not isinstance(root.get("RESULT"), dict):
        raise InputError(_("not a getStatsList JSON answer (no GET_STATS_LIST.RESULT)"), file=label)
    status = root["RESULT"].get("STATUS")
    message = root["RESULT"].get("ERROR_MSG", "")
    try:
        status = int(status)
    except (TypeError, ValueError):
        raise InputError(_("e-Stat answered without a status"), file=label, value=status) from None
    if status == 1:
        return []
    if status not in (0, 2):
        raise InputError(_("e-Stat refused the request: {message}").format(message=message), file=label, value=status,
                         hint=_("check --app-id and the year"))
    tables = (root.get("DATALIST_INF") or {}).get("TABLE_INF") or []
    if isinstance(tables, dict):
        tables = [tables]
    out = []
    for entry in tables:
        if not isinstance(entry, dict) or not entry.get("@id"):
            raise InputError(_("a getStatsList table without an @id"), file=label)
        spec = entry.get("TITLE_SPEC") if isinstance(entry.get("TITLE_SPEC"), dict) else {}
        out.append(Table(id=str(entry["@id"]), title=_text(entry.get("TITLE")) or _text(spec.get("TABLE_NAME")),
                         statistics_name=_text(entry.get("STATISTICS_NAME")),
                         survey_date=_text(entry.get("SURVEY_DATE")), collect_area=_text(entry.get("COLLECT_AREA"))))
    return out


def _score(table: Table, area: str) -> tuple[int, ...] | None:
    """How well a table fits "employees by area × industry" (higher is better); None when it does not."""
    text = f"{table.title} {table.statistics_name}"
    if "従業者" not in text or "産業" not in text:
        return None
    if AREAS[area] not in f"{text} {table.collect_area}":
        return None
    establishments = int("事業所に関する集計" in text or "事業所" in table.title)
    enterprises = int("企業に関する集計" in text)
    detail = max((level for word, level in _DETAIL if word in text), default=0)
    other_area = int(any(word in table.title for key, word in AREAS.items() if key != area))
    return (establishments - enterprises, detail, -other_area, -len(table.title))


def choose_table(tables: list[Table], area: str, *, survey: str, year: int) -> tuple[Table, list[Table]]:
    """The best table for employees by ``area`` × industry, and the other candidates, best first."""
    if area not in AREAS:
        raise InputError(_("unknown area level"), value=area, expected=", ".join(AREAS))
    scored = sorted(((s, t) for t in tables if (s := _score(t, area)) is not None),
                    key=lambda pair: pair[0], reverse=True)
    if not scored:
        listed = "; ".join(t.describe() for t in tables[:8]) or "none"
        raise InputError(_("no table of employees by {value} × industry among the {tables} tables e-Stat lists for "
                           "{survey} {year}").format(value=AREAS[area], tables=len(tables), survey=survey,
                                                     year=year), value=area,
                         hint=_("Listed: {listed}. Pass --table ID to fetch one by its "
                                "statsDataId").format(listed=listed))
    ranked = [t for _, t in scored]
    return ranked[0], ranked[1:]
