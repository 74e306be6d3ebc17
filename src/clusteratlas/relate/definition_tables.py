"""Terminal tables for ``clusteratlas define``: validation beside chance, comparison with a reference."""

from __future__ import annotations

from clusteratlas.report import Col, FitTable, _num


def define_validation_table(scores: dict[str, dict[str, float]], *, wide: bool = False) -> FitTable:
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
