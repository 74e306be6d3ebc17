"""Benchmark cluster definitions and concordances: read, carry, download, map on real CBP data."""

from __future__ import annotations

import csv
import shutil
from collections import Counter

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import clusteratlas
from clusteratlas.errors import InputError
from clusteratlas.reference.benchmark import carry, naics_steps, read_cmp, read_concordance
from tests.conftest import invoke, query_atlas, shared_file

#: Rows of the Census Bureau's NAICS 2012 → 2017 concordance for the six-digit codes that changed
#: and that CBP 2019 reports (transcribed from the published table; unchanged codes map to themselves).
CHANGED_2012_2017 = [
    ("211111", "211120"), ("211111", "211130"), ("211112", "211130"),
    ("212231", "212230"), ("212234", "212230"),
    ("333911", "333914"), ("333913", "333914"),
    ("335221", "335220"), ("335222", "335220"), ("335224", "335220"), ("335228", "335220"),
    ("452111", "452210"), ("452112", "452210"), ("452112", "452311"), ("452910", "452311"),
    ("452990", "452319"),
    ("454111", "454110"), ("454112", "454110"), ("454113", "454110"),
    ("512210", "512250"), ("512220", "512250"),
    ("517110", "517311"), ("517210", "517312"),
    ("532220", "532281"), ("532230", "532282"), ("532291", "532283"), ("532292", "532284"),
    ("532299", "532289"),
    ("541711", "541713"), ("541711", "541714"), ("541712", "541713"), ("541712", "541715"),
]


def census_layout_xlsx(path, pairs, years=(2012, 2017)):
    """A workbook laid out like the Census concordances: a title row, a blank row, then the header."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append([f"{years[0]} NAICS to {years[1]} NAICS"])
    ws.append([])
    ws.append([f"{years[0]} NAICS Code", f"{years[0]} NAICS Title", f"{years[1]} NAICS Code",
               f"{years[1]} NAICS Title"])
    for a, b in pairs:
        ws.append([int(a), "title", int(b), "title"])
    ws.append(["Note: codes in bold changed."])
    book.save(path)
    return path


def test_read_cmp_benchmark_2012():
    table = read_cmp(shared_file("clusters/cmp_naics_to_cluster.csv"), vintage=2012,
                     subclusters=shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv"))
    types = Counter(table["type"].to_pylist())
    assert table.num_rows == 978 and types == {"traded": 675, "local": 303}  # MANIFEST: 978, 675 + 303
    clusters = {(r["cluster"], r["type"]) for r in table.to_pylist()}
    assert Counter(t for _, t in clusters) == {"traded": 51, "local": 16}  # Delgado-Porter-Stern
    named = next(r for r in table.to_pylist() if r["industry"] == "336411")
    assert named["cluster"] == "Aerospace Vehicles and Defense" and named["subcluster"] == "Aircraft"
    with pytest.raises(InputError, match="published for NAICS"):
        read_cmp(shared_file("clusters/cmp_naics_to_cluster.csv"), vintage=2017)


def test_read_cmp_api_json_legacy():
    """The project's API shape (name_t, naics_txt, year_t, sub_clusters), here its pre-2014 definition."""
    table = read_cmp(shared_file("clusters/cmp_repo_clusters-list_legacy_naics2007.json"), vintage=2007)
    local = {r["cluster"] for r in table.to_pylist() if r["type"] == "local"}
    assert len(local) == 16  # MANIFEST: 41 traded + 16 local + 10 natural-resource groups
    assert table.num_rows == len(set(table["industry"].to_pylist())) > 1000
    with pytest.raises(InputError, match="no cluster codes for NAICS 2012"):
        read_cmp(shared_file("clusters/cmp_repo_clusters-list_legacy_naics2007.json"), vintage=2012)


def test_carry_hand_worked():
    defs = pa.table({"industry": ["1", "2", "3", "4"], "cluster": ["A", "A", "B", "C"],
                     "type": ["traded"] * 3 + ["local"], "subcluster": ["a1", "a2", "b1", None],
                     "cluster_name": ["A", "A", "B", "C"], "cluster_name_ja": [None] * 4})
    conc = pa.table({"source": ["1", "2", "3", "3", "9"], "target": ["10", "10", "10", "11", "12"],
                     "weight": [1.0, 1.0, 1.0, 3.0, 1.0]})
    out = carry(defs, conc)
    rows = {r["industry"]: r for r in out.definitions.to_pylist()}
    # 10: A weighs 2 (codes 1 and 2), B weighs 1 -> A, purity 2/3; 11: only B; 12: source outside -> absent
    assert set(rows) == {"10", "11"}
    assert rows["10"]["cluster"] == "A" and rows["10"]["subcluster"] == "a1"  # a1/a2 tie -> first by name
    assert rows["11"]["cluster"] == "B" and rows["11"]["type"] == "traded"
    assert out.split.to_pylist() == [{"industry": "10", "cluster": "A", "purity": pytest.approx(2 / 3),
                                      "alternatives": "B"}]
    assert out.lost.to_pylist() == [{"industry": "4", "cluster": "C"}]
    assert out.mean_purity == pytest.approx((2 / 3 + 1) / 2)


