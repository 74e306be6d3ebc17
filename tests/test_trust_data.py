"""Issue 19, the data and method items: every figure equal to its definition on the data users really have.

Items 6 (complexity of a disconnected network), 9 (peer conventions), 12 (NUTS one level at a time),
13 (designated cities), 14 (per-column limits), 15 (analyses of an atlas without observations) and
16 (hot-spot power); items 7 (CBP region totals), 10 (CORDIS roles and money) and 11 (directed ties)
have their own modules (test_cbp_totals.py, test_network_money.py, test_directed_ties.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
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


# ------------------------------------------------------------------ item 14: limits per column and unit
def _observations(tmp_path, rows: str):
    path = tmp_path / "obs.csv"
    path.write_text("region,industry,year,employment,establishments,payroll\n" + rows, encoding="utf-8")
    return path


def test_a_national_payroll_and_a_large_employment_count_are_accepted(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    # US private payroll 2019 ($7.4 trillion, in dollars); a yen payroll (2.3e14); 3 billion persons
    obs = _observations(tmp_path, "US,00,2019,132989428,7959103,7428553593000\n"
                                  "JP,00,2019,3000000000,1,230000000000000\n")
    res = invoke(runner, "import", "observations", obs, "--atlas", atlas)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("column", "row", "unit"), [
    ("employment", "A,11,2020,2e10,1,1", "persons"), ("establishments", "A,11,2020,1,2e10,1", "establishments")])
def test_the_limit_error_names_the_column_its_limit_and_unit(tmp_path, runner, column, row, unit):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", _observations(tmp_path, row + "\n"), "--atlas", atlas)
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert f"column '{column}'" in text and "implausibly large" in text and "'2e10'" in text, text
    assert f"at most 10,000,000,000 {unit} in one cell" in text, text


def test_trade_values_in_dollars_pass_with_their_unit_declared(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    exports = _observations(tmp_path, "US,8802,2019,131000000000,,\nFR,8802,2019,62000000000,,\n")
    refused = invoke(runner, "import", "observations", exports, "--atlas", atlas)
    assert refused.exit_code == 2 and "persons" in refused.output
    res = invoke(runner, "import", "observations", exports, "--unit", "USD", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "values in USD" in " ".join(res.output.split())


# ------------------------------------------------------------------ item 13: the designated cities
@pytest.mark.realdata
@pytest.mark.parametrize("dry_run", [False, True])
def test_the_designated_cities_of_a_census_table_are_in_the_region_system(tmp_path, runner, dry_run):
    from tests.conftest import query_atlas, shared_file

    census = shared_file("jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    invoke(runner, "reference", "jp-prefectures", "--atlas", atlas)
    res = invoke(runner, "import", "observations", census, "--format", "jp-census", "--year", "2014",
                 "--atlas", atlas, *(["--dry-run"] if dry_run else []))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "in no imported or built-in region system" not in text, text
    assert "7 municipalities (level 'municipality', parent their prefecture)" in text
    if dry_run:
        return
    cities = query_atlas(atlas, "SELECT r.region, r.level, l.parent FROM regions r JOIN region_links l USING "
                                "(region) WHERE l.hierarchy = 'prefecture' ORDER BY 1")
    # Sapporo, Saitama, Yokohama, Kawasaki, Okayama, Fukuoka (designated cities) and Gujo, each under its prefecture
    assert cities == [(c, "municipality", c[:2] + "000") for c in
                      ("01100", "11100", "14100", "14130", "21219", "33100", "40130")]
    # and their LQs are there after a map, with nothing outside a region system
    invoke(runner, "reference", "jp-benchmark", "--atlas", atlas)
    assert invoke(runner, "map", "--definition", "jp-benchmark-jsic13", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT outside_regions FROM map_runs") == [(0,)]
    assert query_atlas(atlas, "SELECT count(DISTINCT region) FROM results_regions WHERE level = 'municipality'"
                       ) == [(7,)]


# ------------------------------------------------------------------ item 12: NUTS files one level at a time
def _nuts_file(path, features):
    import json

    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NUTS_ID": code, "LEVL_CODE": len(code) - 2, "NAME_LATN": name},
         "geometry": None} for code, name in features]}), encoding="utf-8")
    return path


def test_a_level_2_nuts_file_imports_alone_with_its_implied_ancestors(tmp_path, runner):
    from tests.conftest import query_atlas

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    level2 = _nuts_file(tmp_path / "NUTS_RG_01M_2016_4326_LEVL_2.geojson",
                        [("FRF1", "Alsace"), ("FRF2", "Champagne-Ardenne"), ("DE11", "Stuttgart")])
    res = invoke(runner, "import", "regions", level2, "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Imported 3 regions rows" in text  # the file's rows; the ancestors are in the note
    assert "4 ancestor region(s) the codes imply but the file lacks (nuts0, nuts1: DE, FR, DE1, FRF)" in text, text
    regions = query_atlas(atlas, "SELECT region, name, level FROM regions ORDER BY level, region")
    assert regions == [("DE", None, "nuts0"), ("FR", None, "nuts0"), ("DE1", None, "nuts1"), ("FRF", None, "nuts1"),
                       ("DE11", "Stuttgart", "nuts2"), ("FRF1", "Alsace", "nuts2"),
                       ("FRF2", "Champagne-Ardenne", "nuts2")]
    links = query_atlas(atlas, "SELECT region, parent FROM region_links WHERE hierarchy = 'nuts' ORDER BY 1")
    assert links == [("DE1", "DE"), ("DE11", "DE1"), ("FRF", "FR"), ("FRF1", "FRF"), ("FRF2", "FRF")]
    # the level above names them later; the level below, imported again, keeps those names
    level1 = _nuts_file(tmp_path / "level1.geojson", [("FRF", "Grand Est"), ("DE1", "Baden-Württemberg")])
    assert invoke(runner, "import", "regions", level1, "--format", "nuts", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "import", "regions", level2, "--format", "nuts", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT region, name FROM regions WHERE level = 'nuts1' ORDER BY 1") == [
        ("DE1", "Baden-Württemberg"), ("FRF", "Grand Est")]


@pytest.mark.realdata
def test_the_gisco_level_2_file_users_download_imports_alone(tmp_path, runner):
    from tests.conftest import query_atlas, shared_file

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "regions", shared_file("geo/NUTS_RG_01M_2016_4326_LEVL_2.geojson.gz"),
                 "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT level, count(*) FROM regions GROUP BY 1 ORDER BY 1") == [
        ("nuts0", 37), ("nuts1", 125), ("nuts2", 332)]
    # every level-2 region reaches its country through the code's own nesting
    assert query_atlas(atlas, "SELECT count(*) FROM region_links a JOIN region_links b ON b.region = a.parent "
                              "WHERE a.region IN (SELECT region FROM regions WHERE level = 'nuts2') "
                              "AND b.parent = left(a.region, 2)") == [(332,)]


# ------------------------------------------------------------------ item 6: complexity of a network in pieces

# Two economies that share no specialisation: regions A–C with industries x1–x3, regions D–F with y1–y3,
# each nested (the diverse region holds the rare industry). The network has two components.
BLOCKS = np.array([
    [1.0, 1, 1, 0, 0, 0],
    [1, 1, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 1, 1],
    [0, 0, 0, 1, 1, 0],
    [0, 0, 0, 1, 0, 0]])


def test_a_network_in_two_pieces_has_no_eci_or_pci():
    from clusteratlas.relate import components, eci_pci, outlook

    assert components(BLOCKS) == 2
    cx = eci_pci(BLOCKS)
    assert np.isnan(cx.eci).all() and np.isnan(cx.pci).all()
    assert cx.reason == "undefined: the network has 2 components" and cx.components == 2
    assert np.isnan(eci_pci(BLOCKS, method="reflections").eci).all()
    omega, coi, cog = outlook(BLOCKS, cx)
    assert np.isnan(coi).all() and np.isnan(cog).all()
    assert np.isfinite(omega).all()  # relatedness density needs no eigenvector: still defined
    # three pieces
    three = np.zeros((9, 9))
    for k in range(3):
        three[3 * k:3 * k + 3, 3 * k:3 * k + 3] = BLOCKS[:3, :3]
    assert eci_pci(three).reason == "undefined: the network has 3 components"


def test_one_bridge_joins_the_pieces_and_eci_equals_the_peer_packages():
    """One region specialised in both economies makes the network connected: ECI and PCI are defined and equal
    ecomplexity's (manual presence matrix) and the converged reflections (Datawheel's method, run to the end)."""
    import warnings

    import pandas as pd

    from clusteratlas.relate import components, eci_pci

    bridged = BLOCKS.copy()
    bridged[0, 3] = 1.0  # region A is also specialised in y1
    assert components(bridged) == 1
    ours = eci_pci(bridged)
    assert ours.reason == "" and np.isfinite(ours.eci).all() and np.isfinite(ours.pci).all()
    ecomplexity = pytest.importorskip("ecomplexity").ecomplexity
    r, i = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    long = pd.DataFrame({"year": 2020, "region": r.ravel(), "industry": i.ravel(), "m": bridged.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ecomplexity(long, {"time": "year", "loc": "region", "prod": "industry", "val": "m"},
                             presence_test="manual", check_logsupermodularity=False, verbose=False)
    theirs = theirs.sort_values(["region", "industry"])
    assert ours.eci == pytest.approx(theirs["eci"].to_numpy().reshape(6, 6)[:, 0], abs=1e-9)
    assert ours.pci == pytest.approx(theirs["pci"].to_numpy().reshape(6, 6)[0], abs=1e-9)
    assert eci_pci(bridged, method="reflections", iterations=500).eci == pytest.approx(ours.eci, abs=1e-6)


def _two_economies_atlas(tmp_path, runner):
    """An atlas whose regions × industries are BLOCKS (employment 100 where specialised, 1 elsewhere)."""
    atlas = tmp_path / "a.duckdb"
    obs = tmp_path / "obs.csv"
    regions, industries = "ABCDEF", ["x1", "x2", "x3", "y1", "y2", "y3"]
    rows = [f"{regions[r]},{industries[i]},2020,{100 if BLOCKS[r, i] else 1}"
            for r in range(6) for i in range(6)]
    obs.write_text("region,industry,year,employment\n" + "\n".join(rows) + "\n", encoding="utf-8")
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "observations", obs, "--atlas", atlas).exit_code == 0
    return atlas


def test_relate_stores_and_says_complexity_is_undefined_for_a_network_in_pieces(tmp_path, runner):
    from fastapi.testclient import TestClient

    from clusteratlas.relate import presence, rca
    from clusteratlas.server import Settings, create_app
    from tests.conftest import query_atlas

    atlas = _two_economies_atlas(tmp_path, runner)
    values = np.where(BLOCKS > 0, 100.0, 1.0)
    assert (presence(rca(values)) == BLOCKS).all()  # the stored data are the hand-built network
    res = invoke(runner, "relate", "--by", "industry", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "ECI, PCI, COI and COG are undefined: the network of regions and industries has 2 components" in text
    stored = query_atlas(atlas, "SELECT eci, coi, reason FROM relate_regions ORDER BY region")
    assert all(e is None and c is None and r == "ECI and COI undefined: the network has 2 components"
               for e, c, r in stored), stored
    items = query_atlas(atlas, "SELECT pci, reason FROM relate_items ORDER BY item")
    assert all(p is None and "PCI and COG undefined: the network has 2 components" in r for p, r in items), items
    assert query_atlas(atlas, "SELECT count(*) FROM relate_cells WHERE cog IS NOT NULL") == [(0,)]
    with TestClient(create_app(Settings(atlas=str(atlas)))) as client:
        body = client.get("/api/v1/complexity/regions", params={"by": "industry"}).json()
    rows = body["data"]
    assert len(rows) == 6 and all(r["eci"] is None for r in rows)
    assert {r["reason"] for r in rows} == {"ECI and COI undefined: the network has 2 components"}


# ------------------------------------------------------------------ item 9: the peer packages' conventions

STATA_1995 = Path(__file__).parent / "data" / "ecomplexity_stata_1995.csv"


def _stata_fixture():
    import pandas as pd

    d = pd.read_csv(STATA_1995, dtype={"hs92": str})
    wide = {c: d.pivot(index="origin", columns="hs92", values=c).to_numpy() for c in ("export_val", "M", "density")}
    per_region = d.groupby("origin")[["eci", "coi"]].first()
    return wide, per_region["eci"].to_numpy(), d.groupby("hs92")["pci"].first().to_numpy(), per_region["coi"].to_numpy()


def test_the_stata_convention_reproduces_statas_ecomplexity():
    """Stata's ecomplexity on its own fixture: density without the product's own proximity, ECI/PCI over the
    sample sd of the long rows, COI z-scored, M = RCA > 1 — each to rounding."""
    from clusteratlas.relate import eci_pci, outlook, presence, proximity, rca

    wide, eci, pci, coi = _stata_fixture()
    m = presence(rca(wide["export_val"]), strict=True)
    assert (m == wide["M"]).all()
    cx = eci_pci(m, convention="stata")
    omega, ours_coi, _ = outlook(m, cx, proximity(m), convention="stata")
    assert np.abs(omega - wide["density"]).max() < 1e-15
    assert np.abs(cx.eci - eci).max() < 1e-13 and np.abs(cx.pci - pci).max() < 1e-13
    assert np.abs(ours_coi - coi).max() < 1e-13
    # the default (Atlas) convention differs from Stata on each of the three, and says so in docs/methods.md
    atlas = eci_pci(m)
    omega_atlas, coi_atlas, _ = outlook(m, atlas, proximity(m))
    assert np.abs(omega_atlas - wide["density"]).max() > 0.05
    assert atlas.eci / eci == pytest.approx(np.full(10, np.sqrt(299 / 300)) ** -1)  # n vs n − 1, n = 300 rows
    assert np.abs(coi_atlas - coi).max() > 0.1


def test_the_ecomplexity_convention_reproduces_the_python_package():
    import warnings

    import pandas as pd

    from clusteratlas.relate import density, eci_pci, outlook, presence, proximity, rca

    ecomplexity = pytest.importorskip("ecomplexity").ecomplexity
    rng = np.random.default_rng(3)
    capability, difficulty = rng.uniform(size=60)[:, None], rng.uniform(size=40)[None, :]
    values = 100.0 * np.exp(rng.normal(size=(60, 40)) * 0.5) * (1 + 4 * (capability > difficulty))
    r, i = np.meshgrid(np.arange(60), np.arange(40), indexing="ij")
    long = pd.DataFrame({"year": 2020, "region": r.ravel(), "industry": i.ravel(), "emp": values.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ecomplexity(long, {"time": "year", "loc": "region", "prod": "industry", "val": "emp"},
                             check_logsupermodularity=False, verbose=False).sort_values(["region", "industry"])
    m = presence(rca(values))
    cx = eci_pci(m, convention="ecomplexity")
    omega, coi, _ = outlook(m, cx, convention="ecomplexity")
    assert coi == pytest.approx(theirs["coi"].to_numpy().reshape(60, 40)[:, 0], abs=1e-9)
    assert omega.ravel() == pytest.approx(theirs["density"].to_numpy(), abs=1e-9)
    assert cx.eci == pytest.approx(theirs["eci"].to_numpy().reshape(60, 40)[:, 0], abs=1e-9)
    # the Atlas's COI is the raw sum (not z-scored); leaving the own proximity out changes the density
    _, coi_atlas, _ = outlook(m, eci_pci(m))
    assert coi_atlas == pytest.approx(((1 - m) * omega * eci_pci(m).pci).sum(axis=1))
    assert np.abs(density(m, proximity(m), own_proximity=False) - omega).max() > 0.01


def test_relate_convention_stata_from_the_command_line_equals_stata(tmp_path, runner):
    """The fixture's exports (dollars: --unit USD) imported as observations; 'relate --convention stata'
    stores Stata's ECI, PCI, COI and density, and the convention with them."""
    import pandas as pd

    from tests.conftest import query_atlas

    d = pd.read_csv(STATA_1995, dtype={"hs92": str})
    obs = tmp_path / "exports.csv"
    d.rename(columns={"origin": "region", "hs92": "industry", "export_val": "employment"}).assign(year=1995)[
        ["region", "industry", "year", "employment"]].to_csv(obs, index=False)
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "observations", obs, "--unit", "USD", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "relate", "--by", "industry", "--convention", "stata", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "Complexity convention: stata" in " ".join(res.output.split())
    stored = dict(((r, c), (e, o, v)) for r, c, e, o, v in query_atlas(
        atlas, "SELECT r.region, r.convention, r.eci, r.coi, NULL FROM relate_regions r"))
    for row in d.groupby("origin")[["eci", "coi"]].first().itertuples():
        eci, coi, _ = stored[(row.Index, "stata")]
        assert eci == pytest.approx(row.eci, abs=1e-12) and coi == pytest.approx(row.coi, abs=1e-12)
    dens = dict(((r, i), v) for r, i, v in query_atlas(atlas, "SELECT region, item, density FROM relate_cells"))
    assert max(abs(dens[(r.origin, r.hs92)] - r.density) for r in d.itertuples()) < 1e-15
    pci = dict(query_atlas(atlas, "SELECT item, pci FROM relate_items"))
    assert max(abs(pci[k] - v) for k, v in d.groupby("hs92")["pci"].first().items()) < 1e-12
    bad = invoke(runner, "relate", "--by", "industry", "--convention", "nope", "--atlas", atlas)
    assert bad.exit_code == 2 and "unknown complexity convention" in bad.output


