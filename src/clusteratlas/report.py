"""Readable terminal tables (Rich) for results; bilingual where names are known."""

from __future__ import annotations

import pyarrow as pa
from rich.panel import Panel
from rich.table import Table

from clusteratlas.store.atlas import MapSummary

STAR = "★"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1%}"


def _label(name: str | None, name_ja: str | None, code: str) -> str:
    parts = [p for p in (name, name_ja) if p]
    if not parts:
        return code
    return " / ".join(parts) + ("" if code in parts else f" [dim]({code})[/]")


def _stars(n: int | None) -> str:
    return STAR * (n or 0) or "·"


def _estimate_note(row: dict) -> str:
    share = row.get("estimated_share") or 0.0
    return f"[yellow]est. {share:.0%}[/]" if row.get("estimated") else ""


def reference_line(reference: dict | None) -> str:
    """The reference economy of the LQs, in one line (see Atlas.reference_economy)."""
    if not reference:
        return ""
    jobs = f", {reference['employment']:,.0f} jobs" if reference.get("employment") is not None else ""
    label = f": {reference['label']}" if reference.get("label") else ""
    return f"\nLQ reference economy: {reference['spec']}{label}{jobs}"


def region_table(summary: dict, rows: pa.Table, reference: dict | None = None) -> Table:
    """A region's clusters for one year, strongest first."""
    title = (f"{_label(summary.get('name'), summary.get('name_ja'), summary['region'])} — {summary['year']}\n"
             f"employment {_num(summary['employment'])}, traded {_num(summary['traded_employment'])}, "
             f"strong clusters {summary['strong_clusters'] or 0}, "
             f"cluster strength {_num(summary['cluster_strength'], '{:.1%}')}" + reference_line(reference))
    table = Table(title=title, title_justify="left", header_style="bold")
    for col, justify in (("Cluster / クラスター", "left"), ("Type", "left"), ("Employment", "right"),
                         ("Share", "right"), ("LQ", "right"), ("LQ (type)", "right"), ("Stars", "left"),
                         ("US rating", "left"), ("Avg wage", "right"), ("CAGR", "right"), ("Note", "left")):
        table.add_column(col, justify=justify)
    for row in rows.to_pylist():
        rating = ("strong" if row["strong"] else "significant" if row["significant"]
                  else "qualifying" if row["qualifying"] else "")
        table.add_row(
            _label(row.get("cluster_name"), row.get("cluster_name_ja"), row["cluster"]),
            row["type"], _num(row["employment"]), _num(row["share_of_region"], "{:.1%}"),
            _num(row["lq"], "{:.2f}"), _num(row["lq_within_type"], "{:.2f}"), _stars(row["stars"]),
            rating, _num(row["average_wage"], "{:,.1f}"), _pct(row["employment_cagr"]),
            _estimate_note(row),
        )
    return table


def cluster_table(cluster: str, rows: pa.Table, reference: dict | None = None) -> Table:
    """A cluster's top regions for one year."""
    first = rows.slice(0, 1).to_pylist()[0] if rows.num_rows else {}
    name = _label(first.get("cluster_name"), first.get("cluster_name_ja"), cluster)
    table = Table(title=f"Top regions in {name} — {first.get('year', '')}" + reference_line(reference),
                  title_justify="left",
                  header_style="bold")
    for col, justify in (("Region / 地域", "left"), ("Level", "left"), ("Employment", "right"),
                         ("LQ", "right"), ("Stars", "left"), ("Strong", "left"), ("CAGR", "right"),
                         ("Note", "left")):
        table.add_column(col, justify=justify)
    for row in rows.to_pylist():
        table.add_row(_label(row.get("name"), row.get("name_ja"), row["region"]), row["level"],
                      _num(row["employment"]), _num(row["lq"], "{:.2f}"), _stars(row["stars"]),
                      "yes" if row["strong"] else "", _pct(row["employment_cagr"]), _estimate_note(row))
    return table


def summary_panel(summary: MapSummary) -> Panel:
    """What a map run produced."""
    text = (f"definition [bold]{summary.definition}[/]: {summary.cluster_rows:,} region × cluster × year rows, "
            f"{summary.regions:,} regions ({', '.join(summary.levels)}), "
            f"years {summary.years[0]}–{summary.years[-1]}\n"
            f"{summary.mapped_share:.1%} of employment mapped to a cluster; "
            f"{summary.unmapped_industries} industry code(s) unmapped "
            f"({summary.unmapped_employment:,.0f} jobs)"
            + reference_line({"spec": summary.reference, "label": summary.reference_label,
                              "employment": summary.reference_employment}))
    if summary.outside.count:
        text += (f"\n[yellow]{summary.outside.describe('in the observations')}[/] (latest year; they are "
                 "rated as level 'region')")
    return Panel(text, title="Map", expand=False)


