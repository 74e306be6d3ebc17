"""Assessments: who scored which cluster or organisation, when, under which framework, with what evidence.

An assessment file (CSV in UTF-8 or CP932, or Excel) has one row per score:

``assessment, framework, subject, assessor, assessed_on, factor, column, value``
(required) and ``framework_version, subject_type, subject_name, subject_name_ja,
region, assessed_on_text, evidence, source`` and ``tag:KEY`` columns
(optional). The header fields repeat on every row of an assessment and must
agree. ``tag:`` columns carry attributes to group by (``tag:formation_base`` =
knowledge / enterprise). Rows with an empty ``value`` are skipped, so a
filled-in template may keep the factors it does not mark.

**Identity.** An assessment id names one assessment of one subject, under one
framework, by one assessor: a later import with the same id and the same
three is a new revision of it; the same id with another subject, framework or
assessor is refused (never turned into a revision). A row with no id gets
:func:`default_assessment_id` (``SUBJECT-FRAMEWORK-DATE``), the id
``assess template`` writes too.

**Dates.** ``assessed_on`` is read by :func:`clusteratlas.dates.parse_date`
(ISO, Excel date cells, 和暦 such as 令和6年4月1日 or R6.4.1, fiscal years such
as 2024年度) and stored as ISO text; the date as written is kept in
``assessed_on_text``. A malformed or impossible date is refused; a future one
is allowed with a warning (:func:`future_dates`).

:func:`read_assessments` checks everything against the framework before
anything is stored and raises :class:`InputError` naming the file, line,
column and value of the first problem: an unknown framework, factor, column
or value, a missing assessor, a factor scored twice, a ◎ given twice in one
column (or one missing) where the framework's rule says each mark once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clusteratlas.dates import EXPECTED as DATE_EXPECTED
from clusteratlas.dates import ParsedDate, parse_date
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.evaluate.frameworks import Framework
from clusteratlas.i18n import _

REQUIRED = ("assessment", "framework", "subject", "assessor", "assessed_on", "factor", "value")
OPTIONAL = ("framework_version", "subject_type", "subject_name", "subject_name_ja", "region", "column",
            "assessed_on_text", "evidence", "source")
HEADER_FIELDS = ("framework", "framework_version", "subject", "subject_type", "subject_name", "subject_name_ja",
                 "region", "assessor", "assessed_on")
SUBJECT_TYPES = ("cluster", "organisation", "region", "programme")
#: What identifies an assessment beside its id: a revision must keep all three.
IDENTITY = ("framework", "subject", "assessor")


@dataclass
class Score:
    """One score: factor × column → value (and its points), with evidence and source."""

    factor: str
    column: str
    value: str
    points: float | None
    evidence: str | None = None
    source: str | None = None
    line: int | None = None


@dataclass
class Assessment:
    """One assessment of one subject under one framework version."""

    assessment: str
    framework: str
    framework_version: str
    subject: str
    subject_type: str
    assessor: str
    assessed_on: str
    subject_name: str | None = None
    subject_name_ja: str | None = None
    region: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    framework_sha256: str = ""
    revision: int | None = None  # set when read back from the atlas
    assessed_on_text: str | None = None  # the date as written (令和6年4月1日, 2024年度 …) when not ISO
    line: int | None = None  # first line in the file it was read from

    def identity(self) -> tuple[str, str, str]:
        """(framework, subject, assessor): what an id stands for; a revision keeps all three."""
        return (self.framework, self.subject, self.assessor)

    def content_hash(self) -> str:
        """A digest of everything but the id, to tell a real edit from a re-import of the same content."""
        body = {k: getattr(self, k) for k in (*HEADER_FIELDS, "tags")}
        body["scores"] = sorted((s.factor, s.column, s.value, s.evidence or "", s.source or "") for s in self.scores)
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def points(self, factor: str, column: str) -> float:
        """Points for a factor in a column; 0 where it is not marked (as the ◎○△ averages count it)."""
        return next((s.points or 0.0 for s in self.scores if s.factor == factor and s.column == column), 0.0)


def _rows(path: Path) -> list[tuple[int, dict[str, str | None]]]:
    """(line, cells by column name) of every non-blank row after the header, within the read limits.

    Streamed: blank rows are skipped without being held, the header's width
    and the cells kept are capped (:mod:`clusteratlas.sources.limits`).
    """
    from clusteratlas.sources import limits
    from clusteratlas.sources.files import detect_encoding, iter_sheet_rows

    if not path.is_file():
        raise InputError(_("file not found"), file=str(path))
    label = str(path)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        return _named(iter_sheet_rows(path), label)
    if path.suffix.lower() not in (".csv", ".txt"):
        raise InputError(_("unsupported file type"), file=label, value=path.suffix,
                         expected=_("a .csv or .xlsx assessment file"))
    encoding = detect_encoding(path)
    budget = limits.CellBudget(label)
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        def kept():
            reader = csv.reader(fh)
            line = 0
            try:
                for line, row in enumerate(reader, start=1):
                    if not any(c.strip() for c in row):
                        budget.tick(line)
                        continue
                    budget.row(len(row), line)
                    yield line, row
            except csv.Error as exc:
                raise InputError(_("cannot read as CSV: {exc}").format(exc=exc), file=label, row=line + 1) from None
            except UnicodeDecodeError:
                raise InputError(_("the file is not valid {encoding} text").format(encoding=encoding), file=label,
                                 row=line + 1,
                                 expected=_("{encoding} text throughout").format(encoding=encoding)) from None

        return _named(kept(), label)


def _named(rows, label: str) -> list[tuple[int, dict[str, str | None]]]:
    """Rows as dicts keyed by the first row's names; the header must hold the required columns."""
    first = next(rows, None)
    if first is None:
        raise InputError(_("the file is empty"), file=label)
    header = [str(h or "").strip() for h in first[1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(_("required column '{value}' is missing").format(value=missing[0]), file=label,
                         hint=did_you_mean(missing[0], [h for h in header if h]))
    from clusteratlas.store.export import formula_text

    out = []
    for line, row in rows:  # a cell that an export marked with an apostrophe (before = + - @ …) reads as stored
        cells = [(formula_text(str(c).strip()) or None) if c is not None else None for c in row]
        out.append((line, dict(zip(header, cells + [None] * (len(header) - len(cells)), strict=False))))
    return out


def default_assessment_id(subject: str, framework: str, assessed_on: str) -> str:
    """The id of an assessment that names none: ``SUBJECT-FRAMEWORK-DATE`` (ISO date), unique per subject."""
    return "-".join(x for x in (subject, framework, assessed_on) if x)


def read_date(text: str | None, *, label: str, line: int | None, column: str = "assessed_on") -> ParsedDate:
    """A date cell parsed by :func:`clusteratlas.dates.parse_date`, or an InputError naming where and why."""
    try:
        return parse_date(text)
    except ValueError as exc:
        raise InputError(_("not a date ({exc})").format(exc=exc), file=label, row=line, column=column, value=text,
                         expected=DATE_EXPECTED) from None


def future_dates(items: list[Assessment], label: str, today=None) -> list[str]:
    """Warnings for assessments dated after today (allowed: a planned review, or a typo worth a look)."""
    out = []
    for a in items:
        if parse_date(a.assessed_on).is_future(today):
            where = f"{label}, line {a.line}" if a.line else label
            out.append(f"{where}: assessment {a.assessment} is dated in the future "
                       f"({a.assessed_on_text or a.assessed_on})")
    return out


def _header_date(header: dict, row: dict, label: str, line: int) -> None:
    """Replace the written date by its ISO form, checking an ``assessed_on_text`` cell says the same day."""
    if not header["assessed_on"]:
        return
    parsed = read_date(header["assessed_on"], label=label, line=line)
    written = row.get("assessed_on_text")
    if written:
        again = read_date(written, label=label, line=line, column="assessed_on_text")
        if again.iso != parsed.iso:
            raise InputError(_("assessed_on_text is another date than assessed_on"), file=label, row=line,
                             column="assessed_on_text", value=written, expected=_("the date {iso}").format(
                                 iso=parsed.iso))
    header["assessed_on"] = parsed.iso
    header["assessed_on_text"] = written or (None if parsed.text == parsed.iso else parsed.text)


def read_assessments(path: str | Path, resolve: Callable[[str, str | None], Framework]) -> list[Assessment]:
    """Read and validate an assessment file; ``resolve(id, version)`` returns the framework (or raises)."""
    path = Path(path)
    label = str(path)
    rows = _rows(path)
    by_id: dict[str, Assessment] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        if not any(row.values()):
            continue
        header = {k: row.get(k) for k in HEADER_FIELDS}
        header["subject_type"] = (header["subject_type"] or "cluster").lower()
        _header_date(header, row, label, line)
        aid = row.get("assessment")
        if not aid:
            if not (header["subject"] and header["framework"] and header["assessed_on"]):
                raise InputError(_("value is empty"), file=label, row=line, column="assessment",
                                 expected=_("an assessment id (or subject, framework and assessed_on to make one)"))
            aid = default_assessment_id(header["subject"], header["framework"], header["assessed_on"])
        tags = {k[4:]: v for k, v in row.items() if k.startswith("tag:") and v}
        if aid not in by_id:
            for key in ("framework", "subject", "assessor", "assessed_on"):
                if not header[key]:
                    raise InputError(_("missing {key}").format(key=key), file=label, row=line, column=key,
                                     expected="who assessed" if key == "assessor" else f"a {key}")
            if header["subject_type"] not in SUBJECT_TYPES:
                raise InputError(_("unknown subject type"), file=label, row=line, column="subject_type",
                                 value=header["subject_type"], expected=", ".join(SUBJECT_TYPES))
            try:
                fw = resolve(header["framework"], header["framework_version"])
            except InputError as exc:
                if exc.file is not None:
                    raise
                raise InputError(exc.problem, file=label, row=line, column="framework", value=exc.value,
                                 expected=exc.expected, hint=exc.hint) from None
            by_id[aid] = Assessment(aid, fw.id, fw.version, header["subject"], header["subject_type"],
                                    header["assessor"], header["assessed_on"], header["subject_name"],
                                    header["subject_name_ja"], header["region"], tags, framework_sha256=fw.sha256,
                                    assessed_on_text=header["assessed_on_text"], line=line)
            first_line[aid] = line
        else:
            a = by_id[aid]
            for key in HEADER_FIELDS:
                given = header[key]
                have = getattr(a, key)
                if key == "framework_version" and given is None:
                    continue
                if given is not None and given != have:
                    raise InputError(_("assessment {aid} has another {key} here than on line {value}").format(
                        aid=aid, key=key, value=first_line[aid]),
                                     file=label, row=line, column=key, value=given, expected=repr(have))
            for k, v in tags.items():
                if a.tags.setdefault(k, v) != v:
                    raise InputError(_("assessment {aid} has another tag:{k} here than on line "
                                       "{value}").format(aid=aid, k=k, value=first_line[aid]),
                                     file=label, row=line, column=f"tag:{k}", value=v, expected=repr(a.tags[k]))
        _add_score(by_id[aid], resolve(by_id[aid].framework, by_id[aid].framework_version), row, line, label)
    if not by_id:
        raise InputError(_("the file has a header but no assessments"), file=label)
    for a in by_id.values():
        check_rules(a, resolve(a.framework, a.framework_version), label)
    return list(by_id.values())


def _near(name: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return (f"Did you mean {' or '.join(map(repr, close))}? " if close else "") + "Factors: " + ", ".join(choices)


def _add_score(a: Assessment, fw: Framework, row: dict, line: int, label: str) -> None:
    value = row.get("value")
    if value is None:
        return
    factor = fw.factor(row.get("factor") or "")
    if factor is None:
        raise InputError(_("unknown factor of framework {id}").format(id=fw.id), file=label, row=line, column="factor",
                         value=row.get("factor"), hint=_near(row.get("factor") or "", [f.id for f in fw.factors]))
    column_id = row.get("column") or (fw.columns[0].id if len(fw.columns) == 1 else None)
    column = fw.column(column_id or "")
    if column is None:
        raise InputError(_("unknown column of framework {id}").format(id=fw.id), file=label, row=line, column="column",
                         value=row.get("column"), expected=", ".join(c.id for c in fw.columns))
    scale = fw.scale_for(factor, column)
    if scale.kind == "numeric":
        try:
            number = float(value)
        except ValueError:
            raise InputError(_("not a number"), file=label, row=line, column="value", value=value,
                             expected=scale.describe()) from None
        if not scale.minimum <= number <= scale.maximum:
            raise InputError(_("value out of range"), file=label, row=line, column="value", value=value,
                             expected=scale.describe())
    elif scale.value(value) is None:
        raise InputError(_("not a value of the scale '{id}' for {id2}").format(id=scale.id, id2=factor.id),
                         file=label, row=line,
                         column="value", value=value, expected=scale.describe())
    if any(s.factor == factor.id and s.column == column.id for s in a.scores):
        raise InputError(_("factor {id} is scored twice in column {id2} of assessment "
                           "{assessment}").format(id=factor.id, id2=column.id, assessment=a.assessment),
                         file=label, row=line, column="factor", value=factor.id)
    a.scores.append(Score(factor.id, column.id, value, scale.points(value), row.get("evidence"), row.get("source"),
                          line))


def check_rules(a: Assessment, fw: Framework, label: str) -> None:
    """The framework's per-column rules (◎○△ each once) and required factors, for one assessment."""
    for column in fw.columns:
        in_column = [s for s in a.scores if s.column == column.id]
        ranked = {fw.scale_for(fw.factor(s.factor), column).id for s in in_column}
        for sid in ranked:
            scale = fw.scales[sid]
            if scale.kind != "ranked":
                continue
            counts = Counter(s.value for s in in_column if fw.scale_for(fw.factor(s.factor), column).id == sid)
            for v in scale.values:
                n = counts.get(v.value, 0)
                bad = n != 1 if scale.rule == "each_once" else n > 1
                if bad:
                    lines = [s.line for s in in_column if s.value == v.value]
                    raise InputError(_("assessment {assessment}, column {id}: {value} given {n} "
                                       "time(s)").format(assessment=a.assessment, id=column.id, value=v.value, n=n),
                                     file=label, row=lines[1] if n > 1 else None, column="value", value=v.value,
                                     expected=(_("exactly one of {values} per column")
                                               if scale.rule == "each_once" else
                                               _("at most one of {values} per column")).format(
                                         values=" ".join(x.value for x in scale.values)))
    for factor in fw.factors:
        if factor.required and not any(s.factor == factor.id for s in a.scores):
            raise InputError(_("assessment {assessment} does not score the required "
                               "factor {id}").format(assessment=a.assessment, id=factor.id),
                             file=label, column="factor", value=factor.id)


def template_rows(fw: Framework, *, assessment: str | None = None, subject: str = "", assessor: str = "",
                  assessed_on: str = "", tags: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows of an empty assessment (every factor × column, value to fill in), with bilingual labels.

    The date is read as an import reads it (a malformed one raises InputError) and written in ISO form, with
    the text as given beside it in ``assessed_on_text``. Without an id, the id is made from the subject
    (:func:`default_assessment_id`); without a subject it stays empty and the import makes it the same way.
    """
    written = ""
    if assessed_on:
        parsed = read_date(assessed_on, label="--date", line=None, column="assessed_on")
        assessed_on, written = parsed.iso, ("" if parsed.text == parsed.iso else parsed.text)
    if assessment is None:
        assessment = default_assessment_id(subject, fw.id, assessed_on) if subject else ""
    rows = []
    for column in fw.columns:
        for factor in fw.factors:
            if factor.scale and len(fw.columns) > 1 and column.id != fw.columns[0].id:
                continue
            scale = fw.scale_for(factor, column)
            rows.append({"assessment": assessment, "framework": fw.id, "framework_version": fw.version,
                         "subject": subject, "subject_type": "cluster", "subject_name": "", "subject_name_ja": "",
                         "region": "", "assessor": assessor, "assessed_on": assessed_on,
                         "assessed_on_text": written,
                         **{f"tag:{k}": v for k, v in (tags or {}).items()},
                         "factor": factor.id, "column": column.id, "value": "", "evidence": "", "source": "",
                         "factor_name": factor.name, "factor_name_ja": factor.name_ja or "",
                         "allowed_values": scale.describe()})
    return rows