def test_concordance_reader_census_layout_and_errors(tmp_path):
    path = census_layout_xlsx(tmp_path / "c.xlsx", [("111110", "111110"), ("211111", "211120")])
    table = read_concordance(path)
    assert table.to_pylist() == [{"source": "111110", "target": "111110", "weight": 1.0},
                                 {"source": "211111", "target": "211120", "weight": 1.0}]
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\n1,2\n")
    with pytest.raises(InputError, match="no header row with the two code columns"):
        read_concordance(bad)
    assert read_concordance(bad, source="from", target="to").num_rows == 1
    weighted = tmp_path / "w.csv"
    weighted.write_text("isic_code,nace_code,share\n0111,01.11,0.5\n0112,01.11,x\n")
    with pytest.raises(InputError, match=r"line 3, column 'share': not a number"):
        read_concordance(weighted)
    assert naics_steps(2012, 2022) == [(2012, 2017), (2017, 2022)]
    with pytest.raises(InputError, match="no Census concordance chain"):
        naics_steps(2017, 2012)


@pytest.fixture(scope="module")
def concordance_2012_2017(tmp_path_factory):
    """The Census 2012 → 2017 concordance for the benchmark's codes: identity plus the changed rows."""
    cmp = read_cmp(shared_file("clusters/cmp_naics_to_cluster.csv"), vintage=2012)
    changed = {a for a, _ in CHANGED_2012_2017}
    pairs = [(c, c) for c in cmp["industry"].to_pylist() if c not in changed] + CHANGED_2012_2017
    return census_layout_xlsx(tmp_path_factory.mktemp("conc") / "2012_to_2017_NAICS.xlsx", sorted(pairs))


@pytest.mark.realdata
def test_benchmark_carried_to_naics_2017_on_cbp_2019(concordance_2012_2017, tmp_path):
    bench = clusteratlas.benchmark_definitions(2017, definitions=shared_file("clusters/cmp_naics_to_cluster.csv"),
                                               concordances=[concordance_2012_2017])
    assert bench.vintage == 2012 and bench.steps == ["NAICS 2012→2017"]
    assert bench.lost.num_rows == 0  # every benchmark code has a 2017 successor
    carried = {r["industry"]: r["cluster"] for r in bench.definitions.to_pylist()}
    # Independent check: the crosswalk's own assignment of the new 2017 codes.
    with open(shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv")) as fh:
        crosswalk = {r["NAICS"]: r["Cluster"] for r in csv.DictReader(fh)}
    new_codes = sorted({b for _, b in CHANGED_2012_2017})
    agree = [c for c in new_codes if carried[c] == crosswalk.get(c)]
    assert len(agree) == len(new_codes), set(new_codes) - set(agree)
    # Mapped share of CBP 2019 six-digit employment: 95.8 % with the 2012 codes, >= 99 % once carried.
    import duckdb

    obs = tmp_path / "obs.parquet"
    duckdb.sql(f"""COPY (SELECT cbsa_code AS region, naics_code AS industry, year, emp AS employment
        FROM read_csv('{shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")}',
        types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}}) WHERE naics_level = 6) TO '{obs}'""")
    defs = tmp_path / "defs.parquet"
    import pyarrow.parquet as pq

    pq.write_table(bench.definitions, defs)
    report = clusteratlas.map_files(obs, defs, tmp_path / "out.csv")
    assert report.mapped_share >= 0.99 and report.unmapped.num_rows == 0  # all 20 changed codes carried
    # Without the concordance rows for warehouse clubs, that code and its jobs are reported, not dropped.
    partial = bench.definitions.filter(pc.not_equal(bench.definitions["industry"], "452311"))
    pq.write_table(partial, defs)
    report = clusteratlas.map_files(obs, defs, tmp_path / "out.csv")
    assert report.unmapped.to_pylist()[0]["industry"] == "452311"
    assert report.unmapped.to_pylist()[0]["employment"] == 1_546_010  # CBP 2019, all CBSAs


def test_reference_us_benchmark_downloads_definition_and_concordances(server, runner, tmp_path,
                                                                      concordance_2012_2017):
    """`reference us-benchmark --naics 2022` end to end against the local server: definition, two steps."""
    root, base = server
    (root / "meta").mkdir()
    cmp_csv = shared_file("clusters/cmp_naics_to_cluster.csv")
    # The server holds the definition as the project's API shape: one JSON object per cluster.
    import json

    clusters: dict[str, dict] = {}
    with open(cmp_csv) as fh:
        for r in csv.DictReader(fh):
            if r["naics_vintage"] == "2012":
                c = clusters.setdefault(r["cluster_name"], {"name_t": r["cluster_name"], "type_t": r["type"],
                                                            "year_t": "2012", "naics_txt": []})
                c["naics_txt"].append(r["naics"])
    (root / "meta" / "clusters").write_text(json.dumps(list(clusters.values())))
    shutil.copy(concordance_2012_2017, root / "2012_to_2017_NAICS.xlsx")
    census_layout_xlsx(root / "2017_to_2022_NAICS.xlsx",
                       [(c, c) for c in sorted({b for _, b in CHANGED_2012_2017})] + [("336411", "336411")],
                       years=(2017, 2022))
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "reference", "us-benchmark", "--naics", "2022", "--atlas", atlas, "--base-url", base,
                 "--concordance-url", base)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "NAICS 2012, then NAICS 2012→2017, then NAICS 2017→2022" in text
    assert "have no target in the concordance" in text  # the small 2017→2022 table drops most codes
    rows = dict(query_atlas(atlas, "SELECT industry, cluster FROM definitions WHERE definition = 'us-benchmark'"))
    assert rows == {"336411": "Aerospace Vehicles and Defense", **{b: rows[b] for _, b in CHANGED_2012_2017}}
    assert rows["517311"] == "Local Utilities"
    bad = invoke(runner, "reference", "us-benchmark", "--naics", "2017", "--atlas", atlas,
                 "--definitions", cmp_csv, "--concordance", concordance_2012_2017,
                 "--concordance", concordance_2012_2017)
    assert bad.exit_code == 2 and "takes 1 concordance" in bad.output


