"""Readable terminal tables (Rich) for results; bilingual where names are known.

Every table goes through :class:`FitTable`, which picks the columns that fit
the console when it is printed: headers are abbreviated first, then the
label column is shortened (with …), then the least important columns are
dropped, and a caption says how many are hidden. No cell is ever wrapped
into fragments. ``wide=True`` (the CLI's ``--wide``) keeps every column at
its full width. Missing and undefined values (None, NaN) show as "—".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from clusteratlas import i18n
from clusteratlas.i18n import _
from clusteratlas.metrics.run import MapRun, years_text
from clusteratlas.store.integrity import UnknownRegions

STAR = "★"
MISSING = "—"
#: A label column (flex) is shortened with … down to this many cells before columns are dropped.
FLEX_MIN = 24


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return MISSING if _missing(value) else fmt.format(value)


def _pct(value: float | None) -> str:
    return MISSING if _missing(value) else f"{value:+.1%}"


def _label(name: str | None, name_ja: str | None, code: str) -> str:
    """A name with its code: English by default, Japanese with ``--lang ja`` (the other when one is missing)."""
    shown = i18n.name(name, name_ja)
    if not shown:
        return code
    return shown + ("" if code == shown else f" [dim]({code})[/]")


#: code -> (English name, Japanese name)
Names = dict[str, tuple[str | None, str | None]]


def _named(code: str, names: Names | None) -> str:
    """A code with its name when ``names`` knows it."""
    en, ja = (names or {}).get(code, (None, None))
    return _label(en, ja, code)


def _stars(n: int | None) -> str:
    return STAR * (n or 0) or "·"


def _estimate_note(row: dict) -> str:
    share = row.get("estimated_share") or 0.0
    return f"[yellow]est. {share:.0%}[/]" if row.get("estimated") else ""


@dataclass(frozen=True)
class Col:
    """A column of a :class:`FitTable`.

    ``priority``: 0 is never dropped; higher numbers are dropped first (ties:
    the rightmost first). ``short``: an abbreviated header used when space is
    short. ``flex``: a label column that may be shortened with … instead.
    """

    header: str
    justify: str = "left"
    priority: int = 1
    short: str | None = None
    flex: bool = False
    style: str | None = None


def _width(markup: str, *, plain: bool = False) -> int:
    text = Text(markup) if plain else Text.from_markup(markup)
    return max((Text(line).cell_len for line in text.plain.split("\n")), default=0)


class FitTable:
    """A Rich table that fits the console width when printed (see the module docstring)."""

    def __init__(self, title: str, columns: Iterable[Col], *, wide: bool = False) -> None:
        self.title = title
        # headers in the language of the run (the catalogue's; English source text where it has none)
        self.columns = [dataclasses.replace(c, header=_(c.header), short=_(c.short) if c.short else c.short)
                        for c in columns]
        self.rows: list[list[str]] = []
        self.wide = wide

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def add_row(self, *cells: str | None) -> None:
        self.rows.append([MISSING if c is None else str(c) for c in cells])

    def _natural(self, i: int, short: bool) -> int:
        col = self.columns[i]
        header = col.short if short and col.short else col.header
        return max([_width(header, plain=True), *(_width(r[i]) for r in self.rows)])

    def layout(self, max_width: int | None) -> tuple[list[int], dict[int, int], bool]:
        """The columns shown, the width of each, and whether headers are abbreviated."""
        shown = list(range(len(self.columns)))

        def total(cols: list[int], short: bool, squeeze: bool) -> int:
            return 1 + sum(3 + (min(self._natural(i, short), max(FLEX_MIN, _width(
                self.columns[i].short or self.columns[i].header, plain=True)))
                if squeeze and self.columns[i].flex else self._natural(i, short)) for i in cols)

        if max_width is None or total(shown, False, False) <= max_width:
            return shown, {i: self._natural(i, False) for i in shown}, False
        short = True
        squeeze = total(shown, short, False) > max_width
        order = sorted(shown, key=lambda i: (-self.columns[i].priority, -i))
        while squeeze and total(shown, short, True) > max_width:
            drop = next((i for i in order if i in shown and self.columns[i].priority > 0), None)
            if drop is None:
                break
            shown.remove(drop)
        widths = {i: self._natural(i, short) for i in shown}
        flex = [i for i in shown if self.columns[i].flex]
        spare = max_width - total([i for i in shown if i not in flex], short, False) - 3 * len(flex)
        for i in flex:  # share what is left among the label columns, none wider than it needs
            widths[i] = max(4, min(widths[i], spare // max(1, len(flex))))
        return shown, widths, short

    def build(self, max_width: int | None) -> Table:
        """The Rich table for this width (None: every column at full width)."""
        shown, widths, short = self.layout(None if self.wide else max_width)
        hidden = [self.columns[i].header for i in range(len(self.columns)) if i not in shown]
        caption = (f"{len(hidden)} column(s) hidden ({', '.join(hidden)}); use --wide to show all"
                   if hidden else None)
        table = Table(title=self.title, title_justify="left", header_style="bold", caption=caption,
                      caption_justify="left")
        for i in shown:
            col = self.columns[i]
            header = col.short if short and col.short else col.header
            fixed = {} if col.flex else {"min_width": widths[i]}
            table.add_column(header, justify=col.justify, no_wrap=True, overflow="ellipsis", style=col.style,
                             max_width=widths[i], **fixed)
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        return table

    def natural_width(self) -> int:
        return 1 + sum(3 + self._natural(i, False) for i in range(len(self.columns)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.wide:
            width = max(options.max_width, self.natural_width())
            yield from console.render(self.build(None), options.update(width=width, max_width=width))
        else:
            yield self.build(options.max_width)


def reference_line(run: MapRun | None) -> str:
    """The reference economy of a map run's LQs, in one line (empty before any run)."""
    if run is None:
        return ""
    jobs = _(", {jobs:,.0f} jobs").format(jobs=run.reference_employment) if run.reference_employment is not None \
        else ""
    spec = run.reference or run.reference_label
    label = f": {run.reference_label}" if run.reference_label and run.reference else ""
    return "\n" + _("LQ reference economy: {reference}.").format(reference=f"{spec}{label}{jobs}")