# ------------------------------------------------------------------ item 16: hot spots with enough power
def _lattice_30():
    libpysal = pytest.importorskip("libpysal")
    from clusteratlas.relate.spatial import weights_from_libpysal

    w = libpysal.weights.lat2W(30, 30, rook=False)
    rows, cols = np.divmod(np.arange(900), 30)
    block = (rows >= 13) & (rows < 17) & (cols >= 13) & (cols < 17)
    return weights_from_libpysal(w), weights_from_libpysal(w, transform="b"), block


def test_a_planted_block_is_found_with_the_defaults_and_null_data_are_not():
    """40 seeded replicates: a 4 × 4 block at +2 SD on a 30 × 30 queen lattice of standard normal noise. With
    999 permutations for every test (the old default) the false-discovery control over 900 regions can hardly
    reject anything; the default (sequential permutations, as many as one region needs) finds the block."""
    from clusteratlas.relate.spatial import getis_ord_star, local_moran, needed_permutations, power_note

    w, binary, block = _lattice_30()
    rng = np.random.default_rng(2026)
    y = rng.normal(size=(900, 40))
    y[block] += 2.0
    lisa = local_moran(y, w, seed=0)
    gstar = getis_ord_star(y - y.min() + 0.01, binary, seed=0)
    hot_lisa = (lisa.significant & (lisa.quadrant == 1))[block].mean()
    hot_g = (gstar.significant & (gstar.Zs > 0))[block].mean()
    assert hot_lisa >= 0.5 and hot_g >= 0.5, (hot_lisa, hot_g)
    assert lisa.significant[~block].mean() <= 0.01 and gstar.significant[~block].mean() <= 0.01
    # the tests that needed them ran the permutations one region needs to pass alone: ⌈900 / 0.05⌉ − 1
    assert needed_permutations(900) == 17_999 and lisa.permutations.max() == 17_999
    assert np.median(lisa.permutations) < 2_000  # the others stopped early: the cost is in the small p-values
    stopped = lisa.permutations < 17_999
    assert (lisa.p_sim[stopped] >= 21 / (lisa.permutations[stopped] + 1) - 1e-12).all()
    # the two-sided p is twice the folded one-sided p
    assert lisa.p_two_sided == pytest.approx(np.minimum(2 * lisa.p_sim, 1))
    # the old default: nothing found, and now said so
    old = local_moran(y[:, :4], w, permutations=999, seed=0)
    assert (old.significant & (old.quadrant == 1))[block].mean() <= 0.1
    # BH at rank k needs p ≤ 0.05 k / 900: with p ≥ 1/1000, k ≥ 18 regions at the floor
    assert "no region is significant unless at least 18 are that extreme" in power_note(999, 900)
    assert power_note(17_999, 900) == ""


