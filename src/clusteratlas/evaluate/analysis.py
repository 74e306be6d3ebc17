"""Analyses of assessments: averages and distributions by group, gap profiles, change over time.

Grouping by a tag (or field) leaves out the assessments that lack it:
:func:`left_out` lists them, so a report can say how many.

Averages follow the source's procedure for the ◎○△ method (NISTEP 2004): a
factor an assessor did not mark counts 0 points, and the mean is over all
assessments in the group, so each column of a complete ◎○△ assessment adds
up to 6 points and each column of a group's averages does too.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from clusteratlas.errors import InputError
from clusteratlas.evaluate.assessments import Assessment
from clusteratlas.evaluate.frameworks import Framework
from clusteratlas.i18n import _

ALL = "all"


def group_key(a: Assessment, by: str | None) -> str | None:
    """The group of an assessment: its tag ``by``, else its field ``by`` (e.g. region), else None."""
    if by is None:
        return ALL
    key = a.tags.get(by) or getattr(a, by, None)
    return None if key in (None, "") or not isinstance(key, str | int | float) else str(key)


def left_out(items: list[Assessment], by: str | None) -> list[Assessment]:
    """Assessments that have no tag or field ``by``: grouping by it leaves them out (say how many)."""
    return [a for a in items if group_key(a, by) is None]


def _groups(items: list[Assessment], by: str | None) -> dict[str, list[Assessment]]:
    out: dict[str, list[Assessment]] = defaultdict(list)
    for a in items:
        key = group_key(a, by)
        if key is not None:
            out[key].append(a)
    if not out:
        raise InputError(_("none of the {items} assessment(s) has a tag or field {by!r} to "
                           "group by").format(items=len(items), by=by),
                         value=by, hint=_("Add a tag:{by} column to the assessment file, or leave "
                                          "out --by").format(by=by))
    return dict(sorted(out.items()))


def _of(items: list[Assessment], fw: Framework) -> list[Assessment]:
    chosen = [a for a in items if a.framework == fw.id]
    if not chosen:
        raise InputError(_("no assessments under framework {id}").format(id=fw.id))
    return chosen


def average_points(items: list[Assessment], fw: Framework, *, by: str | None = None) -> pa.Table:
    """Mean points per group × factor × column (unmarked = 0), with the number of assessments and of marks."""
    if not fw.has_points:
        raise InputError(_("framework {id} has categories only; use the distribution instead").format(id=fw.id))
    rows = []
    for key, group in _groups(_of(items, fw), by).items():
        for column in fw.columns:
            for factor in fw.factors:
                if fw.scale_for(factor, column).kind == "categorical":
                    continue
                pts = [a.points(factor.id, column.id) for a in group]
                marked = sum(1 for a in group for s in a.scores if s.factor == factor.id and s.column == column.id)
                rows.append({"group": key, "column": column.id, "factor": factor.id, "number": factor.number,
                             "name": factor.name, "name_ja": factor.name_ja, "mean": sum(pts) / len(pts),
                             "assessments": len(group), "marked": marked})
    return pa.Table.from_pylist(rows)


def distribution(items: list[Assessment], fw: Framework, *, by: str | None = None) -> pa.Table:
    """How often each value was given, per group × factor × column (categories included)."""
    rows = []
    for key, group in _groups(_of(items, fw), by).items():
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        for a in group:
            for s in a.scores:
                counts[(s.column, s.factor, s.value)] += 1
        for (column, factor, value), n in sorted(counts.items()):
            f = fw.factor(factor)
            scale = fw.scale_for(f, fw.column(column))
            label = scale.value(value)
            rows.append({"group": key, "column": column, "factor": factor, "value": value,
                         "value_name": label.name if label else None, "value_name_ja": label.name_ja if label else None,
                         "count": n, "share": n / len(group)})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("group", pa.string()), ("column", pa.string()), ("factor", pa.string()), ("value", pa.string()),
        ("value_name", pa.string()), ("value_name_ja", pa.string()), ("count", pa.int64()), ("share", pa.float64())]))


def gap_profile(a: Assessment, fw: Framework, *, now: str | None = None, then: str | None = None) -> pa.Table:
    """Per factor: points now (first column), points to promote (second column) and the gap between them."""
    if len(fw.columns) < 2 and (now is None or then is None):
        raise InputError(_("framework {id} has one column; compare two assessments over time instead").format(id=fw.id))
    now = now or fw.columns[0].id
    then = then or fw.columns[1].id
    rows = []
    for factor in fw.factors:
        p_now, p_then = a.points(factor.id, now), a.points(factor.id, then)
        rows.append({"factor": factor.id, "number": factor.number, "name": factor.name, "name_ja": factor.name_ja,
                     "group": factor.group, now: p_now, then: p_then, "gap": p_then - p_now})
    return pa.Table.from_pylist(rows)


def over_time(items: list[Assessment], fw: Framework) -> pa.Table:
    """Points of each factor × column in every assessment of one subject, in date order (and revisions)."""
    rows = []
    for a in sorted(_of(items, fw), key=lambda x: (x.assessed_on, x.assessment, x.revision or 0)):
        for column in fw.columns:
            for factor in fw.factors:
                scored = next((s for s in a.scores if s.factor == factor.id and s.column == column.id), None)
                rows.append({"subject": a.subject, "assessed_on": a.assessed_on, "assessment": a.assessment,
                             "revision": a.revision, "assessor": a.assessor, "column": column.id,
                             "factor": factor.id, "value": scored.value if scored else None,
                             "points": a.points(factor.id, column.id)})
    return pa.Table.from_pylist(rows)
