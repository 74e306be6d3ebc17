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
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
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


# ------------------------------------------------------------------ wrapping
def fold(text: Text, width: int) -> list[Text]:
    """``text`` as lines of at most ``width`` cells (see :func:`clusteratlas.i18n.line_breaks`), styles kept."""
    lines: list[Text] = []
    for paragraph in text.split("\n", allow_blank=True):
        for line in paragraph.divide(i18n.line_breaks(paragraph.plain, max(1, width))):
            line.rstrip()
            lines.append(line)
    return lines


class Folded:
    """Text (Rich markup) wrapped to the console's width by :func:`fold`: Japanese lines break between
    characters, never inside a number, a code or an option name (Rich would fold a Japanese sentence, one long
    "word" to it, anywhere: ``--min`` / ``-employment``)."""

    def __init__(self, text: str | Text, style: str | None = None) -> None:
        self.text = Text.from_markup(text, style=style or "") if isinstance(text, str) else text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in fold(self.text, options.max_width):
            line.no_wrap = True
            line.end = "\n"
            yield line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max((cell_len(line) for line in self.text.plain.split("\n")), default=0)
        longest = max((cell_len(w) for w in i18n.wrap(self.text.plain, 1)), default=0)
        return Measurement(min(longest, options.max_width), min(widest, options.max_width))


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
    # a code that is the English name (the JSIC benchmark's clusters) is no code to show beside a Japanese name
    return shown + ("" if code in (shown, name) else f" [dim]({code})[/]")


#: code -> (English name, Japanese name)
Names = dict[str, tuple[str | None, str | None]]


def named(code: str, names: Names | None) -> str:
    """A code with its name when ``names`` knows it."""
    en, ja = (names or {}).get(code, (None, None))
    return _label(en, ja, code)


def _stars(n: int | None) -> str:
    return STAR * (n or 0) or "·"


def _estimate_note(row: dict) -> str:
    share = row.get("estimated_share") or 0.0
    return "[yellow]" + escape(_("est. {share:.0%}").format(share=share)) + "[/]" if row.get("estimated") else ""


def level_name(level: str | None) -> str:
    """A region level in the current language (the levels clusteratlas knows by name; others as stored)."""
    from clusteratlas.model import REGION_LEVELS

    return _(level) if level in REGION_LEVELS else (level or "")


def rating(row: dict) -> str:
    """The US Cluster Mapping Project's rating of a row in words: strong, significant, qualifying or nothing."""
    return (_("strong") if row.get("strong") else _("significant") if row.get("significant")
            else _("qualifying") if row.get("qualifying") else "")


def results_legend() -> str:
    """The legend of a table of cluster results: stars, LQ, the US rating, estimates, the reference economy."""
    return _("★ stars of the European Cluster Observatory, one each for size (jobs in the top 10 % of the "
             "cluster's regions), specialisation (LQ ≥ 2) and focus (share of the region's jobs in the top 10 %); "
             "· none. LQ (location quotient): the cluster's share of the region's jobs over its share of the "
             "reference economy's; 1 is the reference economy's own mix. US rating (US Cluster Mapping Project, "
             "traded clusters): strong = LQ within traded or local jobs in the top quarter of the cluster's regions "
             "and at least 1, with enough jobs and establishments; significant = above the median; qualifying = "
             "above the lowest quarter. est. 14% = 14 % of the jobs are estimates of withheld cells.")


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

    def __init__(self, title: str, columns: Iterable[Col], *, wide: bool = False, legend: str | None = None) -> None:
        self.title = title
        #: What the table's symbols and columns mean, printed under it (Rich markup).
        self.legend = legend
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

    def hidden(self, max_width: int | None) -> list[str]:
        """The headers of the columns that do not fit ``max_width`` (none with ``wide``)."""
        shown, _w, _s = self.layout(None if self.wide else max_width)
        return [self.columns[i].header.replace("\n", " ") for i in range(len(self.columns)) if i not in shown]

    def caption(self, max_width: int | None) -> str:
        """The lines under the table: which columns are hidden (and how to see them), then the legend."""
        hidden = self.hidden(max_width)
        note = _("{n} column(s) hidden ({columns}); use --wide to show all").format(
            n=len(hidden), columns=_(", ").join(hidden)) if hidden else ""
        return "\n".join(x for x in (escape(note), self.legend) if x)

    def build(self, max_width: int | None) -> Table:
        """The Rich table for this width (None: every column at full width); its title and the lines under it are
        printed around it (see :meth:`caption`)."""
        shown, widths, short = self.layout(None if self.wide else max_width)
        table = Table(header_style="bold")
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
        if self.title:
            yield Folded(self.title)
        if self.wide:
            width = max(options.max_width, self.natural_width())
            yield from console.render(self.build(None), options.update(width=width, max_width=width))
        else:
            yield self.build(options.max_width)
        caption = self.caption(options.max_width)
        if caption:
            yield Folded(caption, style="dim")


