"""Actor networks (issue 12): hand-worked figures, bad input, the Hybritech tree, real H2020 and ANR files."""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path

import duckdb
import igraph as ig
import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

from clusteratlas.cli import app
from clusteratlas.errors import InputError
from clusteratlas.networks import analysis, importers
from clusteratlas.networks.spinoffs import builtin_path, flatten, genealogy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "actors"
if not DATA.exists():
    DATA = Path("/work/shared/data/actors")
H2020 = DATA / "eu_h2020_participations" / "h2020.csv.gz"
ANR = DATA / "fr_anr_pia_partners" / "anr_dgpie_partenaires_20220512.csv"
runner = CliRunner()


def brute_brokerage(graph: nx.DiGraph, groups: dict) -> dict:
    """Gould–Fernandez roles by enumerating every open two-path a → b → c."""
    out = {b: [0] * 5 for b in graph}
    for b in graph:
        for a in graph.predecessors(b):
            for c in graph.successors(b):
                if a == c or graph.has_edge(a, c):
                    continue
                ga, gb, gc = groups[a], groups[b], groups[c]
                role = (0 if ga == gb == gc else 1 if ga != gb and gc == gb else 2 if ga == gb and gc != gb
                        else 3 if ga == gc else 4)
                out[b][role] += 1
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_brokerage_matches_enumeration_directed_and_undirected(seed):
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(25, 0.2, seed=seed, directed=True)
    groups = {v: int(rng.integers(0, 3)) for v in g}
    adj = nx.to_scipy_sparse_array(g, nodelist=range(25), format="csr")
    got = analysis.brokerage(adj, np.array([groups[v] for v in range(25)]))
    want = brute_brokerage(g, groups)
    assert got.tolist() == [want[v] for v in range(25)]
    u = g.to_undirected()
    got_u = analysis.brokerage(nx.to_scipy_sparse_array(u, nodelist=range(25), format="csr"),
                               np.array([groups[v] for v in range(25)]))
    want_u = brute_brokerage(u.to_directed(), groups)
    assert got_u.tolist() == [want_u[v] for v in range(25)]
    assert (got_u[:, 1] == got_u[:, 2]).all()  # gatekeeper = representative when ties are undirected


def test_hand_worked_broker():
    # a star: b joins a (group x) to c, d (group y) and e (group z); b is in group y.
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("b", "d"), ("b", "e")])
    order = ["a", "b", "c", "d", "e"]
    adj = nx.to_scipy_sparse_array(g, nodelist=order, format="csr")
    roles = analysis.brokerage(adj, np.array(["x", "y", "y", "y", "z"]))[1]
    # a→b→c and a→b→d: gatekeeper (a outside, c/d in b's group); a→b→e: liaison
    assert roles.tolist() == [0, 2, 0, 0, 1]


def test_centralities_match_networkx():
    g = nx.karate_club_graph()
    graph = ig.Graph(n=34, edges=list(g.edges()), edge_attrs={"weight": [1.0] * g.number_of_edges()})
    bt, method = analysis.betweenness(graph)
    assert method == "exact"
    nxb = nx.betweenness_centrality(g, normalized=False)
    assert np.allclose(bt, [nxb[v] for v in range(34)])
    eff = analysis.effective_size(graph)
    nxe = nx.effective_size(g)
    assert np.allclose(eff, [nxe[v] for v in range(34)])
    con = np.asarray(graph.constraint(weights="weight"))
    nxc = nx.constraint(g)
    assert np.allclose(con, [nxc[v] for v in range(34)])


def test_sampled_betweenness_is_unbiased_and_stated():
    graph = ig.Graph.Barabasi(3000, 3)
    exact = np.asarray(graph.betweenness(directed=False))
    est, method = analysis.betweenness(graph, max_exact=1000, pivots=300, seed=1)
    assert "sampled pivots k=300" in method
    top = np.argsort(-exact)[:50]
    rel = np.abs(est[top] - exact[top]) / exact[top]
    assert np.median(rel) < 0.25
    full, _ = analysis.betweenness(graph, max_exact=1000, pivots=3000)
    assert np.allclose(full, exact)


def test_communities_stable_under_seed():
    graph = ig.Graph.Famous("Zachary")
    graph.es["weight"] = 1.0
    a, b = analysis.communities(graph, 5), analysis.communities(graph, 5)
    assert (a == b).all()
    assert len(set(a.tolist())) >= 2


def _atlas(tmp_path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tmp_path / "a.duckdb"))