def test_null_data_with_the_default_permutations_find_almost_nothing():
    from clusteratlas.relate.spatial import getis_ord_star, local_moran

    w, binary, _ = _lattice_30()
    rng = np.random.default_rng(7)
    noise = rng.normal(size=(900, 10))
    ties = (rng.random((900, 6)) < 0.10).astype(float)  # the issue-9 lattice: many ties
    for y in (noise, ties):
        lisa = local_moran(y, w, seed=1)
        gstar = getis_ord_star(y - y.min() + 0.01, binary, seed=1)
        assert lisa.significant.mean() <= 0.01 and gstar.significant.mean() <= 0.01
        for a in (0.01, 0.05):  # the one-sided folded p: P(p ≤ a) ≈ 2a under the null, never more
            assert (lisa.p_sim <= a).mean() <= 2 * a + 0.005


def test_hotspots_store_and_show_what_each_p_is(mapped_atlas, runner, tmp_path):
    from clusteratlas.store import Atlas
    from tests.conftest import query_atlas

    with Atlas(mapped_atlas) as a:
        a.import_file("weights", _sample_weights(a, tmp_path))
    res = invoke(runner, "hotspots", "--level", "county", "--atlas", mapped_atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Permutations: sequential: 999 to" in text and "one-sided in the observed direction" in text
    assert "p (two-sided)" in res.output or "p " in res.output
    rows = query_atlas(mapped_atlas, "SELECT p_sim, p_two_sided, permutations, gi_p_sim, gi_p_two_sided "
                                     "FROM hotspots WHERE p_sim IS NOT NULL")
    assert rows and all(abs(b - min(2 * a, 1)) < 1e-12 and n >= 999 and abs(gb - min(2 * ga, 1)) < 1e-12
                        for a, b, n, ga, gb in rows)
    res = invoke(runner, "hotspots", "--level", "county", "--permutations", "99", "--atlas", mapped_atlas)
    assert res.exit_code == 0 and "no region is significant unless at least" in " ".join(res.output.split())
    exported = tmp_path / "h.csv"
    assert invoke(runner, "export", "hotspots", exported, "--atlas", mapped_atlas).exit_code == 0
    assert "p_two_sided" in exported.read_text(encoding="utf-8").splitlines()[0]


def _sample_weights(atlas, tmp_path):
    """Rook-like neighbours for the sample's counties: consecutive codes within a state."""
    regions = [r[0] for r in atlas.con.execute("SELECT DISTINCT region FROM results_regions WHERE level = "
                                               "'county' ORDER BY 1").fetchall()]
    path = tmp_path / "w.csv"
    pairs = [(a, b) for a, b in itertools.pairwise(regions) if a[:2] == b[:2]]
    path.write_text("region,neighbor\n" + "".join(f"{a},{b}\n{b},{a}\n" for a, b in pairs), encoding="utf-8")
    return path
