"""Qualitative evaluation: frameworks, assessments (current and history), the Japanese programme registry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import TableResult, equal_filters, not_found

#: Header columns of an assessment (one row per assessment and revision).
ASSESSMENT_COLUMNS = ("assessment", "revision", "framework", "framework_version", "subject", "subject_type",
                      "subject_name", "subject_name_ja", "region", "assessor", "assessed_on", "tags",
                      "content_sha256", "recorded_at")


def frameworks(con: duckdb.DuckDBPyConnection) -> TableResult:
    """Every framework: built in, and stored in the atlas (one row per version)."""
    from clusteratlas.evaluate.frameworks import builtin_frameworks

    rows = [{"framework": f.id, "version": f.version, "name": f.name, "name_ja": f.name_ja,
             "factors": len(f.factors), "sha256": f.sha256, "where": "built in"}
            for f in builtin_frameworks().values()]
    for fid, version, name, name_ja, sha, doc in con.execute(
            "SELECT framework, version, name, name_ja, sha256, document FROM evaluation_frameworks ORDER BY 1, 2"
            ).fetchall():
        rows.append({"framework": fid, "version": version, "name": name, "name_ja": name_ja,
                     "factors": len(json.loads(doc or "{}").get("factors", [])), "sha256": sha, "where": "atlas"})
    schema = pa.schema([("framework", pa.string()), ("version", pa.string()), ("name", pa.string()),
                        ("name_ja", pa.string()), ("factors", pa.int64()), ("sha256", pa.string()),
                        ("where", pa.string())])
    return TableResult(pa.Table.from_pylist(rows, schema=schema), {"frameworks": len(rows)})


def framework(con: duckdb.DuckDBPyConnection, framework_id: str, version: str | None = None) -> dict[str, Any]:
    """One framework's document (the atlas's stored version, else the built-in one)."""
    from clusteratlas.store.evaluations import framework_resolver

    try:
        fw = framework_resolver(con)(framework_id, version)
    except InputError as exc:
        if exc.problem == "unknown framework":
            raise not_found("framework", framework_id, (exc.expected or "").split(", ")) from None
        raise
    return {"framework": fw.id, "version": fw.version, "name": fw.name, "name_ja": fw.name_ja,
            "sha256": fw.sha256, "document": fw.document}


def assessments(con: duckdb.DuckDBPyConnection, *, framework: str | None = None, subject: str | None = None,
                all_revisions: bool = False) -> TableResult:
    """Assessments, one row each (the current revision, or every revision), oldest first."""
    table = "assessments" if all_revisions else "assessments_current"
    where, params = equal_filters(framework=framework, subject=subject)
    where.insert(0, "true")
    cols = ", ".join(ASSESSMENT_COLUMNS)
    rows = con.sql(f"SELECT {cols}, (SELECT count(*) FROM assessment_scores s WHERE s.assessment = a.assessment "
                   f"AND s.revision = a.revision) AS scores FROM {table} a WHERE {' AND '.join(where)} "
                   "ORDER BY assessed_on, assessment, revision", params=params).to_arrow_table()
    return TableResult(rows, {"all_revisions": all_revisions, "framework": framework, "subject": subject})


@dataclass
class AssessmentHistory:
    """One assessment: every revision (oldest first), each with its scores and evidence."""

    assessment: str
    current: int
    revisions: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"assessment": self.assessment, "current": self.current, "revisions": self.revisions}


def assessment(con: duckdb.DuckDBPyConnection, assessment_id: str) -> AssessmentHistory:
    """One assessment with its full revision history."""
    from clusteratlas.queries._core import to_rows

    heads = to_rows(con.sql(f"SELECT {', '.join(ASSESSMENT_COLUMNS)} FROM assessments WHERE assessment = ? "
                            "ORDER BY revision", params=[assessment_id]).to_arrow_table())
    if not heads:
        known = [r[0] for r in con.execute("SELECT DISTINCT assessment FROM assessments ORDER BY 1").fetchall()]
        raise not_found("assessment", assessment_id, known)
    scores = to_rows(con.sql('SELECT revision, factor, "column", value, points, evidence, source '
                             "FROM assessment_scores WHERE assessment = ? ORDER BY revision, factor, \"column\"",
                             params=[assessment_id]).to_arrow_table())
    for head in heads:
        head["tags"] = json.loads(head["tags"] or "{}")
        head["scores"] = [{k: v for k, v in s.items() if k != "revision"} for s in scores
                          if s["revision"] == head["revision"]]
    return AssessmentHistory(assessment_id, heads[-1]["revision"], heads)


def assessment_points(con: duckdb.DuckDBPyConnection, assessment_id: str) -> dict[str, Any]:
    """The points of an assessment's current revision per framework column and factor: the evaluations page's
    radar of it.

    ``points[column]`` lists the points of every factor of the framework (its version the assessment was made
    under), in the framework's order; a factor not marked counts 0, as in the group averages
    (:meth:`clusteratlas.evaluate.assessments.Assessment.points`). ``columns`` are the framework's columns (else
    the columns the scores have), ``factors`` and ``column_names`` the framework's, with names in English and
    Japanese.
    """
    history = assessment(con, assessment_id)
    current = history.revisions[-1]
    document = framework(con, current["framework"], current.get("framework_version"))["document"]
    columns = [c["id"] for c in document.get("columns", [])] or sorted({s["column"] for s in current["scores"]})
    marked = {(s["factor"], s["column"]): s["points"] or 0 for s in current["scores"]}
    factors = document.get("factors", [])
    return {"assessment": assessment_id, "revision": current["revision"], "framework": current["framework"],
            "framework_version": current.get("framework_version"), "tags": current.get("tags") or {},
            "factors": [{"id": f["id"], "name": f.get("name"), "name_ja": f.get("name_ja")} for f in factors],
            "columns": columns,
            "column_names": [{"id": c.get("id"), "name": c.get("name"), "name_ja": c.get("name_ja")}
                             for c in document.get("columns", [])],
            "points": {c: [marked.get((f["id"], c), 0) for f in factors] for c in columns}}


def programmes(con: duckdb.DuckDBPyConnection, *, programme: str | None = None) -> TableResult:
    """Japan's cluster programme registry (from the atlas when loaded, else the built-in copy)."""
    from clusteratlas.reference.programmes import PROGRAMMES, programme_table

    if programme is not None and programme not in PROGRAMMES:
        raise not_found("programme", programme, list(PROGRAMMES))
    stored = con.execute("SELECT count(*) FROM programme_registry").fetchall()[0][0]
    if stored:
        where, params = ("WHERE programme = ?", [programme]) if programme else ("", [])
        rows = con.sql(f"SELECT * FROM programme_registry {where} ORDER BY programme, id",
                       params=params).to_arrow_table()
        origin = "atlas"
    else:
        rows = programme_table(programme)
        origin = "built in"
    return TableResult(rows, {"programme": programme, "from": origin})