_REFERENCE_WORDS = (
    (re.compile(r"the observed regions that no other observed region contains(?: \((?P<parts>[^)]*)\))?$"),
     "observations"),
    (re.compile(r"the observed regions of level (?P<level>\S+)(?: \((?P<parts>[^)]*)\))?$"), "level"),
    (re.compile(r"region (?P<region>\S+)(?: \((?P<parts>[^)]*)\))?$"), "region"),
    (re.compile(r"imported reference totals$"), "totals"),
    (re.compile(r"reference totals from (?P<file>.+)$"), "file totals"),
    (re.compile(r"every region of the file \(pass --reference-totals when they overlap or leave part of the nation "
                r"out\)$"), "file"),
    (re.compile(r"per level \(before clusteratlas recorded it\)$"), "unrecorded"),
)


def _region_count(part: str) -> str:
    """``36 county`` of a stored label in the current language (``郡 36``), as the map summary counts regions."""
    count, _sep, level = part.partition(" ")
    if not count.replace(",", "").isdigit() or not level:
        return part
    return _("{n:,} {level}").format(n=int(count.replace(",", "")), level=level_name(level))


def reference_words(spec: str | None, label: str | None) -> str:
    """The reference economy of a map run in words, in the current language.

    The run stores its economy as a spec (``observations``, ``totals``, ``level:LEVEL``, ``region:CODE``) and an
    English label (``the observed regions that no other observed region contains (36 county)``); the label is
    said again in the current language, with its level names, and the spec given as the ``--reference`` value
    that would make it. A label of another shape is shown as stored.
    """
    text = label or ""
    for pattern, kind in _REFERENCE_WORDS:
        m = pattern.match(text)
        if not m:
            continue
        found = m.groupdict()
        parts = _(", ").join(_region_count(p) for p in (found.get("parts") or "").split(", ") if p)
        words = {"observations": _("the observed regions that no other observed region contains"),
                 "level": _("the observed regions of level {level}").format(level=level_name(found.get("level"))),
                 "region": _("region {region}").format(region=found.get("region")),
                 "totals": _("imported reference totals"),
                 "file totals": _("reference totals from {file}").format(file=found.get("file")),
                 "file": _("every region of the file (pass --reference-totals when they overlap or leave part of "
                           "the nation out)"),
                 "unrecorded": _("per level (before clusteratlas recorded it)")}[kind]
        text = words + (_(" ({parts})").format(parts=parts) if parts else "")
        break
    return text + (_(" (--reference={spec})").format(spec=spec) if spec else "")


def reference_line(run: MapRun | None) -> str:
    """The reference economy of a map run's LQs, in one line (empty before any run)."""
    if run is None:
        return ""
    jobs = _(", {jobs:,.0f} jobs").format(jobs=run.reference_employment) if run.reference_employment is not None \
        else ""
    spec = None if run.spec.files is not None else run.reference  # a stateless map takes no --reference
    words = reference_words(spec, run.reference_label)
    return "\n" + _("LQ reference economy: {reference}.").format(reference=escape(words) + jobs)


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
        Col("Avg wage", "right", 5, "Wage"), Col("CAGR", "right", 3), Col("Note", priority=2)], wide=wide,
        legend=results_legend())
    for row in rows.to_pylist():
        table.add_row(
            _label(row.get("cluster_name"), row.get("cluster_name_ja"), row["cluster"]),
            _(row["type"]) if row["type"] in ("traded", "local") else row["type"], _num(row["employment"]),
            _num(row["share_of_region"], "{:.1%}"),
            _num(row["lq"], "{:.2f}"), _num(row["lq_within_type"], "{:.2f}"), _stars(row["stars"]),
            rating(row), _num(row["average_wage"], "{:,.0f}"), _pct(row["employment_cagr"]),
            _estimate_note(row),
        )
    return table