def region_table(summary: dict, rows: pa.Table, reference: MapRun | None = None, *,
                 wide: bool = False) -> FitTable:
    """A region's clusters for one year, strongest first."""
    title = (f"{_label(summary.get('name'), summary.get('name_ja'), summary['region'])} — {summary['year']}\n"
             + _("employment {employment}, traded {traded}, strong clusters {strong}, cluster strength "
                 "{strength}").format(employment=_num(summary["employment"]), traded=_num(summary["traded_employment"]),
                                      strong=summary["strong_clusters"] or 0,
                                      strength=_num(summary["cluster_strength"], "{:.1%}"))
             + (_(", average wage {wage} per job and year").format(wage=_num(summary["average_wage"]))
                if summary.get("average_wage") is not None else "")
             + reference_line(reference))
    table = FitTable(title, [
        Col("Cluster", priority=0, flex=True), Col("Type", priority=4),
        Col("Employment", "right", 1, "Jobs"), Col("Share", "right", 3), Col("LQ", "right", 1),
        Col("LQ (type)", "right", 5, "LQt"), Col("Stars", priority=1), Col("US rating", priority=2, short="US"),
        Col("Avg wage", "right", 5, "Wage"), Col("CAGR", "right", 3), Col("Note", priority=2)], wide=wide)
    for row in rows.to_pylist():
        rating = ("strong" if row["strong"] else "significant" if row["significant"]
                  else "qualifying" if row["qualifying"] else "")
        table.add_row(
            _label(row.get("cluster_name"), row.get("cluster_name_ja"), row["cluster"]),
            row["type"], _num(row["employment"]), _num(row["share_of_region"], "{:.1%}"),
            _num(row["lq"], "{:.2f}"), _num(row["lq_within_type"], "{:.2f}"), _stars(row["stars"]),
            rating, _num(row["average_wage"], "{:,.0f}"), _pct(row["employment_cagr"]),
            _estimate_note(row),
        )
    return table


def cluster_table(cluster: str, rows: pa.Table, reference: MapRun | None = None, *,
                  wide: bool = False) -> FitTable:
    """A cluster's top regions for one year."""
    first = rows.slice(0, 1).to_pylist()[0] if rows.num_rows else {}
    name = _label(first.get("cluster_name"), first.get("cluster_name_ja"), cluster)
    table = FitTable(f"Top regions in {name} — {first.get('year', '')}" + reference_line(reference), [
        Col("Region", priority=0, flex=True), Col("Level", priority=4),
        Col("Employment", "right", 1, "Jobs"), Col("LQ", "right", 1), Col("Stars", priority=1),
        Col("Strong", priority=2), Col("CAGR", "right", 3), Col("Note", priority=2)], wide=wide)
    for row in rows.to_pylist():
        table.add_row(_label(row.get("name"), row.get("name_ja"), row["region"]), row["level"],
                      _num(row["employment"]), _num(row["lq"], "{:.2f}"), _stars(row["stars"]),
                      "yes" if row["strong"] else "", _pct(row["employment_cagr"]), _estimate_note(row))
    return table