#: Columns of :func:`group_averages` (one row per group × framework column × factor).
AVERAGE_COLUMNS = pa.schema([("group", pa.string()), ("column", pa.string()), ("factor", pa.string()),
                             ("number", pa.int64()), ("name", pa.string()), ("name_ja", pa.string()),
                             ("mean", pa.float64()), ("assessments", pa.int64()), ("marked", pa.int64()),
                             ("published", pa.float64()), ("published_assessments", pa.int64())])


def group_averages(con: duckdb.DuckDBPyConnection, framework_id: str = "nistep-jp-15", *, by: str | None = None,
                   reference: bool | None = None) -> TableResult:
    """Mean points per group × column × factor of one framework's current assessments, grouped by a tag or field,
    with NISTEP's published averages beside (``published``) when ``reference`` is on.

    ``reference`` defaults to on for nistep-jp-15 (NISTEP 2004 published this
    table by formation base). Published groups that no group of the atlas
    matches come as rows of their own with ``assessments`` 0 and ``mean``
    null. ``meta['notes']`` says why published figures are missing
    (``meta['published_note']``) and what was left out; ``meta['left_out']`` lists the assessments without ``by``.
    Unmarked factors count 0 points, as in NISTEP's table.
    """
    from clusteratlas.evaluate.analysis import average_points, left_out
    from clusteratlas.reference.programmes import NISTEP_FRAMEWORK, published_beside
    from clusteratlas.store.evaluations import framework_resolver, load_assessments

    framework(con, framework_id)  # an unknown framework: a NotFound with close matches (404)
    fw = framework_resolver(con)(framework_id, None)
    if not fw.has_points:
        raise InputError(_("framework {id} has categories only: it has no points to average").format(id=fw.id),
                         value=fw.id,
                         expected=_("a framework whose scales give points"))
    items = load_assessments(con, framework=fw.id)
    if reference is None:
        reference = fw.id == NISTEP_FRAMEWORK
    missing = left_out(items, by)
    notes: list[str] = []
    published_note = None
    rows: list[dict[str, Any]] = []
    if items and (len(missing) < len(items) or not reference):  # nothing to group by: a clear error
        rows = average_points(items, fw, by=by).to_pylist()
    if reference:
        beside = published_beside(fw.id, by, list(dict.fromkeys(r["group"] for r in rows)))
        published_note = beside.note
        published = {(r["group"], r["column"], r["factor"]): r for r in
                     (beside.table.to_pylist() if beside.table is not None else [])}
        for r in rows:
            p = published.get((r["group"], r["column"], r["factor"]))
            r["published"], r["published_assessments"] = (p["mean"], p["assessments"]) if p else (None, None)
        factors = {f.id: f for f in fw.factors}
        for p in (beside.unmatched.to_pylist() if beside.unmatched is not None else []):
            f = factors.get(p["factor"])
            rows.append({"group": p["group"], "column": p["column"], "factor": p["factor"],
                         "number": f.number if f else None, "name": f.name if f else None,
                         "name_ja": f.name_ja if f else None, "mean": None, "assessments": 0, "marked": 0,
                         "published": p["mean"], "published_assessments": p["assessments"]})
    if published_note:
        notes.append(published_note)
    if missing:
        notes.append(f"{len(missing)} of {len(items)} assessment(s) have no {by!r} and are left out of this "
                     "grouping: " + ", ".join(m.assessment for m in missing))
    table = pa.Table.from_pylist([{k: r.get(k) for k in AVERAGE_COLUMNS.names} for r in rows], schema=AVERAGE_COLUMNS)
    return TableResult(table, {"framework": fw.id, "version": fw.version, "by": by, "reference": reference,
                               "assessments": len(items), "left_out": [m.assessment for m in missing],
                               "published_note": published_note, "notes": notes})