def cluster_table(cluster: str, rows: pa.Table, reference: MapRun | None = None, *,
                  wide: bool = False) -> FitTable:
    """A cluster's top regions for one year."""
    first = rows.slice(0, 1).to_pylist()[0] if rows.num_rows else {}
    name = _label(first.get("cluster_name"), first.get("cluster_name_ja"), cluster)
    title = _("Top regions in {cluster} — {year}").format(cluster=name, year=first.get("year", ""))
    table = FitTable(title + reference_line(reference), [
        Col("Region", priority=0, flex=True), Col("Level", priority=4),
        Col("Employment", "right", 1, "Jobs"), Col("LQ", "right", 1), Col("Stars", priority=1),
        Col("Strong", priority=2), Col("CAGR", "right", 3), Col("Note", priority=2)], wide=wide,
        legend=results_legend())
    for row in rows.to_pylist():
        table.add_row(_label(row.get("name"), row.get("name_ja"), row["region"]), level_name(row["level"]),
                      _num(row["employment"]), _num(row["lq"], "{:.2f}"), _stars(row["stars"]),
                      _("yes") if row["strong"] else "", _pct(row["employment_cagr"]), _estimate_note(row))
    return table


def summary_panel(run: MapRun) -> Panel:
    """What a map run produced, and which earlier results it replaced, kept or dropped."""
    regions = _(", ").join(_("{n:,} {level}").format(n=n, level=level_name(level)) for level, n in run.regions.items())
    text = (_("definition [bold]{definition}[/]: {rows:,} region × cluster × year rows; regions: {regions}; "
              "years {years}").format(definition=escape(run.definition or ""), rows=run.cluster_rows,
                                      regions=escape(regions), years=years_text(list(run.years))) + "\n"
            + _("{share:.1%} of employment mapped to a cluster; {codes} industry code(s) unmapped ({jobs:,.0f} "
                "jobs)").format(share=run.mapped_share, codes=run.unmapped_industries, jobs=run.unmapped_employment)
            + reference_line(run))

    def levels(names: tuple[str, ...]) -> str:
        return escape(_(", ").join(level_name(level) for level in names))

    if run.levels_replaced:
        text += "\n" + _("Replaced the earlier results of: {levels}.").format(levels=levels(run.levels_replaced))
    if run.levels_kept:
        text += "\n" + _("Kept from the previous run: {levels} (--drop-level LEVEL drops one).").format(
            levels=levels(run.levels_kept))
    if run.levels_dropped:
        text += "\n[yellow]" + _("Dropped the earlier results of: {levels}.").format(
            levels=levels(run.levels_dropped)) + "[/]"
    if run.outside_regions:
        outside = UnknownRegions(run.outside_regions, run.outside_employment, list(run.outside_listed))
        text += "\n[yellow]" + escape(_("{codes} (latest year; they are rated as level 'region')").format(
            codes=outside.describe("in the observations"))) + "[/]"
    return Panel(Folded(text), title=_("Map"), expand=False)


