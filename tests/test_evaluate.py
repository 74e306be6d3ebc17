"""Qualitative evaluation: frameworks as data, assessments with history, analyses, the registry,
the NISTEP (2004) reference, composite scoreboards, reports."""

from __future__ import annotations

import csv
import math
from collections import Counter

import numpy as np
import pytest

from clusteratlas import Atlas
from clusteratlas.errors import InputError
from clusteratlas.evaluate.analysis import average_points, distribution, gap_profile, over_time
from clusteratlas.evaluate.frameworks import builtin_frameworks, load_framework
from clusteratlas.evaluate.scoreboard import aggregate, composite, normalise, sensitivity
from clusteratlas.reference.programmes import (
    nistep_profiles_path,
    nistep_published_averages,
    programme_table,
    registry,
)
from tests.conftest import atlas_fingerprint, invoke, query_atlas

HEADER = ["assessment", "framework", "subject", "assessor", "assessed_on", "tag:formation_base", "factor", "column",
          "value", "evidence"]


def write_assessments(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def marks(aid, subject, base, formation, promote, assessor="analyst", date="2024-04-01"):
    """Rows of one ◎○△ assessment: three factors per column in order ◎, ○, △."""
    rows = []
    for column, factors in (("formation", formation), ("promote", promote)):
        for mark, factor in zip("◎○△", factors, strict=True):
            rows.append([aid, "nistep-jp-15", subject, assessor, date, base, factor, column, mark, f"{factor} note"])
    return rows


@pytest.fixture
def atlas(tmp_path):
    path = tmp_path / "a.duckdb"
    Atlas(path, create=True).close()
    return path


def test_builtin_frameworks_are_the_sources():
    fws = builtin_frameworks()
    jp = fws["nistep-jp-15"]
    assert len(jp.factors) == 15
    assert Counter(f.group for f in jp.factors) == {"formation": 6, "promotion": 5, "output": 4}
    assert [(v.value, v.points) for v in jp.scales["marks"].values] == [("◎", 3), ("○", 2), ("△", 1)]
    assert jp.factor("knowledge").name_ja == "知的集積"
    west = fws["nistep-western-16"]
    assert len(west.factors) == 16 and len(west.groups) == 11
    assert len(fws["incubator-review-fr-2003"].factors) == 9  # 7 indicators, the rank, the TTO link
    assert len(fws["jetro-internationalisation"].factors) == 6  # 2 basic + 4 practice
    assert len(fws["creation-types"].scales["creation"].values) == 4
    imd = fws["imd-wcy-2004"]
    assert len(imd.groups) == 4 and Counter(f.group for f in imd.factors) == dict.fromkeys(
        [g.id for g in imd.groups], 5)
    phases = fws["cluster-phases"]
    assert [len(phases.scales[s].values) for s in ("nistep_phase", "life_cycle", "development_stage")] == [3, 4, 5]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("id: my-fw", "id: My FW"), "does not match"),
    (lambda t: t.replace("scale: stars", "scale: nope"), "unknown scale"),
    (lambda t: t.replace("group: g1", "group: g9"), "unknown group"),
    (lambda t: t.replace("    rule: each_once\n", ""), "needs a rule"),
    (lambda t: t.replace("{value: b, points: 1", "{value: a, points: 1"), "lists a value twice"),
    (lambda t: t.replace("version: '1'\n", ""), "'version' is a required property"),
    (lambda t: t + "colour: red\n", "Additional properties"),
    (lambda t: t.replace("factors:", "factors: [", 1), "cannot read as YAML"),
])
def test_invalid_framework_files(tmp_path, edit, message):
    good = """id: my-fw
version: '1'
name: Mine
scales:
  stars:
    kind: ranked
    rule: each_once
    values:
      - {value: a, points: 2, name: A}
      - {value: b, points: 1, name: B}
columns:
  - {id: now, name: Now, scale: stars}
groups:
  - {id: g1, name: G}
factors:
  - {id: f1, name: F1, group: g1}
  - {id: f2, name: F2, group: g1}
  - {id: f3, name: F3, group: g1}
"""
    path = tmp_path / "fw.yaml"
    path.write_text(good)
    assert load_framework(path).id == "my-fw"
    path.write_text(edit(good))
    with pytest.raises(InputError, match=message) as info:
        load_framework(path)
    assert str(path) in str(info.value)