def _matches(text: str | None, *fields: Any) -> bool:
    from clusteratlas.queries.lookup import fold

    wanted = fold(text)
    return not wanted or any(wanted in fold(str(f)) for f in fields if f)


def filter_programmes(rows: list[dict[str, Any]], *, programme: str | None = None, region: str | None = None,
                      text: str | None = None) -> list[dict[str, Any]]:
    """The rows of :func:`programmes` of one programme (``industrial-cluster-plan``…), lying in ``region`` (a
    prefecture or METI bureau id of their ``regions``), and whose id, names or fields contain ``text`` (folded
    for case, width and kana as the search is): the evaluations page's filters. None keeps every row."""
    return [r for r in rows if (not programme or r.get("programme") == programme)
            and (not region or region in (r.get("regions") or "").split())
            and _matches(text, r.get("id"), r.get("name"), r.get("name_ja"), r.get("fields"), r.get("fields_ja"))]


def filter_assessments(rows: list[dict[str, Any]], *, phase: str | None = None, region: str | None = None,
                       text: str | None = None) -> list[dict[str, Any]]:
    """The rows of :func:`assessments` whose ``phase`` tag is ``phase``, whose subject or region is ``region``,
    and whose subject (id or names) or assessor contains ``text``. None keeps every row."""
    def phase_of(row: dict[str, Any]) -> str | None:
        tags = row.get("tags")
        tags = json.loads(tags) if isinstance(tags, str) else (tags or {})
        return tags.get("phase")

    return [r for r in rows if (not phase or phase_of(r) == phase)
            and (not region or region in (r.get("region"), r.get("subject")))
            and _matches(text, r.get("subject"), r.get("subject_name"), r.get("subject_name_ja"), r.get("assessor"))]
