"""The sample economy: planted clusters come out with their expected ratings."""

from __future__ import annotations

import duckdb
import pytest

from clusteratlas.sample import PLANTED, generate_sample, sample_industries


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from clusteratlas import Atlas

    found = {}
    for seed in (7, 8, 9):
        folder = tmp_path_factory.mktemp(f"seed{seed}")
        paths = generate_sample(seed).write(folder)
        with Atlas(folder / "a.duckdb", create=True) as atlas:
            for kind in ("regions", "definitions", "observations"):
                atlas.import_file(kind, paths[kind])
            atlas.map()
            found[seed] = atlas.con.execute(
                "SELECT region, cluster, year, type, lq, size, specialization, strong, stars, employment_cagr "
                "FROM results_clusters").fetchall()
    return found


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_planted_clusters_have_expected_ratings(results, seed):
    rows = {(r[0], r[1], r[2]): r for r in results[seed]}
    years = sorted({r[2] for r in results[seed]})
    for p in PLANTED:
        for year in years:
            _, _, _, _, lq, size, spec, strong, stars, _ = rows[(p.region, p.cluster, year)]
            assert strong == p.expect_strong, (p, year)
            assert spec == p.expect_specialization, (p, year, lq)
            if p.expect_size:
                assert size and stars == 3, (p, year)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_no_false_specialisation(results, seed):
    planted = {(p.region, p.cluster) for p in PLANTED}
    spurious = [r for r in results[seed] if r[3] == "traded" and (r[0], r[1]) not in planted and r[6]]
    assert spurious == []


def test_planted_growth_is_recovered():
    """Without withheld cells (whose midpoints blur growth) the planted trends come back."""
    import narwhals as nw
    import polars as pl

    from clusteratlas import map_clusters

    sample = generate_sample(7, suppressed_share=0.0)
    out = map_clusters(nw.from_native(pl.from_arrow(sample.observations).lazy()),
                       nw.from_native(pl.from_arrow(sample.definitions).lazy())).clusters
    frame = out.collect().to_native()
    rows = {(r["region"], r["cluster"], r["year"]): (None,) * 9 + (r["employment_cagr"],)
            for r in frame.iter_rows(named=True)}
    for p in PLANTED:
        if p.growth:
            cagr = rows[(p.region, p.cluster, 2020)][9]
            # per-cell noise (lognormal, sigma 0.1) moves a 5-year CAGR by a point or two
            assert cagr == pytest.approx(p.growth, abs=0.025), p


def test_generator_is_deterministic():
    a, b = generate_sample(3), generate_sample(3)
    assert a.observations.equals(b.observations)
    assert not a.observations.equals(generate_sample(4).observations)


def test_sample_cli_writes_files(tmp_path, runner):
    from tests.conftest import invoke

    res = invoke(runner, "sample", tmp_path / "s")
    assert res.exit_code == 0
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_csv('{tmp_path / 's' / 'observations.csv'}')").fetchall()[0][0]
    assert n == 36 * len(sample_industries()) * 6


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Seeds 7, 8, 9 mapped at county level, with relatedness and complexity, and hot spots (9,999 permutations)."""
    from clusteratlas import Atlas

    found = {}
    for seed in (7, 8, 9):
        folder = tmp_path_factory.mktemp(f"analysed{seed}")
        sample = generate_sample(seed)
        paths = sample.write(folder)
        with Atlas(folder / "a.duckdb", create=True) as atlas:
            for kind in ("regions", "definitions", "observations", "weights"):
                atlas.import_file(kind, paths[kind])
            atlas.map()
            atlas.relate(level="county")
            atlas.hotspots(level="county", permutations=9999)
            found[seed] = {
                "sample": sample,
                "eci": dict(atlas.con.execute("SELECT region, eci FROM relate_regions").fetchall()),
                "pci": dict(atlas.con.execute("SELECT item, pci FROM relate_items").fetchall()),
                "presence": atlas.con.execute("SELECT region, item FROM relate_cells WHERE presence").fetchall(),
                "items": [r[0] for r in atlas.con.execute("SELECT DISTINCT item FROM relate_cells").fetchall()],
                "hot": atlas.con.execute("SELECT item, region FROM hotspots WHERE significant AND quadrant = 1"
                                         ).fetchall()}
    return found


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_region_cluster_network_is_connected_and_complexity_finds_the_capabilities(analysed, seed):
    """Economic complexity means something on the sample: the county × cluster network (RCA ≥ 1) is one component,
    ECI orders the counties as their planted capability does (the sign too: ECI is oriented to rise with diversity,
    and capable counties are the diverse ones), and PCI the traded clusters as their planted complexity."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.stats import spearmanr

    from clusteratlas.sample import CLUSTERS

    got = analysed[seed]
    regions = sorted(got["eci"])
    nodes = {name: i for i, name in enumerate([*regions, *got["items"]])}
    edges = [(nodes[r], nodes[i]) for r, i in got["presence"]]
    graph = coo_matrix(([1] * len(edges), ([a for a, _ in edges], [b for _, b in edges])), shape=(len(nodes),) * 2)
    assert connected_components(graph, directed=False)[0] == 1
    capability = got["sample"].capability
    rho = spearmanr([got["eci"][r] for r in regions], [capability[r] for r in regions])[0]
    assert rho > 0.8, rho
    sorted_ = [c for c in CLUSTERS if c.complexity is not None]
    rho = spearmanr([got["pci"][c.code] for c in sorted_], [c.complexity for c in sorted_])[0]
    assert rho > 0.6, rho


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_hills_are_found_as_hot_spots_and_nothing_else_is(analysed, seed):
    """Every hill's centre is a significant high-high hot spot (LISA, FDR 5 %), the hot spots of a hill's cluster lie
    on its hill, and the other 18 clusters (no spatial pattern planted) have at most one between them."""
    import math

    from clusteratlas.sample import HILLS

    hot = analysed[seed]["hot"]
    for hill in HILLS:
        assert (hill.cluster, hill.centre) in hot, (hill, hot)
        assert all(hill.factor(region) > 1 + (hill.peak - 1) * math.exp(-2.5) for item, region in hot
                   if item == hill.cluster), (hill, hot)  # within grid distance √5 of the centre
    others = [h for h in hot if h[0] not in {hill.cluster for hill in HILLS}]
    assert len(others) <= 1, others