def test_user_framework_is_versioned_in_the_atlas(tmp_path, atlas, runner):
    fw = tmp_path / "fw.yaml"
    text = ("id: my-fw\nversion: '1'\nname: Mine\nscales:\n  s: {kind: ordinal, values: [{value: '1', points: 1, "
            "name: low}, {value: '2', points: 2, name: high}]}\ncolumns: [{id: c, name: C, scale: s}]\n"
            "factors: [{id: f1, name: F1}, {id: f2, name: F2}]\n")
    fw.write_text(text)
    assert invoke(runner, "assess", "check-framework", fw).exit_code == 0
    assert "Stored framework my-fw 1" in invoke(runner, "assess", "add-framework", fw, "--atlas", atlas).output
    fw.write_text(text.replace("name: Mine", "name: Mine, changed"))
    res = invoke(runner, "assess", "add-framework", fw, "--atlas", atlas)
    assert res.exit_code == 2 and "give the changed framework a new version" in res.output.lower()
    path = write_assessments(tmp_path / "a.csv", [["x1", "my-fw", "s1", "me", "2024", "", "f1", "", "2", ""]])
    assert invoke(runner, "assess", "import", path, "--atlas", atlas).exit_code == 0


def test_nistep_published_table_is_a_complete_marks_procedure():
    """The published averages are what the ◎○△ procedure gives on 7 and 6 complete assessments: every mean is
    a whole number of points over n to one decimal, and each column's points add up to 6 per assessment."""
    table = nistep_published_averages().to_pylist()
    fw = builtin_frameworks()["nistep-jp-15"]
    assert len(table) == 15 * 2 * 2 and {r["factor"] for r in table} == {f.id for f in fw.factors}
    for group, n in (("knowledge", 7), ("enterprise", 6)):
        for column in ("formation", "promote"):
            rows = [r for r in table if r["group"] == group and r["column"] == column]
            totals = [round(r["mean"] * n) for r in rows]
            assert all(round(t / n, 1) == pytest.approx(r["mean"]) for t, r in zip(totals, rows, strict=True))
            assert sum(totals) == 6 * n  # ◎ 3 + ○ 2 + △ 1 per assessment
    # the source's comparison: knowledge agglomeration 1.7 / 0.0 against 0.0 / 0.3
    pick = {(r["group"], r["column"], r["factor"]): r["mean"] for r in table}
    assert (pick[("knowledge", "formation", "knowledge")], pick[("knowledge", "promote", "knowledge")]) == (1.7, 0.0)
    assert (pick[("enterprise", "formation", "knowledge")], pick[("enterprise", "promote", "knowledge")]) == (0.0, 0.3)


def test_averaging_procedure_on_the_worked_profiles(atlas):
    with Atlas(atlas) as a:
        a.import_assessments(nistep_profiles_path())
        items = a.assessments(framework="nistep-jp-15")
        fw = a.framework("nistep-jp-15")
    assert {i.subject for i in items} == {"sapporo-it", "fukui-nano", "kobe-bio"}
    table = average_points(items, fw).to_pylist()
    mean = {(r["column"], r["factor"]): r["mean"] for r in table}
    # by hand: formation ◎ core_ventures (Sapporo) + ◎ local_industry (Fukui) + ◎ crisis (Kobe) ...
    assert mean[("formation", "core_ventures")] == pytest.approx(3 / 3)
    assert mean[("formation", "regional_linkage")] == pytest.approx((2 + 1 + 0) / 3)  # Sapporo ○, Fukui △
    assert mean[("promote", "large_firms")] == pytest.approx((2 + 3 + 2) / 3)  # ○, ◎, ○
    assert mean[("formation", "support_infra")] == 0.0
    for column in ("formation", "promote"):
        assert sum(v for (c, _), v in mean.items() if c == column) == pytest.approx(6.0)
    gap = {r["factor"]: r for r in gap_profile(next(i for i in items if i.subject == "kobe-bio"), fw).to_pylist()}
    assert (gap["crisis"]["formation"], gap["crisis"]["promote"], gap["crisis"]["gap"]) == (3, 0, -3)
    assert gap["regional_linkage"]["gap"] == 3