def unmapped_table(unmapped: pa.Table, limit: int = 10, *, wide: bool = False) -> FitTable:
    """Industry codes with observations but no cluster (never dropped silently)."""
    table = FitTable(_("Industries not in the definition ({n:,}); largest first").format(n=unmapped.num_rows),
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
    reg = FitTable(_("Most complex regions (ECI, by {by})").format(by=_(by)), [
        Col("Region", priority=0, flex=True), Col("ECI", "right", 1), Col("Diversity", "right", 2, "Div."),
        Col("COI", "right", 2), Col("HHI", "right", 3), Col("Krugman", "right", 3, "Krug."),
        Col("Entropy (bits)", "right", 4, "Entropy")], wide=wide, legend=_(
        "ECI (economic complexity index): regions that are specialised (RCA ≥ 1) in many items, and in items few "
        "regions are specialised in, rank high. Diversity: the number of those items. COI: how near the region is "
        "to complex items it lacks. HHI, Krugman, entropy: how concentrated the region's jobs are."))
    for r in sorted(regions.to_pylist(), key=lambda r: _desc(r["eci"]))[:top]:
        reg.add_row(named(r["region"], region_names), _num(r["eci"], "{:.2f}"), _num(r["diversity"]),
                    _num(r["coi"], "{:.2f}"), _num(r["hhi"], "{:.3f}"), _num(r["krugman"], "{:.2f}"),
                    _num(r["total_variety"], "{:.2f}"))
    it = FitTable(_("Most complex industries (PCI)") if by == "industry" else _("Most complex clusters (PCI)"), [
        Col(by.capitalize(), priority=0, flex=True), Col("PCI", "right", 1), Col("Ubiquity", "right", 2, "Ubiq."),
        Col("Hoover", "right", 3), Col("Locational Gini", "right", 3, "Gini"), Col("EG γ", "right", 4)],
        wide=wide, legend=_(
            "PCI (product complexity index): items made in few regions, and in diverse ones, rank high. Ubiquity: "
            "the number of regions specialised in the item. Hoover, locational Gini, EG γ (Ellison–Glaeser): how "
            "concentrated the item's jobs are across regions."))
    for r in sorted(items.to_pylist(), key=lambda r: _desc(r["pci"]))[:top]:
        it.add_row(named(r["item"], item_names), _num(r["pci"], "{:.2f}"), _num(r["ubiquity"]),
                   _num(r["hoover"], "{:.3f}"), _num(r["locational_gini"], "{:.3f}"),
                   _num(r["ellison_glaeser"], "{:.4f}"))
    return [reg, it]


def related_table(item: str, rows: pa.Table, *, wide: bool = False,
                  names: Names | None = None) -> FitTable:
    """An item's most related partners, named where the names are known."""
    table = FitTable(_("Most related to {item}").format(item=named(item, names)), [
        Col("#", "right", 3), Col("Related", priority=0, flex=True), Col("Proximity", "right", 1, "Prox."),
        Col("Co-location r", "right", 2, "Co-loc r"), Col("Co-agglomeration", "right", 2, "Co-aggl.")],
        wide=wide, legend=_(
            "Proximity: how often regions specialised in one are specialised in the other (the lower of the two "
            "conditional probabilities). Co-location r: correlation of their employment shares across regions. "
            "Co-agglomeration: Ellison–Glaeser's, above 0 when the two cluster in the same regions."))
    for r in rows.to_pylist():
        table.add_row(str(r["rank"]), named(r["related"], names), _num(r["proximity"], "{:.3f}"),
                      _num(r["colocation"], "{:.3f}"),
                      _num(r["coagglomeration"], "{:.4f}"))
    return table


SHIFT_SHARE_PARTS = ("change", "national_share", "industry_mix", "regional_share", "competitive", "allocation")


def shift_share_table(totals: list[dict], title: str, *, wide: bool = False) -> FitTable:
    """Shift-share components summed by region (or listed by item for one region)."""
    table = FitTable(title, [
        Col("Region / item", priority=0, flex=True), Col("Change", "right", 1), Col("National", "right", 2, "Nat."),
        Col("Industry mix", "right", 2, "Mix"), Col("Regional", "right", 1, "Reg."),
        Col("Competitive", "right", 3, "Comp."), Col("Allocation", "right", 3, "Alloc.")], wide=wide, legend=_(
            "Change in jobs = national growth (as if every item grew as the nation) + industry mix (its items grew "
            "faster or slower nationally) + regional share (what is left: the region's own performance). Esteban-"
            "Marquillas split the regional share into a competitive and an allocation effect."))
    for r in totals:
        table.add_row(r["key"], *(_num(r[p], "{:+,.0f}") for p in SHIFT_SHARE_PARTS))
    return table


def hotspot_table(rows: pa.Table, *, wide: bool = False, region_names: Names | None = None,
                  item_names: Names | None = None) -> FitTable:
    """Items by global Moran's I, with their high-high hot spots (named where the names are known)."""
    table = FitTable(_("Spatial concentration (global Moran's I) and hot spots (LISA high-high, FDR)"), [
        Col("Item", priority=0, flex=True), Col("Moran's I", "right", 1, "I"), Col("p (two-sided)", "right", 1, "p"),
        Col("Hot spots", "right", 2, "Hot"), Col("Regions", priority=3, flex=True)], wide=wide, legend=_(
            "Moran's I: above 0 when regions next to each other have similar values (the cluster's LQ); p "
            "(two-sided): twice the share of random rearrangements of the regions that give an I as far out on the "
            "observed side (at most 1). Hot spots: regions that are high among high neighbours (local Moran, "
            "significant at the false-discovery rate)."))
    for r in rows.to_pylist():
        two = r.get("p_two_sided", None if r.get("p_sim") is None else min(2 * r["p_sim"], 1.0))
        regions = _(", ").join(i18n.name(*(region_names or {}).get(code, (None, None))) or code
                               for code in (r["regions"] or "").split(", ") if code)
        table.add_row(named(r["item"], item_names), _num(r["moran_i"], "{:.3f}"), _num(two, "{:.3f}"),
                      str(r["hot"]), regions)
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
                 limit: int = 10, *, wide: bool = False):
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
                             Col("Purity", "right", 1), Col("Also from", priority=2, flex=True)], wide=wide)
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
    """Mean points per factor, a column per group × framework column (and the published figures beside).

    Headers stay short: a group as tagged and a column by its id, in Japanese the published group's name (知的集積)
    and the column's (母体形成時の強さ); the legend says what n is, and why a group has none.
    """
    from clusteratlas.reference.programmes import published_group_name

    groups = list(dict.fromkeys(table["group"].to_pylist()))
    columns = [c.id for c in fw.columns if c.id in set(table["column"].to_pylist())]
    counts = {g: n for g, n in zip(table["group"].to_pylist(), table["assessments"].to_pylist(), strict=True)}
    cols = [Col("Factor", priority=0, flex=True)]
    keys = []
    japanese = i18n.get_language() == "ja"
    for g in groups:  # short headers: the group as tagged and the column's id, or their Japanese names
        group = (published_group_name(g)[1] if japanese else None) or g
        for c in columns:
            label = (fw.column(c).name_ja if japanese else None) or c
            cols.append(Col(f"{group} (n={counts[g]})\n{label}", "right", 1))
            keys.append((g, c, None))
            if reference is not None:
                cols.append(Col(_("published") + f"\n{group}", "right", 2, style="dim"))
                keys.append((g, c, "ref"))
    legend = _("Mean points of the assessments in each group (◎ 3, ○ 2, △ 1, unmarked 0); n: how many "
               "assessments the group holds.")
    if any(n == 0 for n in counts.values()):
        legend += " " + _("n = 0: none of this atlas's assessments is in the group; only the published figure is "
                          "shown beside it.")
    if reference is not None:
        legend += " " + _("Published: NISTEP's (2004) averages for the same group.")
    out = FitTable(_("{framework}: mean points (unmarked = 0)").format(framework=i18n.name(fw.name, fw.name_ja)),
                   cols, wide=wide, legend=legend)
    means = {(r["group"], r["column"], r["factor"]): r["mean"] for r in table.to_pylist()}
    ref = {(r["group"], r["column"], r["factor"]): r["mean"] for r in reference.to_pylist()} if reference else {}
    for f in fw.factors:
        cells = []
        for g, c, kind in keys:
            value = ref.get((g, c, f.id)) if kind else means.get((g, c, f.id))
            cells.append("" if value is None else _num(value, "{:.1f}"))
        out.add_row(f"{f.number or ''} {i18n.name(f.name, f.name_ja) or f.id}".strip(), *cells)
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