def summary_panel(run: MapRun) -> Panel:
    """What a map run produced, and which earlier results it replaced, kept or dropped."""
    regions = ", ".join(f"{n:,} {level}" for level, n in run.regions.items())
    text = (_("definition [bold]{definition}[/]: {rows:,} region × cluster × year rows; regions: {regions}; "
              "years {years}").format(definition=run.definition, rows=run.cluster_rows, regions=regions,
                                      years=years_text(list(run.years))) + "\n"
            + _("{share:.1%} of employment mapped to a cluster; {codes} industry code(s) unmapped ({jobs:,.0f} "
                "jobs)").format(share=run.mapped_share, codes=run.unmapped_industries, jobs=run.unmapped_employment)
            + reference_line(run))
    if run.levels_replaced:
        text += "\n" + _("Replaced the earlier results of: {levels}.").format(levels=", ".join(run.levels_replaced))
    if run.levels_kept:
        text += "\n" + _("Kept from the previous run: {levels} (--drop-level LEVEL drops one).").format(
            levels=", ".join(run.levels_kept))
    if run.levels_dropped:
        text += "\n[yellow]" + _("Dropped the earlier results of: {levels}.").format(
            levels=", ".join(run.levels_dropped)) + "[/]"
    if run.outside_regions:
        outside = UnknownRegions(run.outside_regions, run.outside_employment, list(run.outside_listed))
        text += (f"\n[yellow]{outside.describe('in the observations')}[/] (latest year; they are "
                 "rated as level 'region')")
    return Panel(text, title=_("Map"), expand=False)


def unmapped_table(unmapped: pa.Table, limit: int = 10, *, wide: bool = False) -> FitTable:
    """Industry codes with observations but no cluster (never dropped silently)."""
    table = FitTable(f"Industries not in the definition ({unmapped.num_rows}); largest first",
                     [Col("Industry", priority=0, flex=True), Col("Employment", "right", 1, "Jobs"),
                      Col("Rows", "right", 2)], wide=wide)
    for row in unmapped.slice(0, limit).to_pylist():
        table.add_row(row["industry"], _num(row["employment"]), _num(row["rows"]))
    return table


def _desc(value: float | None) -> float:
    """Sort key: largest first, missing (None/NaN) last."""
    return math.inf if _missing(value) else -value


def relate_tables(regions: pa.Table, items: pa.Table, by: str, top: int = 10, *, wide: bool = False,
                  region_names: Names | None = None, item_names: Names | None = None,
                  ) -> list[FitTable]:
    """The most complex regions and items of a relate run, named where the names are known."""
    reg = FitTable(f"Most complex regions (ECI, by {by})", [
        Col("Region", priority=0, flex=True), Col("ECI", "right", 1), Col("Diversity", "right", 2, "Div."),
        Col("COI", "right", 2), Col("HHI", "right", 3), Col("Krugman", "right", 3, "Krug."),
        Col("Entropy (bits)", "right", 4, "Entropy")], wide=wide)
    for r in sorted(regions.to_pylist(), key=lambda r: _desc(r["eci"]))[:top]:
        reg.add_row(_named(r["region"], region_names), _num(r["eci"], "{:.2f}"), _num(r["diversity"]),
                    _num(r["coi"], "{:.2f}"), _num(r["hhi"], "{:.3f}"), _num(r["krugman"], "{:.2f}"),
                    _num(r["total_variety"], "{:.2f}"))
    plural = "industries" if by == "industry" else f"{by}s"
    it = FitTable(f"Most complex {plural} (PCI)", [
        Col(by.capitalize(), priority=0, flex=True), Col("PCI", "right", 1), Col("Ubiquity", "right", 2, "Ubiq."),
        Col("Hoover", "right", 3), Col("Locational Gini", "right", 3, "Gini"), Col("EG γ", "right", 4)],
        wide=wide)
    for r in sorted(items.to_pylist(), key=lambda r: _desc(r["pci"]))[:top]:
        it.add_row(_named(r["item"], item_names), _num(r["pci"], "{:.2f}"), _num(r["ubiquity"]),
                   _num(r["hoover"], "{:.3f}"), _num(r["locational_gini"], "{:.3f}"),
                   _num(r["ellison_glaeser"], "{:.4f}"))
    return [reg, it]


