"""Spin-off genealogy: generations, descendants per founder, founding-year timeline, survival; as text or a tree.

Built from the ``spin_off`` ties (parent → child). Cycles are refused at import
(:func:`clusteratlas.networks.importers.check_acyclic`); a cycle met here
(e.g. from hand-edited tables) is an error too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import networkx as nx
import polars as pl

from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.analysis import resolve_network

HYBRITECH = "hybritech_spinoffs.csv"


def builtin_path(name: str = HYBRITECH) -> Path:
    """The path of a spin-off list shipped with clusteratlas (the Hybritech tree of seed 003)."""
    return Path(str(resources.files("clusteratlas.reference") / "data" / name))


def genealogy(con: duckdb.DuckDBPyConnection, network: str | None, root: str) -> dict:
    """The tree below ``root`` (an actor id or name): nested nodes with generation, year, status, descendants."""
    name = resolve_network(con, network)
    actors = con.sql("SELECT actor, name, founded FROM actors WHERE network = ?", params=[name]).pl()
    ties = con.sql("SELECT source, target, year, evidence FROM actor_ties WHERE network = ? AND kind = 'spin_off'",
                   params=[name]).pl()
    graph = nx.DiGraph()
    graph.add_edges_from((s, t, {"year": y, "evidence": e}) for s, t, y, e in ties.iter_rows())
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise InputError(_("the spin-off links contain a cycle"), value=" → ".join(u for u, _ in cycle))
    info = {r["actor"]: r for r in actors.iter_rows(named=True)}
    by_name = {(r["name"] or "").lower(): r["actor"] for r in actors.iter_rows(named=True)}
    root_id = root if root in info else by_name.get(root.lower())
    if root_id is None or root_id not in graph:
        roots = sorted(n for n in graph if graph.in_degree(n) == 0)
        raise InputError(_("no spin-off tree rooted at '{root}' in network '{name}'").format(root=root, name=name),
                         expected=", ".join(roots) or "a network with spin-off ties")

    def node(actor: str, generation: int) -> dict:
        children = sorted(graph.successors(actor), key=lambda c: (info.get(c, {}).get("founded") or 0, c))
        edge = {}
        kids = [node(c, generation + 1) for c in children]
        record = info.get(actor, {})
        for kid in kids:
            edge = graph.edges[actor, kid["actor"]]
            kid["status"] = _field(edge.get("evidence"), "status")
            kid["link"] = _field(edge.get("evidence"), "link")
        return {"actor": actor, "name": record.get("name") or actor, "founded": record.get("founded"),
                "generation": generation, "descendants": len(nx.descendants(graph, actor)), "children": kids}

    tree = node(root_id, 0)
    return tree


def _field(evidence: str | None, key: str) -> str | None:
    for part in (evidence or "").split("; "):
        k, _, v = part.partition(": ")
        if k == key and v not in ("-", "unknown"):
            return v
    return None


def flatten(tree: dict) -> pl.DataFrame:
    """One row per firm: generation, founding year, parent, descendants, status — the timeline, sorted by year."""
    rows = []

    def walk(n: dict, parent: str | None) -> None:
        rows.append({"actor": n["actor"], "name": n["name"], "founded": n["founded"], "generation": n["generation"],
                     "parent": parent, "descendants": n["descendants"], "status": n.get("status")})
        for c in n["children"]:
            walk(c, n["actor"])

    walk(tree, None)
    return pl.DataFrame(rows).sort(["founded", "generation", "actor"], nulls_last=True)


def render_text(tree: dict) -> str:
    """The tree as text lines (├── / └──), each firm with its founding year and survival where known."""
    def label(n: dict) -> str:
        extra = f" ({n['founded']})" if n.get("founded") else ""
        if n.get("status"):
            extra += f" [{n['status']}]"
        if n["descendants"]:
            from clusteratlas.i18n import _

            extra += " — " + _("{n} descendant(s)").format(n=n["descendants"])
        return f"{n['name']}{extra}"

    lines = [label(tree)]

    def walk(n: dict, prefix: str) -> None:
        for i, c in enumerate(n["children"]):
            last = i == len(n["children"]) - 1
            lines.append(prefix + ("└── " if last else "├── ") + label(c))
            walk(c, prefix + ("    " if last else "│   "))

    walk(tree, "")
    return "\n".join(lines)