def test_assessments_grouped_history_kept_and_reports(tmp_path, atlas, runner):
    rows = (marks("r1", "alpha", "knowledge", ["knowledge", "world_tech", "regional_linkage"],
                  ["core_ventures", "large_firms", "other_clusters"])
            + marks("r2", "beta", "knowledge", ["knowledge", "regional_linkage", "world_tech"],
                    ["core_ventures", "local_government", "inflow"])
            + marks("r3", "gamma", "enterprise", ["local_industry", "core_midsize", "world_tech"],
                    ["world_tech", "regional_leader", "large_firms"]))
    path = write_assessments(tmp_path / "a.csv", rows)
    res = invoke(runner, "assess", "import", path, "--atlas", atlas)
    assert res.exit_code == 0 and "3 new" in res.output, res.output
    with Atlas(atlas) as a:
        fw = a.framework("nistep-jp-15")
        table = average_points(a.assessments(), fw, by="formation_base").to_pylist()
    got = {(r["group"], r["column"], r["factor"]): r["mean"] for r in table}
    assert got[("knowledge", "formation", "knowledge")] == 3.0
    assert got[("knowledge", "formation", "world_tech")] == pytest.approx((2 + 1) / 2)
    assert got[("enterprise", "promote", "world_tech")] == 3.0
    # an edit is a new revision; the old one stays
    edited = [r if not (r[0] == "r1" and r[6] == "knowledge") else [*r[:8], "◎", "revised"] for r in rows]
    edited = [r for r in edited if r[0] == "r1"]
    edited = [[*r[:4], "2025-04-01", *r[5:]] for r in edited]
    write_assessments(tmp_path / "b.csv", edited)
    res = invoke(runner, "assess", "import", tmp_path / "b.csv", "--atlas", atlas)
    assert "1 revised" in res.output, res.output
    assert query_atlas(atlas, "SELECT revision, assessed_on FROM assessments WHERE assessment = 'r1' "
                              "ORDER BY 1") == [(1, "2024-04-01"), (2, "2025-04-01")]
    assert "0 new, 0 revised" in invoke(runner, "assess", "import", tmp_path / "b.csv", "--atlas", atlas).output
    with Atlas(atlas) as a:
        history = over_time(a.assessments(subject="alpha", all_revisions=True), fw).to_pylist()
    assert {r["revision"] for r in history} == {1, 2}
    res = invoke(runner, "assess", "report", "--atlas", atlas, "--by", "formation_base", "--reference",
                 "--out", tmp_path / "avg.csv")
    assert res.exit_code == 0 and "published" in res.output and (tmp_path / "avg.csv").exists()
    assert invoke(runner, "assess", "report", "--atlas", atlas, "--subject", "alpha").exit_code == 0
    assert "alpha" in invoke(runner, "assess", "history", "alpha", "--atlas", atlas).output
    out = tmp_path / "all.xlsx"
    assert invoke(runner, "assess", "export", out, "--atlas", atlas, "--all-revisions").exit_code == 0
    reimport = tmp_path / "again.duckdb"
    Atlas(reimport, create=True).close()
    res = invoke(runner, "assess", "import", out, "--atlas", reimport)  # two revisions of r1 in one file: refused
    assert res.exit_code == 2 and "assessment r1 has another assessed_on here" in " ".join(res.output.split())
    cur = tmp_path / "current.xlsx"
    invoke(runner, "assess", "export", cur, "--atlas", atlas)
    assert "3 new" in invoke(runner, "assess", "import", cur, "--atlas", reimport).output
    html = tmp_path / "r.html"
    assert invoke(runner, "assess", "html", html, "--atlas", atlas).exit_code == 0
    text = html.read_text(encoding="utf-8")
    assert text.count("<svg") == 3 and "知的集積" in text and "<script" not in text


