"""Frameworks and assessments in the atlas, with full history.

An import never overwrites: an assessment whose content changed gets a new
revision beside the earlier ones, an unchanged one is left alone, and the
framework version each assessment was scored under is stored with it (so an
atlas stays readable when a framework file changes later). Everything one
import writes is in one transaction.

An id stands for one (framework, subject, assessor): an import that reuses an
id stored for another subject, framework or assessor is refused before
anything is written. Atlases written before this rule may hold one id for
several subjects (every template once said ``A1``); they still open, and the
current revision is taken per id *and* identity, so each subject's latest
assessment is there again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from clusteratlas._sql import first_row
from clusteratlas.errors import InputError
from clusteratlas.evaluate.assessments import (
    IDENTITY,
    Assessment,
    Score,
    default_assessment_id,
    future_dates,
    read_assessments,
)
from clusteratlas.evaluate.frameworks import Framework, builtin_frameworks, framework_from_document
from clusteratlas.i18n import _


def framework_resolver(con: duckdb.DuckDBPyConnection):
    """``resolve(id, version)``: a framework stored in the atlas, else a built-in one, else a clear error.

    Without a version the latest one known is taken. A framework rebuilt from
    the atlas keeps the checksum it was stored with.
    """
    stored = {(r[0], r[1]): (r[2], r[3]) for r in con.execute(
        "SELECT framework, version, document, sha256 FROM evaluation_frameworks").fetchall()}
    builtins = builtin_frameworks()
    cache: dict[tuple[str, str | None], Framework] = {}

    def resolve(framework: str, version: str | None) -> Framework:
        if (framework, version) in cache:
            return cache[(framework, version)]
        versions = {v for f, v in stored if f == framework}
        if framework in builtins:
            versions.add(builtins[framework].version)
        if not versions:
            known = sorted({f for f, _ in stored} | set(builtins))
            raise InputError(_("unknown framework"), value=framework, expected=", ".join(known),
                             hint=_("Add your own with 'clusteratlas assess add-framework FILE'"))
        chosen = version or max(versions)
        if chosen not in versions:
            raise InputError(_("framework {framework} has no version {chosen!r}").format(framework=framework,
                                                                                         chosen=chosen), value=chosen,
                             expected=", ".join(sorted(versions)))
        if (framework, chosen) in stored:
            doc, sha = stored[(framework, chosen)]
            fw = replace(framework_from_document(json.loads(doc), f"{framework} {chosen} (atlas)"), sha256=sha)
        else:
            fw = builtins[framework]
        cache[(framework, version)] = fw
        return fw

    return resolve


def store_framework(con: duckdb.DuckDBPyConnection, fw: Framework) -> bool:
    """Store a framework version once; True if it was new. The same id and version with other content is refused."""
    row = first_row(con, "SELECT sha256 FROM evaluation_frameworks WHERE framework = ? AND version = ?",
                    [fw.id, fw.version])
    if row:
        if row[0] != fw.sha256:
            raise InputError(_("framework {id} version {version} is already in the atlas with other "
                               "content").format(id=fw.id, version=fw.version),
                             value=fw.version, hint=_("Give the changed framework a new version"))
        return False
    con.execute("INSERT INTO evaluation_frameworks VALUES (?, ?, ?, ?, ?, ?, now())",
                [fw.id, fw.version, fw.sha256, fw.name, fw.name_ja,
                 json.dumps(fw.document, ensure_ascii=False)])
    return True


@dataclass
class AssessmentImport:
    """What an import did: new assessments, new revisions of existing ones, and unchanged ones skipped."""

    file: str
    assessments: int
    new: int
    revised: int
    unchanged: int
    scores: int
    frameworks: list[str]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


#: The current revision of each assessment: the latest per id and identity (see the module's docstring).
CURRENT = ("SELECT * FROM assessments QUALIFY revision = max(revision) OVER (PARTITION BY assessment, "
           + ", ".join(IDENTITY) + ")")


def _check_identities(con: duckdb.DuckDBPyConnection, items: list[Assessment], label: str) -> None:
    """Refuse an id already stored for another subject, framework or assessor (before anything is written)."""
    stored: dict[str, list[tuple]] = {}
    for r in con.execute(f"SELECT DISTINCT assessment, {', '.join(IDENTITY)} FROM assessments "
                         "ORDER BY ALL").fetchall():
        stored.setdefault(r[0], []).append(tuple(r[1:]))
    for a in items:
        known = stored.get(a.assessment)
        if not known or a.identity() in known:
            continue
        have = known[-1]
        other = default_assessment_id(a.subject, a.framework, a.assessed_on)
        if other == a.assessment:  # the made-up id itself collides: two assessors, one subject and day
            other = f"{other}-{a.assessor}"
        differs = [k for k, x, y in zip(IDENTITY, a.identity(), have, strict=True) if x != y]
        raise InputError(_("assessment id {assessment} is already in the atlas for {stored}; this one has {key} "
                           "{value!r}").format(assessment=a.assessment, stored=", ".join(
                               f"{k} {y!r}" for k, y in zip(IDENTITY, have, strict=True)), key=differs[0],
                               value=getattr(a, differs[0])),
                         file=label, row=a.line, column="assessment", value=a.assessment,
                         expected=_("an id of its own for each subject, framework and assessor"),
                         hint=_("Give it an id of its own, e.g. {other!r}; nothing was stored").format(other=other))


def import_assessments(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], *, transaction,
                       dry_run: bool = False) -> AssessmentImport:
    """Validate an assessment file completely, then store new assessments and revisions in one transaction."""
    path = Path(path)
    items = read_assessments(path, framework_resolver(con))
    _check_identities(con, items, str(path))
    used = sorted({f"{a.framework} {a.framework_version}" for a in items})
    top = {r[0]: r[1] for r in con.execute("SELECT assessment, max(revision) FROM assessments GROUP BY 1").fetchall()}
    latest = {(r[0], *r[1:4]): r[4] for r in con.execute(
        f"SELECT assessment, {', '.join(IDENTITY)}, content_sha256 FROM ({CURRENT})").fetchall()}
    plan = []
    new = 0
    for a in items:
        digest = a.content_hash()
        old = latest.get((a.assessment, *a.identity()))
        if old == digest:
            continue
        new += old is None
        plan.append((a, top.get(a.assessment, 0) + 1, digest))
    report = AssessmentImport(str(path), len(items), new, len(plan) - new, len(items) - len(plan),
                              sum(len(a.scores) for a, _, _ in plan), used, dry_run,
                              future_dates(items, str(path)))
    if dry_run:
        return report
    resolve = framework_resolver(con)
    with transaction():
        for key in {(a.framework, a.framework_version) for a, _, _ in plan}:
            store_framework(con, resolve(*key))
        for a, revision, digest in plan:
            con.execute("INSERT INTO assessments (assessment, revision, framework, framework_version, subject, "
                        "subject_type, subject_name, subject_name_ja, region, assessor, assessed_on, tags, "
                        "content_sha256, recorded_at, file, assessed_on_text) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?)",
                        [a.assessment, revision, a.framework, a.framework_version, a.subject, a.subject_type,
                         a.subject_name, a.subject_name_ja, a.region, a.assessor, a.assessed_on,
                         json.dumps(a.tags, ensure_ascii=False, sort_keys=True), digest, str(path.resolve()),
                         a.assessed_on_text])
            if a.scores:
                con.executemany("INSERT INTO assessment_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [[a.assessment, revision, s.factor, s.column, s.value, s.points, s.evidence,
                                  s.source] for s in a.scores])
    return report


def load_assessments(con: duckdb.DuckDBPyConnection, *, framework: str | None = None, subject: str | None = None,
                     all_revisions: bool = False) -> list[Assessment]:
    """Assessments from the atlas (the current revision of each, or every revision), oldest first."""
    table = "assessments" if all_revisions else f"({CURRENT})"
    where, params = ["true"], []
    if framework:
        where.append("a.framework = ?")
        params.append(framework)
    if subject:
        where.append("a.subject = ?")
        params.append(subject)
    heads = con.execute(f"""SELECT a.assessment, a.revision, a.framework, a.framework_version, a.subject,
        a.subject_type, a.assessor, a.assessed_on, a.subject_name, a.subject_name_ja, a.region, a.tags,
        f.sha256, a.assessed_on_text FROM {table} a LEFT JOIN evaluation_frameworks f ON f.framework = a.framework
        AND f.version = a.framework_version WHERE {' AND '.join(where)}
        ORDER BY a.assessed_on, a.assessment, a.revision""", params).fetchall()
    scores: dict[tuple[str, int], list[Score]] = {}
    for r in con.execute('SELECT assessment, revision, factor, "column", value, points, evidence, source '
                         "FROM assessment_scores").fetchall():
        scores.setdefault((r[0], r[1]), []).append(Score(r[2], r[3], r[4], r[5], r[6], r[7]))
    out = []
    for h in heads:
        out.append(Assessment(h[0], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10],
                              json.loads(h[11] or "{}"), scores.get((h[0], h[1]), []), h[12] or "", h[1],
                              h[13]))
    return out


def assessments_table(items: list[Assessment]) -> pa.Table:
    """Assessments in the long file format (one row per score), the same shape the import reads."""
    tag_keys = sorted({k for a in items for k in a.tags})
    rows = []
    for a in items:
        for s in a.scores:
            rows.append({"assessment": a.assessment, "revision": a.revision,
                         "framework": a.framework, "framework_version": a.framework_version, "subject": a.subject,
                         "subject_type": a.subject_type, "subject_name": a.subject_name,
                         "subject_name_ja": a.subject_name_ja, "region": a.region, "assessor": a.assessor,
                         "assessed_on": a.assessed_on, "assessed_on_text": a.assessed_on_text,
                         **{f"tag:{k}": a.tags.get(k) for k in tag_keys},
                         "factor": s.factor, "column": s.column, "value": s.value, "points": s.points,
                         "evidence": s.evidence, "source": s.source})
    if not rows:
        raise InputError(_("no assessments to export"), hint=_("Import some with 'clusteratlas assess import FILE'"))
    return pa.Table.from_pylist(rows)
