"""Terminal tables that stay readable in 80 columns: columns chosen by width, --wide for all (issue 9, item 17)."""

from __future__ import annotations

import pyarrow as pa
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from clusteratlas import Atlas
from clusteratlas.report import (
    MISSING,
    cluster_table,
    hotspot_table,
    plain_table,
    region_table,
    relate_tables,
    related_table,
    shift_share_table,
)
from tests.conftest import invoke

NAN = float("nan")


def _body_lines(text: str) -> list[str]:
    """Table body rows: lines between vertical rules with at least two columns (panels have one)."""
    return [line for line in text.splitlines() if line.startswith("│") and line.count("│") >= 3]


def _render(renderable, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None, legacy_windows=False)
    console.print(renderable, crop=False)
    return console.export_text(styles=False)


def _region_rows(n: int, *, nan: bool = False) -> tuple[dict, pa.Table]:
    summary = {"region": "S1C1", "name": "North County 1", "name_ja": "北第1郡", "year": 2020,
               "employment": 1_343_224.0, "traded_employment": 1_088_355.0, "strong_clusters": 1,
               "cluster_strength": NAN if nan else 0.317}
    rows = [{"cluster": f"C{i:02d}", "cluster_name": "Marketing, Design, and Publishing", "cluster_name_ja":
             "マーケティング・デザイン・出版", "type": "traded", "employment": 54_645.0 + i,
             "share_of_region": NAN if nan else 0.041, "lq": NAN if nan else 0.88, "lq_within_type": None,
             "stars": 1, "strong": False, "significant": i == 0, "qualifying": False,
             "average_wage": NAN if nan else 39.8, "employment_cagr": NAN if nan else 0.016,
             "estimated": i % 2 == 0, "estimated_share": 0.14} for i in range(n)]
    return summary, pa.Table.from_pylist(rows)


def test_every_table_fits_80_columns_without_wrapping():
    summary, rows = _region_rows(12)
    clusters = pa.Table.from_pylist([{"region": f"R{i}", "name": "Southern Appalachian Economic Area", "name_ja":
                                      None, "level": "economic_area", "employment": 1e6, "lq": 1.5, "stars": 3,
                                      "strong": True, "employment_cagr": -0.01, "estimated": False,
                                      "cluster_name": "Automotive", "cluster_name_ja": "自動車", "year": 2020}
                                     for i in range(5)])
    regions = pa.Table.from_pylist([{"region": f"R{i}", "eci": 1.0 * i, "diversity": 12.0, "coi": 0.4,
                                     "hhi": 0.1, "krugman": 0.5, "total_variety": 3.2} for i in range(4)])
    items = pa.Table.from_pylist([{"item": f"Item {i}", "pci": 0.5 * i, "ubiquity": 3.0, "hoover": 0.3,
                                   "locational_gini": 0.2, "ellison_glaeser": 0.01} for i in range(4)])
    related = pa.Table.from_pylist([{"rank": 1, "related": "Biopharmaceuticals / バイオ医薬品 (C06)",
                                     "proximity": 0.5, "colocation": 0.4, "coagglomeration": 0.001}])
    shares = [{"key": "Some Long Region Name, State", "change": 12345.0, "national_share": 1000.0,
               "industry_mix": -2000.0, "regional_share": 13345.0, "competitive": 100.0, "allocation": -5.0}]
    hot = pa.Table.from_pylist([{"item": "Automotive", "moran_i": 0.41, "p_sim": 0.001, "hot": 12,
                                 "regions": ", ".join(f"R{i:03d}" for i in range(60))}])
    tables = [region_table(summary, rows), cluster_table("C01", clusters), *relate_tables(regions, items, "cluster"),
              related_table("C01", related), shift_share_table(shares, "Shift-share"), hotspot_table(hot),
              plain_table([{"name": "x" * 60, "a": 1.5, "b": 2, "c": "a long text value " * 3}], "Plain")]
    for table in tables:
        text = _render(table)
        assert all(cell_len(line) <= 80 for line in text.splitlines()), text
        assert len(_body_lines(text)) == table.row_count, text  # one line per row: no cell wrapped
    text = _render(tables[0])
    assert "column(s) hidden" in text and "--wide" in text
    assert "Jobs" in text and "LQ" in text and "Stars" in text  # the most important columns stay
    wide = region_table(summary, rows, wide=True)
    text = _render(wide)
    assert "Avg wage" in text and "LQ (type)" in text and "hidden" not in text
    assert len(_body_lines(text)) == wide.row_count


def test_missing_and_undefined_values_show_as_a_dash():
    summary, rows = _region_rows(2, nan=True)
    text = _render(region_table(summary, rows, wide=True), width=200)
    assert "nan" not in text.lower() and MISSING in text
    assert f"cluster strength {MISSING}" in " ".join(text.split())
    items = pa.Table.from_pylist([{"item": "A", "pci": NAN, "ubiquity": None, "hoover": NAN,
                                   "locational_gini": NAN, "ellison_glaeser": NAN}])
    regions = pa.Table.from_pylist([{"region": "R", "eci": None, "diversity": 0.0, "coi": NAN, "hhi": NAN,
                                     "krugman": NAN, "total_variety": NAN}])
    for table in relate_tables(regions, items, "cluster", wide=True):
        text = _render(table, width=200)
        assert "nan" not in text.lower() and text.count(MISSING) >= 4
    assert MISSING in _render(plain_table([{"a": NAN, "b": None}], "t"))


def test_demo_at_80_columns_and_wide(tmp_path):
    narrow = CliRunner(env={"COLUMNS": "80"})
    atlas = tmp_path / "demo.duckdb"
    res = invoke(narrow, "demo", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    with Atlas(atlas) as a:
        top = a.con.execute("SELECT region FROM results_regions WHERE level = 'county' "
                            "ORDER BY three_star_clusters DESC, employment DESC LIMIT 1").fetchall()[0][0]
        n_rows = a.region_profile(top)[1].num_rows + a.cluster_profile("C01", top=8).num_rows
    n_rows += 3  # the demo network's three top coordinators
    assert all(cell_len(line) <= 80 for line in res.output.splitlines()), res.output
    assert len(_body_lines(res.output)) == n_rows, res.output  # every row on one line
    assert "use --wide" in " ".join(res.output.split())
    res = invoke(narrow, "demo", "--atlas", tmp_path / "wide.duckdb", "--wide")
    assert res.exit_code == 0 and "Avg wage" in res.output and "LQ (type)" in res.output
    assert len(_body_lines(res.output)) == n_rows


def test_show_region_at_80_columns(mapped_atlas):
    narrow = CliRunner(env={"COLUMNS": "80"})
    res = invoke(narrow, "show", "region", "S2C3", "--atlas", mapped_atlas)
    assert res.exit_code == 0, res.output
    with Atlas(mapped_atlas) as a:
        n = a.region_profile("S2C3")[1].num_rows
    assert len(_body_lines(res.output)) == n and all(cell_len(line) <= 80 for line in res.output.splitlines())
    res = invoke(narrow, "show", "cluster", "C01", "--atlas", mapped_atlas, "--wide")
    assert res.exit_code == 0 and "Level" in res.output and "hidden" not in res.output