def _write(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_hybritech_tree_has_ten_firms_in_source_years(tmp_path):
    con = _atlas(tmp_path)
    importers.import_spinoffs(con, builtin_path(), "sd")
    table = flatten(genealogy(con, "sd", "Hybritech"))
    years = dict(zip(table["name"].to_list(), table["founded"].to_list(), strict=True))
    assert years == {"Hybritech": 1978, "Gen-Probe": 1983, "IDEC": 1985, "Gensia": 1986, "Viagene": 1987,
                     "Lipotech": 1987, "Kimmel Cancer Institute": 1990, "Cypros": 1992, "Urogen": 1996,
                     "Medmetric": 1999}
    assert table.filter(table["generation"] == 1).height == 9


@pytest.mark.parametrize(("kind", "rows", "message", "line"), [
    ("ties", [["source", "target", "kind"], ["A", "B", "supply"], ["A", "Z", "supply"]], "unknown actor", 3),
    ("ties", [["source", "target", "kind"], ["A", "A", "supply"]], "self-loop", 2),
    ("ties", [["source", "target", "kind"], ["A", "B", "friendship"]], "unknown tie kind", 2),
    ("ties", [["source", "target", "kind"], ["A", "B", "spin_off"], ["B", "A", "spin_off"]], "own ancestor", 3),
    ("actors", [["actor", "kind"], ["C", "firm"], ["C", "firm"]], "duplicate actor id", 3),
    ("actors", [["actor", "kind"], ["C", "robot"]], "unknown actor kind", 2),
    ("spinoffs", [["child", "parent", "year"], ["x", "y", "1990"], ["y", "x", "1991"]], "own ancestor", 3),
])
def test_bad_input_names_file_row_value_and_stores_nothing(tmp_path, kind, rows, message, line):
    atlas = tmp_path / "a.duckdb"
    assert runner.invoke(app, ["init", "--atlas", str(atlas)]).exit_code == 0
    base = _write(tmp_path / "actors.csv", [["actor", "kind"], ["A", "firm"], ["B", "university"]])
    assert runner.invoke(app, ["network", "import", "actors", str(base), "-a", str(atlas), "-n", "t"]).exit_code == 0
    bad = _write(tmp_path / "bad.csv", rows)
    result = runner.invoke(app, ["network", "import", kind, str(bad), "-a", str(atlas), "-n", "t"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert message in text and "bad.csv" in text and f"line {line}" in text
    con = duckdb.connect(str(atlas))
    assert con.execute("SELECT count(*) FROM actors").fetchall()[0][0] == 2
    assert con.execute("SELECT count(*) FROM actor_ties").fetchall()[0][0] == 0


@pytest.mark.realdata
def test_h2020_counts_against_the_file(tmp_path):
    with gzip.open(H2020, "rt") as f:
        rows = list(csv.DictReader(f))
    orgs = {r["pic"] for r in rows}
    projects = {r["rcn"] for r in rows}
    coordinators = sum(r["role"] == "coordinator" for r in rows)
    members: dict[str, set] = {}
    for r in rows:
        members.setdefault(r["rcn"], set()).add(r["pic"])
    pairs = {p for m in members.values() for p in itertools.combinations(sorted(m), 2)}
    con = _atlas(tmp_path)
    report = importers.import_participations(con, H2020, "h2020", preset="h2020")
    assert (report.actors, report.projects, report.coordinator_roles, report.ties) == (
        len(orgs), len(projects), coordinators, len(pairs))
    assert (len(orgs), len(projects)) == (35_871, 31_451)
    kinds = dict(con.execute("SELECT kind, count(*) FROM actors GROUP BY 1").fetchall())
    assert sum(kinds.values()) == len(orgs)


@pytest.mark.realdata
def test_anr_network_counts_and_figures(tmp_path):
    with ANR.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Projet.Partenaire.Nom_organisme"] != "Non renseigné"]
    orgs = {r["Projet.Partenaire.Nom_organisme"] for r in rows}
    projects = {r["Projet.Code_Decision_ANR"] for r in rows}
    coord_projects = {r["Projet.Code_Decision_ANR"] for r in rows if r["Projet.Partenaire.Est_coordinateur"] == "1"}
    con = _atlas(tmp_path)
    report = importers.import_participations(con, ANR, "anr", preset="anr")
    assert (report.actors, report.projects) == (len(orgs), len(projects))
    assert report.coordinator_roles == len(coord_projects)
    info = analysis.run_network(con, "anr")
    assert info["betweenness"] == "exact"
    summary = con.execute("SELECT actors, share_internal + share_other_region + share_abroad, "
                          "share_unknown_location FROM network_summaries WHERE network = 'anr' AND grp = 'FR1'"
                          ).fetchall()[0]
    # item 5: ties of FR1 actors to actors without a country, counted independently in SQL
    unknown = con.execute("""SELECT avg((NOT coalesce(a.region = 'FR1' AND b.region = 'FR1', false)
                                         AND (a.country IS NULL OR b.country IS NULL))::INT)
        FROM actor_ties t JOIN actors a ON a.network = t.network AND a.actor = t.source
        JOIN actors b ON b.network = t.network AND b.actor = t.target
        WHERE t.network = 'anr' AND 'FR1' IN (a.region, b.region)""").fetchall()[0][0]
    assert summary[0] > 100
    assert summary[2] == pytest.approx(unknown) and summary[1] + summary[2] == pytest.approx(1.0)
    shares = con.execute("SELECT max(abs(share_internal + share_other_region + share_abroad + "
                         "share_unknown_location - 1)) FROM network_summaries WHERE ties > 0").fetchall()[0][0]
    assert shares < 1e-12
    with pytest.raises(InputError, match="already in the atlas"):
        importers.import_participations(con, ANR, "anr", preset="anr")


def test_shares_add_up_with_unknown_location(tmp_path):
    """Item 5: a tie to an actor without a country counted in none of the shares (they added up to 2/3 here)."""
    path = _write(tmp_path / "p.csv", [["project", "actor", "role", "type", "region", "country"],
                                        ["P1", "A", "coordinator", "firm", "X1", "X"],
                                        ["P1", "B", "member", "firm", "X2", "X"],
                                        ["P2", "A", "coordinator", "firm", "X1", "X"],
                                        ["P2", "C", "member", "firm", "", ""],
                                        ["P3", "A", "coordinator", "firm", "X1", "X"],
                                        ["P3", "D", "member", "firm", "Y1", "Y"]])
    con = _atlas(tmp_path)
    importers.import_participations(con, path, "t")
    analysis.run_network(con, "t")
    row = con.execute("SELECT ties, share_internal, share_other_region, share_abroad, share_unknown_location "
                      "FROM network_summaries WHERE network = 't' AND grp = 'X1'").fetchall()[0]
    assert row == (3, 0.0, pytest.approx(1 / 3), pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_brokerage_of_every_actor_above_10000(tmp_path):
    """Item 3: above 10,000 actors brokerage was computed for the top 1,000 by betweenness only."""
    graph = ig.Graph.Erdos_Renyi(n=10_500, m=20_000)
    graph.es["weight"] = 1.0
    import polars as pl

    actors = pl.DataFrame({"actor": [f"a{i}" for i in range(10_500)],
                           "region": [f"R{i % 7}" for i in range(10_500)]})
    frame, info = analysis.actor_metrics(analysis.Network("t", graph, actors), pivots=50)
    assert info["brokerage"] == "all actors" and "sampled pivots k=50" in info["betweenness"]
    assert frame["liaison"].null_count() == 0
    adj = analysis.adjacency(graph)
    sample = np.arange(0, 10_500, 997)
    want = analysis.brokerage(adj, actors["region"].to_numpy(), sample)
    assert frame.select(analysis.ROLE_NAMES).to_numpy()[sample].tolist() == want.tolist()


def test_brokerage_published_example():
    """Item 4: the worked example of the cograph R package's documentation ("bit-exact match against
    sna::brokerage"), https://sonsoles.me/cograph/reference/centrality_brokerage_coordinator.html : the directed
    graph A→B, A→C, B→C, B→D, C→D, D→A with groups (1, 1, 2, 2) has coordinator counts A B C D = 0 0 0 0.
    The page prints only the coordinator role; the other roles below are worked by hand from the same graph:
    open two-paths D→A→B (gatekeeper: source outside, target in A's group), D→A→C (itinerant), A→B→D
    (representative), A→C→D (gatekeeper), B→D→A (itinerant), C→D→A (representative); A→B→C and B→C→D are
    closed by A→C and B→D."""
    order = ["A", "B", "C", "D"]
    g = nx.DiGraph([("A", "B"), ("A", "C"), ("B", "C"), ("B", "D"), ("C", "D"), ("D", "A")])
    roles = analysis.brokerage(nx.to_scipy_sparse_array(g, nodelist=order, format="csr"), np.array([1, 1, 2, 2]))
    assert roles[:, 0].tolist() == [0, 0, 0, 0]  # published
    assert roles.tolist() == [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]]
