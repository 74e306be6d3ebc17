"""Issue 15, the remaining items, on the 2014 Economic Census extract in ../shared/data/jp: names in the
relatedness output, programme regions from municipalities, small-N honesty, Japanese output."""

from __future__ import annotations

import re

import pytest

from clusteratlas import Atlas
from clusteratlas.reference import jp_benchmark
from clusteratlas.sources.jp_census import import_census
from tests.conftest import invoke, shared_file

pytestmark = pytest.mark.realdata
EXTRACT = "jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv"


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """The extract with the JSIC benchmark and the programme registry, mapped (prefectures, cities, programmes)."""
    path = tmp_path_factory.mktemp("jp") / "jp.duckdb"
    with Atlas(path, create=True) as atlas:
        import_census(atlas, shared_file(EXTRACT), name="census2014", year=2014)
        atlas.import_table("definitions", jp_benchmark.definitions(13), name="jp-benchmark-jsic13")
        atlas.import_table("industries", jp_benchmark.industries(13), name="jsic13")
        atlas.load_programmes()
        atlas.map("jp-benchmark-jsic13", levels=["custom"])
    return path


def _copy(mapped, tmp_path):
    target = tmp_path / "jp.duckdb"
    target.write_bytes(mapped.read_bytes())
    return target


def test_relate_and_show_related_print_names_not_codes(mapped, tmp_path, runner):
    atlas = _copy(mapped, tmp_path)
    res = invoke(runner, "relate", "--by", "industry", "--level", "prefecture", "--atlas", atlas, "--wide")
    assert res.exit_code == 0, res.output
    complex_regions = res.output.split("Most complex regions")[1].split("Most complex industries")[0]
    assert re.search(r"[A-Z][a-z]+ \(\d{2}000\)", complex_regions), complex_regions  # "Kagoshima (46000)"
    assert "(" in res.output.split("Most complex industries")[1]  # named industries, code in brackets
    res = invoke(runner, "show", "related", "391", "--atlas", atlas, "--wide")
    assert res.exit_code == 0, res.output
    assert "Most related to Software services (391)" in res.output or "(391)" in res.output.splitlines()[0]
    body = [line for line in res.output.splitlines() if line.startswith("│")]
    assert body and all(re.search(r"\(\d{3}\)", line) for line in body), res.output  # name (code) per partner
    res = invoke(runner, "--lang", "ja", "show", "related", "391", "--atlas", atlas, "--wide")
    assert "ソフトウェア業" in res.output, res.output