@pytest.mark.parametrize(("case", "message"), [
    ("unknown-factor", "unknown factor of framework nistep-jp-15"),
    ("wrong-value", "not a value of the scale 'marks'"),
    ("duplicate-mark", "column formation: ◎ given 2 time(s)"),
    ("missing-mark", "column promote: △ given 0 time(s)"),
    ("missing-assessor", "missing assessor"),
    ("unknown-framework", "unknown framework"),
    ("bad-date", "not a date"),
    ("impossible-date", "not a date (month 13 does not exist)"),
    ("after-the-era", "平成 ended: 令和 began 2019-05-01"),
    ("inconsistent", "has another subject here than on line 2"),
    ("twice", "scored twice"),
])
def test_bad_assessments_are_refused_and_nothing_is_stored(tmp_path, atlas, runner, case, message):
    rows = marks("x", "alpha", "knowledge", ["knowledge", "world_tech", "crisis"],
                 ["core_ventures", "large_firms", "inflow"])
    if case == "unknown-factor":
        rows[0][6] = "knowlege"
    elif case == "wrong-value":
        rows[0][8] = "◯"
    elif case == "duplicate-mark":
        rows[1][8] = "◎"
    elif case == "missing-mark":
        rows = rows[:-1]
    elif case == "missing-assessor":
        rows = [[*r[:3], "", *r[4:]] for r in rows]
    elif case == "unknown-framework":
        rows = [[r[0], "nistep-jp-16", *r[2:]] for r in rows]
    elif case == "bad-date":
        rows = [[*r[:4], "1 April 2024", *r[5:]] for r in rows]
    elif case == "impossible-date":
        rows = [[*r[:4], "2024-13-45", *r[5:]] for r in rows]
    elif case == "after-the-era":
        rows = [[*r[:4], "平成31年5月1日", *r[5:]] for r in rows]
    elif case == "inconsistent":
        rows[2][2] = "beta"
    elif case == "twice":
        rows.append(rows[0])
    path = write_assessments(tmp_path / "bad.csv", rows)
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "assess", "import", path, "--atlas", atlas)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert message in text and "bad.csv" in text
    assert atlas_fingerprint(atlas) == before


def test_interrupted_import_leaves_the_atlas_unchanged(tmp_path, atlas, monkeypatch):
    with Atlas(atlas) as a:
        a.import_assessments(nistep_profiles_path())
    before = atlas_fingerprint(atlas)
    rows = marks("x", "alpha", "knowledge", ["knowledge", "world_tech", "crisis"],
                 ["core_ventures", "large_firms", "inflow"])
    path = write_assessments(tmp_path / "a.csv", rows)
    import duckdb

    calls = {"n": 0}
    real = duckdb.DuckDBPyConnection.executemany

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        raise RuntimeError("disk full")  # after the assessment row is written, before its scores

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "executemany", failing)
    with Atlas(atlas) as a, pytest.raises(RuntimeError, match="disk full"):
        a.import_assessments(path)
    monkeypatch.setattr(duckdb.DuckDBPyConnection, "executemany", real)
    assert calls["n"] == 1 and atlas_fingerprint(atlas) == before