def unmapped_table(unmapped: pa.Table, limit: int = 10) -> Table:
    """Industry codes with observations but no cluster (never dropped silently)."""
    table = Table(title=f"Industries not in the definition ({unmapped.num_rows}); largest first",
                  title_justify="left", header_style="bold")
    table.add_column("Industry")
    table.add_column("Employment", justify="right")
    table.add_column("Rows", justify="right")
    for row in unmapped.slice(0, limit).to_pylist():
        table.add_row(row["industry"], _num(row["employment"]), _num(row["rows"]))
    return table


def relate_tables(regions: pa.Table, items: pa.Table, by: str, top: int = 10) -> list[Table]:
    """The most complex regions and items of a relate run."""
    out = []
    reg = Table(title=f"Most complex regions (ECI, by {by})", title_justify="left", header_style="bold")
    for col in ("Region", "ECI", "Diversity", "COI", "HHI", "Krugman", "Entropy (bits)"):
        reg.add_column(col, justify="left" if col == "Region" else "right")
    rows = sorted(regions.to_pylist(), key=lambda r: -(r["eci"] if r["eci"] == r["eci"] else -1e9))[:top]
    for r in rows:
        reg.add_row(r["region"], _num(r["eci"], "{:.2f}"), _num(r["diversity"]), _num(r["coi"], "{:.2f}"),
                    _num(r["hhi"], "{:.3f}"), _num(r["krugman"], "{:.2f}"), _num(r["total_variety"], "{:.2f}"))
    out.append(reg)
    it = Table(title=f"Most complex {by}s (PCI)", title_justify="left", header_style="bold")
    for col in (by.capitalize(), "PCI", "Ubiquity", "Hoover", "Locational Gini", "EG γ"):
        it.add_column(col, justify="left" if col == by.capitalize() else "right")
    rows = sorted(items.to_pylist(), key=lambda r: -(r["pci"] if r["pci"] == r["pci"] else -1e9))[:top]
    for r in rows:
        gamma = r["ellison_glaeser"]
        it.add_row(r["item"], _num(r["pci"], "{:.2f}"), _num(r["ubiquity"]), _num(r["hoover"], "{:.3f}"),
                   _num(r["locational_gini"], "{:.3f}"), "–" if gamma != gamma else f"{gamma:.4f}")
    out.append(it)
    return out


def related_table(item: str, rows: pa.Table) -> Table:
    """An item's most related partners."""
    table = Table(title=f"Most related to {item}", title_justify="left", header_style="bold")
    for col in ("#", "Related", "Proximity", "Co-location r", "Co-agglomeration"):
        table.add_column(col, justify="right" if col != "Related" else "left")
    for r in rows.to_pylist():
        table.add_row(str(r["rank"]), r["related"], _num(r["proximity"], "{:.3f}"), _num(r["colocation"], "{:.3f}"),
                      _num(r["coagglomeration"], "{:.4f}"))
    return table


SHIFT_SHARE_PARTS = ("change", "national_share", "industry_mix", "regional_share", "competitive", "allocation")


def shift_share_table(totals: list[dict], title: str) -> Table:
    """Shift-share components summed by region (or listed by item for one region)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Region / item")
    for col in ("Change", "National", "Industry mix", "Regional", "Competitive", "Allocation"):
        table.add_column(col, justify="right")
    for r in totals:
        table.add_row(r["key"], *(_num(r[p], "{:+,.0f}") for p in SHIFT_SHARE_PARTS))
    return table


def hotspot_table(rows: pa.Table) -> Table:
    """Items by global Moran's I, with their high-high hot spots."""
    table = Table(title="Spatial concentration (global Moran's I) and hot spots (LISA high-high, FDR)",
                  title_justify="left", header_style="bold")
    for col, justify in (("Item", "left"), ("Moran's I", "right"), ("p", "right"), ("Hot spots", "right"),
                         ("Regions", "left")):
        table.add_column(col, justify=justify)
    for r in rows.to_pylist():
        table.add_row(r["item"], _num(r["moran_i"], "{:.3f}"), _num(r["p_sim"], "{:.3f}"), str(r["hot"]),
                      r["regions"] or "")
    return table