def related_table(item: str, rows: pa.Table, *, wide: bool = False,
                  names: Names | None = None) -> FitTable:
    """An item's most related partners, named where the names are known."""
    table = FitTable(f"Most related to {_named(item, names)}", [
        Col("#", "right", 3), Col("Related", priority=0, flex=True), Col("Proximity", "right", 1, "Prox."),
        Col("Co-location r", "right", 2, "Co-loc r"), Col("Co-agglomeration", "right", 2, "Co-aggl.")],
        wide=wide)
    for r in rows.to_pylist():
        table.add_row(str(r["rank"]), _named(r["related"], names), _num(r["proximity"], "{:.3f}"),
                      _num(r["colocation"], "{:.3f}"),
                      _num(r["coagglomeration"], "{:.4f}"))
    return table


SHIFT_SHARE_PARTS = ("change", "national_share", "industry_mix", "regional_share", "competitive", "allocation")


def shift_share_table(totals: list[dict], title: str, *, wide: bool = False) -> FitTable:
    """Shift-share components summed by region (or listed by item for one region)."""
    table = FitTable(title, [
        Col("Region / item", priority=0, flex=True), Col("Change", "right", 1), Col("National", "right", 2, "Nat."),
        Col("Industry mix", "right", 2, "Mix"), Col("Regional", "right", 1, "Reg."),
        Col("Competitive", "right", 3, "Comp."), Col("Allocation", "right", 3, "Alloc.")], wide=wide)
    for r in totals:
        table.add_row(r["key"], *(_num(r[p], "{:+,.0f}") for p in SHIFT_SHARE_PARTS))
    return table


def hotspot_table(rows: pa.Table, *, wide: bool = False) -> FitTable:
    """Items by global Moran's I, with their high-high hot spots."""
    table = FitTable("Spatial concentration (global Moran's I) and hot spots (LISA high-high, FDR)", [
        Col("Item", priority=0, flex=True), Col("Moran's I", "right", 1, "I"), Col("p", "right", 1),
        Col("Hot spots", "right", 2, "Hot"), Col("Regions", priority=3, flex=True)], wide=wide)
    for r in rows.to_pylist():
        table.add_row(r["item"], _num(r["moran_i"], "{:.3f}"), _num(r["p_sim"], "{:.3f}"), str(r["hot"]),
                      r["regions"] or "")
    return table


def validation_table(scores: dict[str, dict[str, float]], *, wide: bool = False) -> FitTable:
    """DPS validation scores per relatedness measure, beside random partitions with the same cluster sizes."""
    table = FitTable("Validation: share of industries / clusters more related inside than to any other cluster "
                     "(random = same sizes, shuffled)", [
                         Col("Relatedness", priority=0, flex=True), Col("Industries", "right", 0),
                         Col("random", "right", 1), Col("Clusters", "right", 0), Col("random ", "right", 1),
                         Col("Mean margin", "right", 2, "Margin")], wide=wide)
    for name, s in scores.items():
        table.add_row(name, _num(s["vs_industry"], "{:.1%}"), _num(s.get("vs_industry_random"), "{:.1%}"),
                      _num(s["vs_cluster"], "{:.1%}"), _num(s.get("vs_cluster_random"), "{:.1%}"),
                      _num(s["margin"], "{:.3f}"))
    return table


def comparison_table(title: str, rows: list[tuple[str, dict]], *, wide: bool = False) -> FitTable:
    """ARI, AMI, best-match Jaccard and matched employment of partitions against a reference."""
    table = FitTable(title, [
        Col("Partition", priority=0, flex=True), Col("ARI", "right", 0), Col("AMI", "right", 0),
        Col("Median best Jaccard", "right", 1, "Jaccard"), Col("Ref. clusters J ≥ 0.5", "right", 1, "J≥.5"),
        Col("Employment in them", "right", 2, "Emp.")], wide=wide)
    for name, c in rows:
        table.add_row(name, _num(c["ari"], "{:.3f}"), _num(c["ami"], "{:.3f}"), _num(c["median_jaccard"], "{:.3f}"),
                      _num(c["share_matched"], "{:.0%}"), _num(c["employment_matched"], "{:.0%}"))
    return table