def test_categorical_frameworks_give_distributions(tmp_path, atlas):
    rows = [["p1", "cluster-phases", "alpha", "me", "2024", "", "nistep_phase", "", "startup", ""],
            ["p1", "cluster-phases", "alpha", "me", "2024", "", "life_cycle", "", "I", ""],
            ["p2", "cluster-phases", "beta", "me", "2024", "", "nistep_phase", "", "startup", ""],
            ["p3", "creation-types", "beta", "me", "2024", "", "creation_type", "", "spin_off", ""]]
    with Atlas(atlas) as a:
        a.import_assessments(write_assessments(tmp_path / "p.csv", rows))
        fw = a.framework("cluster-phases")
        dist = distribution(a.assessments(framework="cluster-phases"), fw).to_pylist()
        with pytest.raises(InputError, match="categories only"):
            average_points(a.assessments(framework="cluster-phases"), fw)
    startup = next(r for r in dist if r["value"] == "startup")
    assert (startup["count"], startup["share"], startup["value_name_ja"]) == (2, 1.0, "立ち上がり・模索期")


def test_registry_counts_match_the_sources():
    doc = registry()
    plan = doc["industrial_cluster_plan"]
    assert len(plan["projects"]) == 18
    assert [(p["phase"], p["start"], p["end"]) for p in plan["phases"]] == [("I", 2001, 2005), ("II", 2006, 2010),
                                                                           ("III", 2011, 2020)]
    assert plan["participants"]["smes"] == 10700 and plan["participants"]["universities"] == 290
    kc = doc["knowledge_cluster_initiative"]["regions"]
    assert len(kc) == 13 and Counter(r["start"] for r in kc) == {2007: 6, 2008: 3, 2009: 4}
    areas = doc["city_area_programme"]["areas"]
    assert len(areas) == 30 and Counter(a["type"] for a in areas) == {"development": 16, "general": 14}
    assert Counter(a["start"] for a in areas) == {2006: 9, 2007: 10, 2008: 11}  # ⑱ ⑲ ⑳ on the slide
    assert sorted(Counter((a["start"], a["type"]) for a in areas).values()) == [4, 4, 5, 5, 5, 7]  # the groups
    assert len(doc["innovation_network"]["members"]) == 65
    assert len(doc["nistep_candidate_regions"]["regions"]) == 17
    table = programme_table()
    assert table.num_rows == 18 + 13 + 30 + 65 + 17
    known = {f"{i:02d}000" for i in range(1, 48)} | {f"meti_{b}" for b in (
        "hokkaido", "tohoku", "kanto", "chubu", "kinki", "chugoku", "shikoku", "kyushu", "okinawa")}
    assert all(set(r.split()) <= known for r in table["regions"].to_pylist())


def test_programmes_join_the_quantitative_results(tmp_path, runner, atlas):
    """Programme entries become custom regions over prefectures, so mapping gives them cluster results."""
    assert invoke(runner, "reference", "jp-programmes", "--atlas", atlas).exit_code == 0
    obs = tmp_path / "obs.csv"
    with open(obs, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "industry", "year", "employment"])
        for i in range(1, 48):
            w.writerow([f"{i:02d}000", "bio", 2020, 100 + i])
            w.writerow([f"{i:02d}000", "it", 2020, 1000])
    defs = tmp_path / "defs.csv"
    defs.write_text("industry,cluster\nbio,Bio\nit,IT\n")
    with Atlas(atlas) as a:
        a.import_file("observations", obs)
        a.import_file("definitions", defs)
        a.map(levels=["custom"])
    (emp,) = query_atlas(atlas, "SELECT employment FROM results_clusters WHERE region = "
                                "'knowledge-cluster:toyama-ishikawa' AND cluster = 'Bio'")[0]
    assert emp == (100 + 16) + (100 + 17)  # Toyama + Ishikawa
    assert invoke(runner, "assess", "report", "--atlas", atlas, "--subject", "fukui-nano").exit_code == 0