def validation_table(scores: dict[str, dict[str, float]]) -> Table:
    """Validation scores of a derived definition, per linkage measure."""
    table = Table(title="Validation (share of industries / clusters more linked inside than to any other cluster)",
                  title_justify="left", header_style="bold")
    for col in ("Linkage", "Industries", "Clusters", "Mean margin"):
        table.add_column(col, justify="left" if col == "Linkage" else "right")
    for name, s in scores.items():
        table.add_row(name, f"{s['vs_industry']:.1%}", f"{s['vs_cluster']:.1%}", f"{s['margin']:.3f}")
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
        table = Table(title=f"{split.num_rows:,} target codes whose sources sit in several clusters "
                            "(lowest purity first)", title_justify="left", header_style="bold")
        for col in ("Code", "Cluster chosen", "Purity", "Also from"):
            table.add_column(col, justify="right" if col == "Purity" else "left")
        for r in sorted(split.to_pylist(), key=lambda r: r["purity"])[:limit]:
            table.add_row(r["industry"], r["cluster"], _pct(r["purity"]), r["alternatives"])
        parts.append(table)
    if lost.num_rows:
        codes = ", ".join(f"{r['industry']} ({r['cluster']})" for r in lost.to_pylist()[:limit])
        more = f" and {lost.num_rows - limit:,} more" if lost.num_rows > limit else ""
        parts.append(f"[yellow]note:[/] {lost.num_rows:,} code(s) of the definition have no target in the "
                     f"concordance and are left out: {codes}{more}.")
    return Group(*parts)


def averages_table(table: pa.Table, fw, reference: pa.Table | None = None) -> Table:
    """Mean points per factor, a column per group × framework column (and the published figures beside)."""
    groups = list(dict.fromkeys(table["group"].to_pylist()))
    columns = [c.id for c in fw.columns if c.id in set(table["column"].to_pylist())]
    counts = {g: n for g, n in zip(table["group"].to_pylist(), table["assessments"].to_pylist(), strict=True)}
    out = Table(title=f"{fw.name} / {fw.name_ja or ''}: mean points (unmarked = 0)", title_justify="left",
                header_style="bold")
    out.add_column("Factor / 要素")
    keys = []
    for g in groups:
        for c in columns:
            label = fw.column(c).name_ja or c
            out.add_column(f"{g} (n={counts[g]})\n{label}", justify="right")
            keys.append((g, c, None))
            if reference is not None:
                out.add_column(f"published\n{g}", justify="right", style="dim")
                keys.append((g, c, "ref"))
    means = {(r["group"], r["column"], r["factor"]): r["mean"] for r in table.to_pylist()}
    ref = {(r["group"], r["column"], r["factor"]): r["mean"] for r in reference.to_pylist()} if reference else {}
    for f in fw.factors:
        cells = []
        for g, c, kind in keys:
            value = ref.get((g, c, f.id)) if kind else means.get((g, c, f.id))
            cells.append("" if value is None else f"{value:.1f}")
        out.add_row(f"{f.number or ''} {_label(f.name, f.name_ja, f.id)}".strip(), *cells)
    return out


def gap_table(table: pa.Table, now: str, then: str, title: str) -> Table:
    """A gap profile: points now, points to promote, and the difference, factor by factor."""
    out = Table(title=title, title_justify="left", header_style="bold")
    for col in ("Factor / 要素", now, then, "Gap"):
        out.add_column(col, justify="left" if col.startswith("Factor") else "right")
    for r in table.to_pylist():
        if r[now] or r[then]:
            out.add_row(f"{r['number'] or ''} {_label(r['name'], r['name_ja'], r['factor'])}".strip(),
                        f"{r[now]:g}", f"{r[then]:g}", f"{r['gap']:+g}")
    return out


def plain_table(rows: list[dict], title: str, columns: list[str] | None = None, limit: int = 100) -> Table:
    """Any list of records as a table (numbers right-aligned)."""
    out = Table(title=title, title_justify="left", header_style="bold")
    columns = columns or (list(rows[0]) if rows else [])
    for c in columns:
        numeric = any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
        out.add_column(c, justify="right" if numeric else "left")
    for r in rows[:limit]:
        out.add_row(*[("" if r.get(c) is None else f"{r[c]:,.3g}" if isinstance(r[c], float) else str(r[c]))
                      for c in columns])
    return out
