"""Hand-worked examples of every rating rule, through the stateless CLI.

The economy (one year, 2020), employment (establishments):

    region  a1 (A)    a2 (A)   b1 (B)    l1 (L, local)  u1 (unmapped)  total
    R1      300 (10)  100 (5)  50 (4)    400 (40)       150 (3)        1000
    R2       20 (2)   -        300 (12)  150 (15)        30 (1)         500
    R3       60 (3)    40 (2)  100 (6)   300 (20)       -               500
    R4      -         -         50 (2)   450 (30)       -               500

Reference (sum of regions): A 520, B 500, L 1300, unmapped 180, E 2500;
traded 1020, local 1300.
"""

from __future__ import annotations

import csv

import pytest

from tests.conftest import invoke

OBS = """region,industry,year,employment,establishments
R1,a1,2020,300,10
R1,a2,2020,100,5
R1,b1,2020,50,4
R1,l1,2020,400,40
R1,u1,2020,150,3
R2,a1,2020,20,2
R2,b1,2020,300,12
R2,l1,2020,150,15
R2,u1,2020,30,1
R3,a1,2020,60,3
R3,a2,2020,40,2
R3,b1,2020,100,6
R3,l1,2020,300,20
R4,b1,2020,50,2
R4,l1,2020,450,30
"""
DEFS = """industry,cluster,type
a1,A,traded
a2,A,traded
b1,B,traded
l1,L,local
"""


@pytest.fixture
def result(tmp_path, runner):
    (tmp_path / "obs.csv").write_text(OBS)
    (tmp_path / "defs.csv").write_text(DEFS)
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", tmp_path / "obs.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", out, "--regions-out", tmp_path / "regions.csv")
    assert res.exit_code == 0, res.output
    rows = {(r["region"], r["cluster"]): r for r in csv.DictReader(out.open())}
    regions = {r["region"]: r for r in csv.DictReader((tmp_path / "regions.csv").open())}
    return rows, regions, res.output


def test_required_columns_and_booleans(result):
    rows, _, _ = result
    row = rows[("R1", "A")]
    for col in ("region", "cluster", "year", "employment", "establishments", "lq", "lq_within_type", "size",
                "specialization", "focus", "stars", "strong", "strong10"):
        assert col in row
    assert {row["size"], row["strong"], rows[("R2", "A")]["strong"]} == {"true", "false"}


def test_location_quotients(result):
    rows, _, _ = result
    # lq = (e_rc / e_r) / (E_c / E); lq_within_type uses traded (local) employment instead of e_r and E.
    expected = {
        ("R1", "A"): ((400 / 1000) / (520 / 2500), (400 / 450) / (520 / 1020)),
        ("R2", "A"): ((20 / 500) / (520 / 2500), (20 / 320) / (520 / 1020)),
        ("R2", "B"): ((300 / 500) / (500 / 2500), (300 / 320) / (500 / 1020)),
        ("R4", "B"): ((50 / 500) / (500 / 2500), (50 / 50) / (500 / 1020)),
        ("R4", "L"): ((450 / 500) / (1300 / 2500), (450 / 450) / (1300 / 1300)),
    }
    for key, (lq, lqt) in expected.items():
        assert float(rows[key]["lq"]) == pytest.approx(lq, rel=1e-12), key
        assert float(rows[key]["lq_within_type"]) == pytest.approx(lqt, rel=1e-12), key
    assert float(rows[("R1", "A")]["share_of_region"]) == pytest.approx(0.4)
    assert float(rows[("R1", "A")]["share_of_cluster"]) == pytest.approx(400 / 520)


def test_eco_stars(result):
    rows, _, _ = result
    # A: size cut = P90 of [20, 100, 400] = 100 + 0.8 * 300 = 340; focus cut = P90 of shares
    # [0.04, 0.2, 0.4] = 0.36; R1 (400, 0.4, lq 1.92) -> size + focus, no specialisation = 2 stars.
    r1a = rows[("R1", "A")]
    assert (r1a["size"], r1a["specialization"], r1a["focus"], r1a["stars"]) == ("true", "false", "true", "2")
    # B: size cut P90 [50, 50, 100, 300] = 240, focus cut = 0.48; R2 (300, 0.6, lq 3.0) -> 3 stars.
    assert rows[("R2", "B")]["stars"] == "3"
    assert rows[("R3", "B")]["stars"] == "0"
    # L (local clusters get stars too): R4 450 >= 435 and 0.9 >= 0.81, lq 1.73 < 2 -> 2 stars.
    assert rows[("R4", "L")]["stars"] == "2"
    assert rows[("R4", "L")]["specialization"] == "false"