def carry_report(report, definitions: pa.Table, lost: pa.Table, split: pa.Table, origin: str,
                 limit: int = 10):
    """What a carried (or loaded) definition holds, and the codes that did not carry cleanly."""
    from rich.console import Group

    types = definitions["type"].to_pylist()
    clusters = len(set(definitions["cluster"].to_pylist()))
    parts: list = [f"Stored definition '{report.name}' ({origin}): {definitions.num_rows:,} industries in "
                   f"{clusters} clusters ({types.count('traded'):,} traded, {types.count('local'):,} local codes)."]
    if split.num_rows:
        table = FitTable(f"{split.num_rows:,} target codes whose sources sit in several clusters "
                         "(lowest purity first)", [
                             Col("Code", priority=0), Col("Cluster chosen", priority=0, short="Cluster", flex=True),
                             Col("Purity", "right", 1), Col("Also from", priority=2, flex=True)])
        for r in sorted(split.to_pylist(), key=lambda r: r["purity"])[:limit]:
            table.add_row(r["industry"], r["cluster"], _pct(r["purity"]), r["alternatives"])
        parts.append(table)
    if lost.num_rows:
        codes = ", ".join(f"{r['industry']} ({r['cluster']})" for r in lost.to_pylist()[:limit])
        more = f" and {lost.num_rows - limit:,} more" if lost.num_rows > limit else ""
        parts.append(f"[yellow]note:[/] {lost.num_rows:,} code(s) of the definition have no target in the "
                     f"concordance and are left out: {codes}{more}.")
    return Group(*parts)


def averages_table(table: pa.Table, fw, reference: pa.Table | None = None, *, wide: bool = False) -> FitTable:
    """Mean points per factor, a column per group × framework column (and the published figures beside)."""
    groups = list(dict.fromkeys(table["group"].to_pylist()))
    columns = [c.id for c in fw.columns if c.id in set(table["column"].to_pylist())]
    counts = {g: n for g, n in zip(table["group"].to_pylist(), table["assessments"].to_pylist(), strict=True)}
    cols = [Col("Factor", priority=0, flex=True)]
    keys = []
    for g in groups:
        for c in columns:
            label = fw.column(c).name_ja or c
            cols.append(Col(f"{g} (n={counts[g]})\n{label}", "right", 1))
            keys.append((g, c, None))
            if reference is not None:
                cols.append(Col(f"published\n{g}", "right", 2, style="dim"))
                keys.append((g, c, "ref"))
    out = FitTable(f"{fw.name} / {fw.name_ja or ''}: mean points (unmarked = 0)", cols, wide=wide)
    means = {(r["group"], r["column"], r["factor"]): r["mean"] for r in table.to_pylist()}
    ref = {(r["group"], r["column"], r["factor"]): r["mean"] for r in reference.to_pylist()} if reference else {}
    for f in fw.factors:
        cells = []
        for g, c, kind in keys:
            value = ref.get((g, c, f.id)) if kind else means.get((g, c, f.id))
            cells.append("" if value is None else _num(value, "{:.1f}"))
        out.add_row(f"{f.number or ''} {_label(f.name, f.name_ja, f.id)}".strip(), *cells)
    return out


def gap_table(table: pa.Table, now: str, then: str, title: str, *, wide: bool = False) -> FitTable:
    """A gap profile: points now, points to promote, and the difference, factor by factor."""
    out = FitTable(title, [Col("Factor", priority=0, flex=True), Col(now, "right", 1),
                           Col(then, "right", 1), Col("Gap", "right", 1)], wide=wide)
    for r in table.to_pylist():
        if r[now] or r[then]:
            out.add_row(f"{r['number'] or ''} {_label(r['name'], r['name_ja'], r['factor'])}".strip(),
                        _num(r[now], "{:g}"), _num(r[then], "{:g}"), _num(r["gap"], "{:+g}"))
    return out


def _cell(value: object) -> str:
    if _missing(value):
        return MISSING
    return f"{value:,.3g}" if isinstance(value, float) else str(value)


def plain_table(rows: list[dict], title: str, columns: list[str] | None = None, limit: int = 100, *,
                wide: bool = False) -> FitTable:
    """Any list of records as a table (numbers right-aligned; later columns are dropped first)."""
    columns = columns or (list(rows[0]) if rows else [])
    cols = []
    for n, c in enumerate(columns):
        numeric = any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
        cols.append(Col(c, "right" if numeric else "left", priority=0 if n == 0 else 1, flex=not numeric))
    out = FitTable(title, cols, wide=wide)
    for r in rows[:limit]:
        out.add_row(*[_cell(r.get(c)) for c in columns])
    return out
