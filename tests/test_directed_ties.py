"""Issue 19 item 11: spin-off and investment ties keep their direction in the network figures.

A hand-built network: P spun off C1 and C2, C1 spun off G, investor I invested in C2, and C1 and C2 share a
project (an undirected tie). Paths follow the spin-off and investment ties one way only.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from clusteratlas.networks import analysis, importers
from clusteratlas.networks.spinoffs import genealogy
from clusteratlas.store import Atlas
from tests.conftest import invoke

ACTORS = "actor,name,kind,region\nP,Parent,firm,R1\nC1,Child one,firm,R1\nC2,Child two,firm,R2\n" \
         "G,Grandchild,firm,R2\nI,Investor,investor,R1\n"
TIES = "source,target,kind,year\nP,C1,spin_off,1980\nP,C2,spin_off,1985\nC1,G,spin_off,1990\n" \
       "I,C2,investment,1986\nC1,C2,joint_project,1995\n"
ONE_WAY = [("P", "C1"), ("P", "C2"), ("C1", "G"), ("I", "C2")]


@pytest.fixture
def atlas(tmp_path):
    path = tmp_path / "a.duckdb"
    (tmp_path / "actors.csv").write_text(ACTORS, encoding="utf-8")
    (tmp_path / "ties.csv").write_text(TIES, encoding="utf-8")
    with Atlas(path, create=True) as a:
        importers.import_actors(a.con, tmp_path / "actors.csv", "sd")
        importers.import_ties(a.con, tmp_path / "ties.csv", "sd")
    return path


def _figures(path):
    with Atlas(path) as a:
        analysis.run_network(a.con, "sd", group="region")
        return {r["actor"]: r for r in a.con.sql("SELECT * FROM network_metrics").pl().to_dicts()}


def _digraph() -> nx.DiGraph:
    """The same network written independently: one arc per directed tie, two for the shared project."""
    g = nx.DiGraph(ONE_WAY)
    g.add_edges_from([("C1", "C2"), ("C2", "C1")])
    return g


def test_in_and_out_degree_count_the_directed_ties(atlas):
    got = _figures(atlas)
    # hand-counted: P spun off two firms; C2 has a parent and an investor; the shared project counts in neither
    assert {a: (r["in_degree"], r["out_degree"]) for a, r in got.items()} == {
        "P": (0, 2), "C1": (1, 1), "C2": (2, 0), "G": (1, 0), "I": (0, 1)}
    assert got["C1"]["degree"] == 3 and got["C2"]["degree"] == 3  # partners, any tie, any direction


def test_betweenness_follows_the_ties_one_way(atlas):
    got = _figures(atlas)
    # hand-counted ordered pairs: C1 lies on P→G, C2→G and I→G; C2 on I→C1 and I→G (I→C2→C1→G).
    # Read as undirected, C2 would also lie on I–P (3): the investor reaching the parent against the arrows.
    assert {a: r["betweenness"] for a, r in got.items()} == {"P": 0, "C1": 3, "C2": 2, "G": 0, "I": 0}
    expected = nx.betweenness_centrality(_digraph(), normalized=False)
    assert {a: r["betweenness"] for a, r in got.items()} == pytest.approx(expected)
    undirected = nx.betweenness_centrality(_digraph().to_undirected(), normalized=False)
    assert undirected["C2"] == 3  # what the old undirected reading gave


def test_brokerage_reads_directed_two_paths(atlas):
    got = _figures(atlas)
    groups = {"P": "R1", "C1": "R1", "I": "R1", "C2": "R2", "G": "R2"}
    g = _digraph()
    for b in g:
        roles = [0] * 5
        for a in g.predecessors(b):
            for c in g.successors(b):
                if a == c or g.has_edge(a, c):
                    continue
                ga, gb, gc = groups[a], groups[b], groups[c]
                roles[0 if ga == gb == gc else 1 if ga != gb and gc == gb else 2 if ga == gb and gc != gb
                      else 3 if ga == gc else 4] += 1
        assert [got[b][k] for k in analysis.ROLE_NAMES] == roles, b
    # C1 (R1) brokers P (R1) → G (R2): a representative; read undirected, G → C1 → P also made it a
    # gatekeeper (a path against the arrows)
    assert (got["C1"]["representative"], got["C1"]["gatekeeper"], got["C1"]["itinerant"]) == (1, 0, 1)


def test_a_network_without_directed_ties_keeps_its_undirected_figures(tmp_path):
    path = tmp_path / "u.duckdb"
    (tmp_path / "actors.csv").write_text(ACTORS, encoding="utf-8")
    (tmp_path / "ties.csv").write_text(TIES.replace("spin_off", "joint_project").replace("investment", "supply"),
                                       encoding="utf-8")
    with Atlas(path, create=True) as a:
        importers.import_actors(a.con, tmp_path / "actors.csv", "u")
        importers.import_ties(a.con, tmp_path / "ties.csv", "u")
        info = analysis.run_network(a.con, "u")
        got = {r["actor"]: r for r in a.con.sql("SELECT * FROM network_metrics").pl().to_dicts()}
    expected = nx.betweenness_centrality(_digraph().to_undirected(), normalized=False)
    assert {a: r["betweenness"] for a, r in got.items()} == pytest.approx(expected)
    assert all(r["in_degree"] == 0 and r["out_degree"] == 0 for r in got.values())
    assert info["betweenness"] == "exact" and info["directed_ties"] == "none"


def test_the_spin_off_tree_and_the_actor_view_keep_the_direction(atlas, runner):
    with Atlas(atlas) as a:
        tree = genealogy(a.con, "sd", "P")
    assert tree["descendants"] == 3 and [c["actor"] for c in tree["children"]] == ["C1", "C2"]
    assert nx.descendants(nx.DiGraph(ONE_WAY), "P") == {"C1", "C2", "G"}
    invoke(runner, "network", "compute", "--atlas", atlas, "-n", "sd")
    res = invoke(runner, "show", "actor", "C2", "--atlas", atlas, "-n", "sd", "--wide")
    assert res.exit_code == 0, res.output
    lines = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.count("│") > 3}
    assert " in " in lines["Parent"] and " in " in lines["Investor"] and "both ways" in lines["Child one"]
    res = invoke(runner, "show", "network", "R1", "--atlas", atlas, "-n", "sd", "--wide")
    assert res.exit_code == 0 and "Out (directed)" in res.output
    assert np.isfinite(_figures(atlas)["P"]["betweenness"])
