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


def test_programme_regions_roll_up_from_their_cities_with_a_coverage_warning(mapped, tmp_path, runner):
    atlas = _copy(mapped, tmp_path)
    with Atlas(atlas) as a:
        members = dict(a.con.execute("SELECT region, list(member ORDER BY member) FROM custom_members "
                                     "GROUP BY region").fetchall())
        jobs = dict(a.con.execute("SELECT region, employment FROM results_regions").fetchall())
    assert members["nistep-candidates:sapporo"] == ["01100"]  # the city row, not all of Hokkaido
    assert jobs["nistep-candidates:sapporo"] == jobs["01100"] < jobs["01000"]
    assert members["nistep-candidates:kobe"] == ["28000"]  # Kobe city is not in the extract
    res = invoke(runner, "reference", "jp-programmes", "--verbose", "--atlas", atlas)  # each region: --verbose
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "nistep-candidates:kobe: Kobe City (28100) not in the data, rated from Hyogo (28000)" in text
    assert ("knowledge-cluster:toyama-ishikawa: 1 of 2 listed prefectures in the data (50%); missing Ishikawa "
            "(17000)") in text
    res = invoke(runner, "show", "region", "nistep-candidates:kobe", "--atlas", atlas)
    text = " ".join(res.output.split())
    assert "coverage: Kobe City (28100) not in the data" in text
    assert re.search(r"declared field Bio: Biopharmaceuticals LQ \d\.\d\d.*Medical Devices LQ \d\.\d\d", text), text
    res = invoke(runner, "show", "region", "nistep-candidates:sapporo", "--atlas", atlas)
    assert "declared field IT: Information Technology" in " ".join(res.output.split())
    assert "coverage" not in res.output


def _table_rows(output: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("│").split("│")] for line in output.splitlines() if line.startswith("│")]


def test_show_region_ranks_by_stars_then_jobs_and_says_how_few_the_peers_are(mapped, runner):
    res = invoke(runner, "show", "region", "01000", "--atlas", mapped, "--wide")
    assert res.exit_code == 0, res.output
    rows = _table_rows(res.output)
    header = [c.strip() for c in next(line for line in res.output.splitlines() if line.startswith("┃"))
              .strip("┃").split("┃")]
    keys = [(len(r[header.index("Stars")].strip("·")), float(r[header.index("Employment")].replace(",", "")))
            for r in rows]
    assert keys == sorted(keys, reverse=True)  # Hokkaido's 618 coal-mining jobs (LQ 17) no longer come first
    text = " ".join(res.output.split())
    with Atlas(mapped) as a:
        n = a.con.execute("SELECT count(DISTINCT region) FROM results_clusters WHERE level = 'prefecture'"
                          ).fetchall()[0][0]
    assert f"only {n} prefecture regions" in text and f"about {-(-n // 10)} region(s)" in text
    res = invoke(runner, "show", "region", "01000", "--atlas", mapped, "--wide", "--min-employment", "1000")
    jobs = [float(r[header.index("Employment")].replace(",", "")) for r in _table_rows(res.output)]
    assert jobs and min(jobs) >= 1000 and len(jobs) < len(rows)