def test_us_strong_clusters(result):
    rows, regions, _ = result
    # A: lqt R1 1.7436, R2 0.1226, R3 0.9808; P90 = 0.9808 + 0.8 * 0.7628 = 1.5910;
    # emp P25 = 60, est P25 = 3.5 -> R1 is strong and strong10.
    r1a = rows[("R1", "A")]
    assert (r1a["qualifying"], r1a["significant"], r1a["strong"], r1a["strong10"]) == ("true",) * 4
    # R3: lqt equals the median exactly: "significant" needs lqt > P50, so only qualifying.
    r3a = rows[("R3", "A")]
    assert (r3a["qualifying"], r3a["significant"], r3a["strong"]) == ("true", "false", "false")
    # B: lqt sorted [0.2267, 1.02, 1.9125, 2.04]; P75 = 1.9444; emp P25 = 50 (strictly greater needed).
    r2b = rows[("R2", "B")]  # 1.9125 < P75: significant, not strong
    assert (r2b["significant"], r2b["strong"]) == ("true", "false")
    r4b = rows[("R4", "B")]  # lqt 2.04 >= P90 but 50 jobs is not > P25 = 50: nothing
    assert (r4b["qualifying"], r4b["strong"], r4b["strong10"]) == ("false", "false", "false")
    assert rows[("R4", "L")]["strong"] == "false"  # local clusters are not rated strong
    # cluster strength R1 = strong traded employment / traded employment = 400 / 450
    assert float(regions["R1"]["cluster_strength"]) == pytest.approx(400 / 450)
    assert float(regions["R2"]["cluster_strength"]) == 0.0
    assert float(regions["R1"]["unmapped_employment"]) == 150


def test_unmapped_industries_are_reported(result):
    _, _, output = result
    text = " ".join(output.split())
    assert "│ u1 │ 180 │ 2 │" in text
    assert "92.8% of employment mapped" in text  # 1 - 180 / 2500


def test_strict_fails_on_unmapped(tmp_path, runner):
    (tmp_path / "obs.csv").write_text(OBS)
    (tmp_path / "defs.csv").write_text(DEFS)
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", tmp_path / "obs.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", out, "--strict")
    assert res.exit_code == 2
    assert "u1 (180 jobs)" in res.stderr
    assert not out.exists()


def test_reference_totals_change_the_denominator(tmp_path, runner):
    (tmp_path / "obs.csv").write_text(OBS)
    (tmp_path / "defs.csv").write_text(DEFS)
    # a nation twice the size of the regions, with the same mix except twice as much A
    (tmp_path / "ref.csv").write_text("industry,year,employment\na1,2020,1040\nb1,2020,1000\n"
                                      "l1,2020,2600\nu1,2020,360\n")
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", tmp_path / "obs.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", out, "--reference-totals", tmp_path / "ref.csv")
    assert res.exit_code == 0, res.output
    rows = {(r["region"], r["cluster"]): r for r in csv.DictReader(out.open())}
    # E = 5000, E_A = 1040: lq(R1, A) = 0.4 / 0.208, unchanged; E_traded = 2040
    assert float(rows[("R1", "A")]["lq"]) == pytest.approx((400 / 1000) / (1040 / 5000))
    assert float(rows[("R1", "A")]["lq_within_type"]) == pytest.approx((400 / 450) / (1040 / 2040))
    assert float(rows[("R1", "A")]["share_of_cluster"]) == pytest.approx(400 / 1040)