def test_normalisation_and_aggregation_hand_worked():
    x = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, np.nan]])
    mm = normalise(x, "minmax")
    assert mm[:, 0].tolist() == [0.0, 0.5, 1.0] and mm[:, 1].tolist()[:2] == [0.0, 1.0] and np.isnan(mm[2, 1])
    z = normalise(x, "zscore")
    assert z[:, 0] == pytest.approx([-math.sqrt(1.5), 0, math.sqrt(1.5)])
    assert normalise(x, "rank")[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert normalise(x, "minmax", higher_is_better=np.array([False, True]))[:, 0].tolist() == [1.0, 0.5, 0.0]
    arith = aggregate(np.array([[0.2, 0.8], [0.5, np.nan]]), np.array([1.0, 3.0]))
    assert arith == pytest.approx([(0.2 + 3 * 0.8) / 4, 0.5])  # a missing indicator's weight is shared out
    geo = aggregate(np.array([[0.0, 1.0]]), np.array([1.0, 1.0]), "geometric")
    assert geo[0] == pytest.approx(math.sqrt(0.01 * 1.0))  # the floor keeps a minimum from zeroing the index


def test_composite_with_pillars_and_sensitivity():
    units = ["a", "b", "c", "d"]
    names = ["x1", "x2", "y1"]
    values = np.array([[10, 1, 5], [8, 2, 9], [1, 9, 1], [5, 5, 5]], dtype=float)
    board = composite(units, names, values, pillars={"x1": "X", "x2": "X", "y1": "Y"})
    # by hand: min-max columns, mean within pillar, mean of pillars
    mm = (values - values.min(0)) / (values.max(0) - values.min(0))
    expected = ((mm[:, 0] + mm[:, 1]) / 2 + mm[:, 2]) / 2
    assert board.score == pytest.approx(expected)
    assert board.rank.tolist() == (np.argsort(np.argsort(-expected)) + 1).tolist()
    assert board.weights == {"X": 0.5, "Y": 0.5}
    lower = composite(units, names, values, lower_is_better={"y1"}, weights={"y1": 0.0})
    assert lower.rank.tolist() == composite(units, ["x1", "x2"], values[:, :2]).rank.tolist()
    sens = sensitivity(units, names, values, draws=200, seed=1)
    assert np.all(sens.low <= sens.median) and np.all(sens.median <= sens.high)
    with pytest.raises(InputError, match="at least two units"):
        composite(["a"], ["x"], np.array([[1.0]]))
    with pytest.raises(InputError, match="weights for unknown"):
        composite(units, names, values, weights={"zz": 1.0})


def test_scoreboard_command_from_a_file_and_from_assessments(tmp_path, runner, atlas):
    table = tmp_path / "ind.csv"
    table.write_text("region,patents,gdp,unemployment\nA,10,100,5\nB,30,90,9\nC,20,,7\n")
    out = tmp_path / "board.csv"
    res = invoke(runner, "scoreboard", table, "--lower-is-better", "unemployment", "--sensitivity", "100",
                 "--out", out)
    assert res.exit_code == 0, res.output
    with open(out) as fh:
        rows = {r["unit"]: r for r in csv.DictReader(fh)}
    assert rows["C"]["missing"] == "1" and {r["rank"] for r in rows.values()} == {"1", "2", "3"}
    bad = tmp_path / "bad.csv"
    bad.write_text("region,patents\nA,10\nB,x\n")
    res = invoke(runner, "scoreboard", bad, "--indicator", "patents")
    assert res.exit_code == 2 and "line 3, column 'patents': not a number" in " ".join(res.output.split())
    fw = builtin_frameworks()["imd-wcy-2004"]
    rows = [[f"c{k}", "imd-wcy-2004", f"country{k}", "me", "2004", "", f.id, "", str(10 * k + i), ""]
            for k in range(3) for i, f in enumerate(fw.factors)]
    with Atlas(atlas) as a:
        a.import_assessments(write_assessments(tmp_path / "imd.csv", rows))
    res = invoke(runner, "scoreboard", "--assessments", "imd-wcy-2004", "--atlas", atlas, "--sensitivity", "0")
    assert res.exit_code == 0, res.output
    assert "economic_performance" in res.output and "country2" in res.output
