"""Evaluation frameworks as data: factors, groups, scales and scoring rules from a versioned file.

A framework is a YAML (or JSON) document checked against
``frameworks/framework.schema.json`` and then for consistency (every
reference resolves, ids are unique). The code knows no factor by name: the
NISTEP success factors, the growth phases or the French incubator review are
files in ``frameworks/``, and a user's own framework is one more file in the
same format.

Scale kinds:

- ``ranked``: marks with points that an assessor hands out, e.g. ◎ 3, ○ 2, △ 1;
  ``rule: each_once`` means each mark exactly once per column (the ◎○△
  method), ``at_most_once`` at most once;
- ``ordinal``: levels with points (a 0–3 presence scale, a 1–5 score);
- ``categorical``: named categories without points (a growth phase, a rank);
- ``numeric``: a number between ``minimum`` and ``maximum``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from clusteratlas.errors import InputError
from clusteratlas.i18n import _

SCALE_KINDS = ("ranked", "ordinal", "categorical", "numeric")


@dataclass(frozen=True)
class ScaleValue:
    """One allowed value of a scale, with its points (None for categories) and names."""

    value: str
    points: float | None
    name: str
    name_ja: str | None


@dataclass(frozen=True)
class Scale:
    """How a score is given: kind, allowed values (or range) and the per-column rule of ranked marks."""

    id: str
    kind: str
    values: tuple[ScaleValue, ...] = ()
    rule: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    def value(self, raw: str) -> ScaleValue | None:
        """The allowed value ``raw`` stands for, or None."""
        return next((v for v in self.values if v.value == raw), None)

    def points(self, raw: str) -> float | None:
        """Points of ``raw`` (its number on a numeric scale); None for categories."""
        if self.kind == "numeric":
            return float(raw)
        found = self.value(raw)
        return found.points if found else None

    def describe(self) -> str:
        if self.kind == "numeric":
            return f"a number from {self.minimum:g} to {self.maximum:g}"
        return ", ".join(repr(v.value) for v in self.values)


@dataclass(frozen=True)
class Named:
    """A column, group or factor: id, names and (for factors) group, number, own scale and whether required."""

    id: str
    name: str
    name_ja: str | None = None
    number: int | None = None
    group: str | None = None
    scale: str | None = None
    required: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Framework:
    """A validated framework. ``document`` is the file's content; ``sha256`` identifies this version's text."""

    id: str
    version: str
    name: str
    name_ja: str | None
    source: str | None
    description: str | None
    scales: dict[str, Scale]
    columns: tuple[Named, ...]
    groups: tuple[Named, ...]
    factors: tuple[Named, ...]
    document: dict = field(repr=False)
    sha256: str = ""

    def factor(self, factor_id: str) -> Named | None:
        return next((f for f in self.factors if f.id == factor_id), None)

    def column(self, column_id: str) -> Named | None:
        return next((c for c in self.columns if c.id == column_id), None)

    def scale_for(self, factor: Named, column: Named) -> Scale:
        """A factor's own scale if it has one, else its column's."""
        return self.scales[factor.scale or column.scale]

    def group_of(self, factor_id: str) -> Named | None:
        factor = self.factor(factor_id)
        return next((g for g in self.groups if factor and g.id == factor.group), None)

    @property
    def has_points(self) -> bool:
        """Whether any score of this framework can be averaged."""
        return any(s.kind != "categorical" for s in self.scales.values())


@cache
def _schema() -> dict:
    text = resources.files("clusteratlas.evaluate").joinpath("frameworks", "framework.schema.json").read_text("utf-8")
    return json.loads(text)


def _parse(text: str, label: str) -> dict:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(_("cannot read as YAML/JSON: {exc}").format(exc=getattr(exc, 'problem', exc)), file=label,
                         row=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict):
        raise InputError(_("a framework file holds one mapping (id, version, scales, columns, factors …)"), file=label)
    return doc


def framework_from_document(doc: dict, label: str, text: str | None = None) -> Framework:
    """Check ``doc`` against the schema and for consistency; return the :class:`Framework`."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise InputError(_("invalid framework: {message}").format(message=first.message), file=label, column=where,
                         hint=f"{len(errors)} problem(s) in all" if len(errors) > 1 else None)
    scales: dict[str, Scale] = {}
    for sid, s in doc["scales"].items():
        values = tuple(ScaleValue(str(v["value"]), v.get("points"), v["name"], v.get("name_ja"))
                       for v in s.get("values", []))
        kind = s["kind"]
        if kind == "numeric":
            if "minimum" not in s or "maximum" not in s or s["minimum"] >= s["maximum"]:
                raise InputError(_("a numeric scale needs minimum < maximum"), file=label, column=f"scales/{sid}")
        elif not values:
            raise InputError(_("a {kind} scale needs values").format(kind=kind), file=label, column=f"scales/{sid}")
        if kind in ("ranked", "ordinal") and any(v.points is None for v in values):
            raise InputError(_("every value of a {kind} scale needs points").format(kind=kind), file=label,
                             column=f"scales/{sid}")
        if kind == "ranked" and not s.get("rule"):
            raise InputError(_("a ranked scale needs a rule (each_once or at_most_once)"), file=label,
                             column=f"scales/{sid}")
        if len({v.value for v in values}) != len(values):
            raise InputError(_("a scale lists a value twice"), file=label, column=f"scales/{sid}")
        scales[sid] = Scale(sid, kind, values, s.get("rule"), s.get("minimum"), s.get("maximum"))

    def named(items: list[dict], what: str) -> tuple[Named, ...]:
        out = tuple(Named(i["id"], i["name"], i.get("name_ja"), i.get("number"), i.get("group"), i.get("scale"),
                          bool(i.get("required", False)), i.get("description")) for i in items)
        seen: set[str] = set()
        for n in out:
            if n.id in seen:
                raise InputError(_("{what} id used twice").format(what=what), file=label, column=what, value=n.id)
            seen.add(n.id)
        return out

    columns = named(doc["columns"], "columns")
    groups = named(doc.get("groups", []), "groups")
    factors = named(doc["factors"], "factors")
    group_ids = {g.id for g in groups}
    for c in columns:
        if c.scale not in scales:
            raise InputError(_("unknown scale"), file=label, column=f"columns/{c.id}", value=c.scale,
                             expected=", ".join(scales))
    for f in factors:
        if f.scale is not None and f.scale not in scales:
            raise InputError(_("unknown scale"), file=label, column=f"factors/{f.id}", value=f.scale,
                             expected=", ".join(scales))
        if f.group is not None and f.group not in group_ids:
            raise InputError(_("unknown group"), file=label, column=f"factors/{f.id}", value=f.group,
                             expected=", ".join(group_ids) or "groups listed under 'groups'")
    for c in columns:
        ranked = [s for s in {(f.scale or c.scale) for f in factors} if scales[s].kind == "ranked"]
        for sid in ranked:
            if scales[sid].rule == "each_once":
                marked = [f for f in factors if (f.scale or c.scale) == sid]
                if len(marked) < len(scales[sid].values):
                    raise InputError(_("fewer factors than marks to hand out"), file=label, column=f"scales/{sid}")
    raw = text if text is not None else json.dumps(doc, sort_keys=True, ensure_ascii=False)
    return Framework(doc["id"], str(doc["version"]), doc["name"], doc.get("name_ja"), doc.get("source"),
                     doc.get("description"), scales, columns, groups, factors, doc,
                     hashlib.sha256(raw.encode("utf-8")).hexdigest())


def load_framework(path: str | Path) -> Framework:
    """Read and validate a framework file (YAML or JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(_("file not found"), file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError(_("a framework file must be UTF-8 text"), file=str(path)) from None
    return framework_from_document(_parse(text, str(path)), str(path), text)


@cache
def builtin_frameworks() -> dict[str, Framework]:
    """The frameworks shipped with clusteratlas, by id."""
    folder = resources.files("clusteratlas.evaluate").joinpath("frameworks")
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            text = entry.read_text(encoding="utf-8")
            fw = framework_from_document(_parse(text, entry.name), entry.name, text)
            out[fw.id] = fw
    return out