def test_carry_command_to_another_classification(runner, tmp_path, sample_files):
    """A definition in the atlas carried through a chain (e.g. NAICS → ISIC → NACE) under a new name."""
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    invoke(runner, "import", "definitions", sample_files["definitions"], "--atlas", atlas, "--name", "sample")
    codes = [r[0] for r in query_atlas(atlas, "SELECT industry FROM definitions ORDER BY 1")]
    step1 = tmp_path / "to_isic.csv"
    step1.write_text("naics_code,isic_code\n" + "".join(f"{c},I{i // 2}\n" for i, c in enumerate(codes)))
    step2 = tmp_path / "to_nace.csv"
    step2.write_text("isic_code,nace_code\n" + "".join(f"I{i},N{i}\n" for i in range(len(codes) // 2)))
    res = invoke(runner, "carry", "sample", "--concordance", step1, "--concordance", step2, "--name", "nace",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    n, = query_atlas(atlas, "SELECT count(*) FROM definitions WHERE definition = 'nace'")[0]
    assert n == len(codes) // 2
    bad = invoke(runner, "carry", "nope", "--concordance", step1, "--name", "x", "--atlas", atlas)
    assert bad.exit_code == 2 and "unknown cluster definition" in bad.output


def test_nace_divisions_and_employment_weighted_votes():
    from clusteratlas.reference.benchmark import builtin_concordance, nace_division

    assert [nace_division(c) for c in ("2011", "0111", "4711", "6201", "9900", "x")] == \
        ["C20", "A01", "G47", "J62", "U99", None]
    defs = pa.table({"industry": ["n1", "n2", "n3"], "cluster": ["Chem", "Plastics", "Chem"],
                     "type": ["traded"] * 3, "subcluster": [None] * 3, "cluster_name": ["Chem", "Plastics", "Chem"],
                     "cluster_name_ja": [None] * 3})
    to_isic = pa.table({"source": ["n1", "n2", "n3"], "target": ["2011", "2220", "2012"],
                        "weight": [1.0, 1.0, 1.0]})
    # Counted by codes: C20 gets Chem twice; C22 gets Plastics. By employment the same, with sizes carried on.
    step1 = carry(defs, to_isic, sizes={"n1": 100.0, "n2": 300.0, "n3": 50.0})
    assert step1.sizes == {"2011": 100.0, "2220": 300.0, "2012": 50.0}
    to_nace = builtin_concordance("isic4-nace2-division", step1.definitions["industry"].to_pylist())
    step2 = carry(step1.definitions, to_nace, sizes=step1.sizes)
    assert {r["industry"]: r["cluster"] for r in step2.definitions.to_pylist()} == {"C20": "Chem", "C22": "Plastics"}
    # One division fed by two clusters: the bigger employer wins, purity is its employment share.
    merged = pa.table({"source": ["2011", "2220", "2012"], "target": ["C20", "C20", "C20"], "weight": [1.0] * 3})
    step = carry(step1.definitions, merged, sizes=step1.sizes)
    assert step.split.to_pylist() == [{"industry": "C20", "cluster": "Plastics", "purity": pytest.approx(300 / 450),
                                       "alternatives": "Chem"}]
    unweighted = carry(step1.definitions, merged)
    assert unweighted.definitions["cluster"].to_pylist() == ["Chem"]  # two codes against one
