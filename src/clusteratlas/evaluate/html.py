"""A self-contained HTML report of assessments: a radar profile per assessment, scores with evidence.

One file, no scripts, no downloads: the charts are inline SVG, so the report
opens offline and prints to PDF from any browser. Labels are bilingual. Every
text from a framework or an assessment form is HTML-escaped, with invisible and
direction-changing characters shown as ``<U+XXXX>`` (:func:`_h`).
"""

from __future__ import annotations

import math
from html import escape

from clusteratlas import i18n
from clusteratlas.evaluate.assessments import Assessment
from clusteratlas.evaluate.frameworks import Framework
from clusteratlas.sources.codes import visible

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
STYLE = """body{font-family:system-ui,'Hiragino Sans','Noto Sans CJK JP',sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .5em;font-size:.9em;
vertical-align:top}th{background:#f4f4f4}.card{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}
.meta{color:#555}.legend span{display:inline-block;width:1em;height:.6em;margin:0 .3em 0 1em}
@media print{.card{page-break-inside:avoid}}"""


def _h(value: object) -> str:
    """Text from a file, safe in HTML and readable as it is stored (see :func:`clusteratlas.sources.codes.visible`)."""
    return escape(visible(str(value)))


def _label(en: str | None, ja: str | None) -> str:
    return _h(" / ".join(x for x in (en, ja) if x))


#: Room around the radar for the factors' names (wrapped to :data:`LABEL_CELLS` cells a line).
LABEL_MARGIN_X, LABEL_MARGIN_Y, LABEL_CELLS = 120, 48, 16


def _label_lines(f) -> list[str]:
    """A factor's label around the radar: its number and name (Japanese where there is one, as the frameworks are
    mostly Japanese; both names are in the label's tooltip and in the table below), wrapped."""
    return i18n.wrap(f"{f.number or ''} {f.name_ja or f.name or f.id}".strip(), LABEL_CELLS)


def radar_svg(fw: Framework, a: Assessment, size: int = 360) -> str | None:
    """An SVG radar of points per factor, one polygon per column; None when the framework has no points.

    Each axis is labelled with the factor's number and names (wrapped; anchored away from the radar, so that a
    label on the left ends at its axis and one on the right starts there), inside a view box wide enough for
    them: no label is cut at the picture's edge.
    """
    factors = [f for f in fw.factors if any(fw.scale_for(f, c).kind != "categorical" for c in fw.columns)]
    if len(factors) < 3:
        return None
    top = max((v.points or 0) for s in fw.scales.values() for v in s.values) if any(
        s.values for s in fw.scales.values()) else max(s.maximum or 1 for s in fw.scales.values())
    top = top or 1
    cx, cy = size / 2 + LABEL_MARGIN_X, size / 2 + LABEL_MARGIN_Y
    r = size / 2 - 40
    n = len(factors)
    width, height = size + 2 * LABEL_MARGIN_X, size + 2 * LABEL_MARGIN_Y

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * value / top * math.cos(angle), cy + r * value / top * math.sin(angle)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_h(a.subject)}">']
    levels = range(1, math.ceil(top) + 1) if top <= 5 else [top * k / 4 for k in range(1, 5)]
    for level in levels:
        ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level) for i in range(n)))
        parts.append(f'<polygon points="{ring}" fill="none" stroke="#ddd"/>')
    for i, f in enumerate(factors):
        x, y = point(i, top)
        lx, ly = point(i, top * 1.08)
        anchor = "middle" if abs(lx - cx) < 1 else "start" if lx > cx else "end"
        lines = _label_lines(f)
        first = ly - (len(lines) - 1) * 6.5 if abs(ly - cy) < r * 0.5 else ly if ly > cy else ly - (len(lines) - 1) * 13
        spans = "".join(f'<tspan x="{lx:.1f}" y="{first + k * 13:.1f}">{_h(line)}</tspan>'
                        for k, line in enumerate(lines))
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text font-size="10" text-anchor="{anchor}" dominant-baseline="middle">'
                     f'<title>{_label(f.name, f.name_ja)}</title>{spans}</text>')
    for k, column in enumerate(fw.columns):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, a.points(f.id, column.id))
                                                       for i, f in enumerate(factors)))
        colour = COLOURS[k % len(COLOURS)]
        parts.append(f'<polygon points="{pts}" fill="{colour}" fill-opacity="0.2" stroke="{colour}" '
                     f'stroke-width="2"><title>{_label(column.name, column.name_ja)}</title></polygon>')
    parts.append("</svg>")
    return "".join(parts)


def assessment_section(fw: Framework, a: Assessment) -> str:
    legend = "".join(f'<span style="background:{COLOURS[k % len(COLOURS)]}"></span>{_label(c.name, c.name_ja)}'
                     for k, c in enumerate(fw.columns))
    rows = []
    for s in sorted(a.scores, key=lambda s: ([c.id for c in fw.columns].index(s.column),
                                             [f.id for f in fw.factors].index(s.factor))):
        f = fw.factor(s.factor)
        c = fw.column(s.column)
        v = fw.scale_for(f, c).value(s.value)
        shown = _h(s.value) + (f" ({_label(v.name, v.name_ja)})" if v and fw.scale_for(f, c).kind ==
                                   "categorical" else "")
        rows.append(f"<tr><td>{_label(c.name, c.name_ja)}</td><td>{_h(f.number or '')}</td>"
                    f"<td>{_label(f.name, f.name_ja)}</td><td>{shown}</td><td>{_h(s.evidence or '')}</td>"
                    f"<td>{_h(s.source or '')}</td></tr>")
    tags = ", ".join(f"{_h(k)}: {_h(v)}" for k, v in sorted(a.tags.items()))
    svg = radar_svg(fw, a)
    chart = f'<div>{svg}<div class="legend">{legend}</div></div>' if svg else ""
    return (f'<h2>{_label(a.subject_name or a.subject, a.subject_name_ja)}</h2>'
            f'<p class="meta">{_h(a.subject_type)} {_h(a.subject)}'
            f'{" · region " + _h(a.region) if a.region else ""} · assessed by {_h(a.assessor)} on '
            f'{_h(a.assessed_on)} · {_h(fw.id)} {_h(fw.version)} · assessment {_h(a.assessment)}'
            f'{" (revision " + str(a.revision) + ")" if a.revision else ""}'
            f'{" · " + tags if tags else ""}</p>'
            f'<div class="card">{chart}<table><tr><th>Column / 列</th><th>No.</th><th>Factor / 要素</th>'
            f'<th>Score / 評価</th><th>Evidence / 根拠</th><th>Source / 出典</th></tr>{"".join(rows)}</table></div>')


def report_html(items: list[tuple[Framework, Assessment]], *, title: str = "Assessments / 評価") -> str:
    """The whole report: one section per assessment, framework sources at the end."""
    sections = [assessment_section(fw, a) for fw, a in items]
    frameworks = {fw.id: fw for fw, _ in items}
    sources = "".join(f"<li><b>{_label(fw.name, fw.name_ja)}</b> ({_h(fw.id)} {_h(fw.version)}): "
                      f"{_h(fw.source or '')}</li>" for fw in frameworks.values())
    return (f'<!DOCTYPE html><html lang="{i18n.get_language()}"><head><meta charset="utf-8">'
            f'<title>{_h(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_h(title)}</h1>{''.join(sections)}"
            f"<h2>Frameworks / 評価枠組み</h2><ul>{sources}</ul>"
            f'<p class="meta">Made with clusteratlas.</p></body></html>')