def test_growth_and_cagr(tmp_path, runner):
    (tmp_path / "obs.csv").write_text(
        "region,industry,year,employment\nR1,a1,2018,100\nR1,a1,2020,121\nR2,a1,2018,50\nR2,a1,2020,40\n"
        "R1,b1,2018,10\nR1,b1,2020,10\nR2,b1,2018,10\nR2,b1,2020,10\n")
    (tmp_path / "defs.csv").write_text(DEFS)
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", tmp_path / "obs.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", out)
    assert res.exit_code == 0, res.output
    rows = {(r["region"], r["cluster"], r["year"]): r for r in csv.DictReader(out.open())}
    assert float(rows[("R1", "A", "2020")]["employment_cagr"]) == pytest.approx(0.10)  # (121/100)^(1/2) - 1
    assert float(rows[("R1", "A", "2020")]["employment_change"]) == 21
    assert float(rows[("R2", "A", "2020")]["employment_cagr"]) == pytest.approx((40 / 50) ** 0.5 - 1)
    assert rows[("R1", "A", "2018")]["employment_cagr"] == ""  # undefined in the base year


def test_year_option_keeps_one_year(tmp_path, runner):
    (tmp_path / "obs.csv").write_text("region,industry,year,employment\nR1,a1,2018,100\nR1,a1,2020,121\n"
                                      "R2,a1,2020,5\n")
    (tmp_path / "defs.csv").write_text(DEFS)
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", tmp_path / "obs.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", out, "--year", "2020")
    assert res.exit_code == 0, res.output
    assert {r["year"] for r in csv.DictReader(out.open())} == {"2020"}


@pytest.mark.parametrize("by_subcluster", [False, True])
def test_each_cluster_keeps_its_type_and_an_unmapped_code_stays_apart(by_subcluster):
    """Sums are grouped by whether an industry is mapped and take their cluster's type afterwards: a mapped
    industry without a subcluster keeps its cluster's type, and an unmapped industry whose code happens to be
    a cluster's name stays its own row with no type (worked by hand)."""
    import narwhals as nw
    import polars as pl

    from clusteratlas.metrics.aggregate import to_clusters

    obs = pl.DataFrame({"region": ["R"] * 4, "industry": ["i1", "i2", "i3", "C1"], "year": [2020] * 4,
                        "employment": [10.0, 20.0, 30.0, 5.0]})
    defs = pl.DataFrame({"industry": ["i1", "i2", "i3"], "cluster": ["C1", "C1", "L1"],
                         "subcluster": ["S1", None, "L1a"], "type": ["traded", "traded", "local"]})
    out = to_clusters(nw.from_native(obs.lazy()), nw.from_native(defs.lazy()), by_subcluster=by_subcluster)
    rows = out.collect().to_native()
    keys = ["cluster", "subcluster"] if by_subcluster else ["cluster"]
    got = sorted((tuple(r[k] or "" for k in keys), r["type"] or "", r["employment"])
                 for r in rows.select(*keys, "type", "employment").to_dicts())
    if by_subcluster:
        expected = [(("C1", ""), "", 5.0), (("C1", ""), "traded", 20.0), (("C1", "S1"), "traded", 10.0),
                    (("L1", "L1a"), "local", 30.0)]
    else:
        expected = [(("C1",), "", 5.0), (("C1",), "traded", 30.0), (("L1",), "local", 30.0)]
    assert got == expected


def test_a_cluster_given_two_types_is_refused_by_the_library_too():
    """An import refuses such a definition; handed to the library (or to Spark) directly it must not be
    quietly given one of the two types."""
    import narwhals as nw
    import polars as pl

    from clusteratlas.errors import InputError
    from clusteratlas.metrics.aggregate import to_clusters

    obs = pl.DataFrame({"region": ["R", "R"], "industry": ["i1", "i2"], "year": [2020, 2020],
                        "employment": [10.0, 20.0]})
    defs = pl.DataFrame({"industry": ["i1", "i2"], "cluster": ["C", "C"], "type": ["traded", "local"]})
    with pytest.raises(InputError, match="more than one type") as caught:
        to_clusters(nw.from_native(obs.lazy()), nw.from_native(defs.lazy())).collect()
    assert "cluster C is given more than one type" in str(caught.value)
