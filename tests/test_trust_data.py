"""Issue 19, the data and method items: every figure equal to its definition on the data users really have.

Items 6 (complexity of a disconnected network), 9 (peer conventions), 12 (NUTS one level at a time),
13 (designated cities), 14 (per-column limits), 15 (analyses of an atlas without observations) and
16 (hot-spot power); items 7 (CBP region totals), 10 (CORDIS roles and money) and 11 (directed ties)
have their own modules (test_cbp_totals.py, test_network_money.py, test_directed_ties.py).
"""

from __future__ import annotations

import pytest

from tests.conftest import invoke


# ------------------------------------------------------------------ item 15: no observations
@pytest.mark.parametrize("args", [
    ["relate", "--by", "industry"], ["relate", "--by", "industry", "--year", "2020"],
    ["hotspots", "--by", "industry"], ["shift-share", "2019", "2020", "--by", "industry"],
    ["define", "--out", "d.csv"]])
def test_analyses_after_a_failed_import_say_there_are_no_observations(tmp_path, runner, args):
    atlas = tmp_path / "a.duckdb"
    bad = tmp_path / "obs.csv"
    bad.write_text("region,industry,year,employment\nA,11,2020,ten\n", encoding="utf-8")
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "observations", bad, "--atlas", atlas).exit_code == 2
    res = invoke(runner, *[str(tmp_path / a) if a == "d.csv" else a for a in args], "--atlas", atlas)
    assert res.exit_code == 2, res.output
    assert "no observations" in res.output and "several region levels" not in res.output, res.output


def test_an_analysis_of_a_year_without_observations_names_the_years_there_are(mapped_atlas, runner):
    res = invoke(runner, "relate", "--by", "industry", "--year", "1990", "--atlas", mapped_atlas)
    assert res.exit_code == 2
    assert "no observations for this year" in res.output and "several region levels" not in res.output
