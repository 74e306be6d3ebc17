"""Command line for actor networks (issue 12): ``clusteratlas network import|compute``, ``coordinators``,
``spinoffs``, ``match``, ``show actor``, ``show network``.

Registered by :mod:`clusteratlas.cli` (see ``COMMAND_GROUPS``). ``import`` there
takes statistical kinds only, so actor files are imported with
``clusteratlas network import actors|ties|participations|spinoffs``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from clusteratlas.cli._common import app, failing_cleanly, out, show_app
from clusteratlas.errors import InputError
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas

network_app = typer.Typer(help="Actors and their networks: import, compute figures.", no_args_is_help=True)

AtlasOpt = Annotated[Path, typer.Option("--atlas", "-a", help="The atlas file.")]
NetOpt = Annotated[str | None, typer.Option("--network", "-n", help="Network name (default: the only one).")]
KINDS = ("actors", "ties", "participations", "spinoffs")


def _table(frame: pl.DataFrame, title: str) -> None:
    from clusteratlas.report import plain_table

    out.print(plain_table(frame.to_dicts(), title))


@network_app.command("import")
def network_import(
        kind: Annotated[str, typer.Argument(help="actors, ties, participations or spinoffs.")],
        path: Annotated[Path | None, typer.Argument(help="The file (spinoffs: default the built-in Hybritech tree).")]
        = None,
        atlas: AtlasOpt = DEFAULT_PATH,
        network: Annotated[str, typer.Option("--network", "-n", help="Network name.")] = "main",
        preset: Annotated[str | None, typer.Option("--format", help="Participations: h2020 or anr.")] = None,
        mapping: Annotated[list[str] | None, typer.Option("--map", help="CANONICAL=SOURCE column mapping.")] = None,
        lookup: Annotated[Path | None, typer.Option(help="Participations: organisation lookup (pic,name,city).")]
        = None,
        encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
        replace: Annotated[bool, typer.Option(help="Replace the network if it exists.")] = False) -> None:
    """Import actors, ties, participations (→ memberships + co-participation ties) or a spin-off list."""
    with failing_cleanly():
        from clusteratlas.networks import importers
        from clusteratlas.networks.spinoffs import builtin_path

        if kind not in KINDS:
            raise InputError("unknown network import kind", value=kind, expected=", ".join(KINDS))
        if path is None:
            if kind != "spinoffs":
                raise InputError(f"give the {kind} file")
            path = builtin_path()
        cols = parse_mapping(mapping)
        with Atlas(atlas) as a:
            if kind == "actors":
                r = importers.import_actors(a.con, path, network, mapping=cols, encoding=encoding, replace=replace)
            elif kind == "ties":
                r = importers.import_ties(a.con, path, network, mapping=cols, encoding=encoding)
            elif kind == "spinoffs":
                r = importers.import_spinoffs(a.con, path, network, mapping=cols, encoding=encoding)
            else:
                r = importers.import_participations(a.con, path, network, preset=preset, mapping=cols,
                                                    encoding=encoding, lookup=lookup, replace=replace)
        out.print(f"network [bold]{r.network}[/]: {r.actors:,} actors, {r.ties:,} ties, "
                      f"{r.memberships:,} memberships, {r.projects:,} projects, {r.coordinator_roles:,} "
                      f"coordinator roles from {r.file}", highlight=False)
        for note in r.notes:
            out.print(f"  note: {note}", highlight=False)


@network_app.command("compute")
def network_compute(atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
                    group: Annotated[str, typer.Option(help="Brokerage groups: region, kind, country, cluster.")]
                    = "region",
                    seed: Annotated[int, typer.Option(help="Seed of communities and pivots.")] = 0,
                    pivots: Annotated[int, typer.Option(help="Betweenness pivots above --max-exact actors.")] = 200,
                    max_exact: Annotated[int, typer.Option(help="Exact betweenness up to this many actors.")]
                    = 10_000) -> None:
    """Compute and store every network figure (centralities, brokerage, constraint, communities, summaries)."""
    with failing_cleanly():
        from clusteratlas.networks.analysis import run_network

        if group not in ("region", "kind", "country", "cluster", "industry"):
            raise InputError("unknown brokerage group", value=group, expected="region, kind, country, cluster")
        with Atlas(atlas) as a:
            info = run_network(a.con, network, group=group, seed=seed, pivots=pivots, max_exact=max_exact)
        out.print(f"network [bold]{info['network']}[/]: {info['actors']:,} actors, {info['ties']:,} ties, "
                      f"{info['communities_found']:,} communities; {info['seconds']} s", highlight=False)
        out.print(f"betweenness: {info['betweenness']}; brokerage ({group} groups): {info['brokerage']}",
                      highlight=False)


def coordinators(atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
                 region: Annotated[str | None, typer.Option(help="Only actors of this region or country.")] = None,
                 top: Annotated[int, typer.Option(help="How many.")] = 10) -> None:
    """Actors that connect otherwise unconnected groups, the groups they join, and what is lost without them."""
    with failing_cleanly():
        from clusteratlas.networks.brokerage import coordinators as ranked

        with Atlas(atlas) as a:
            frame = ranked(a.con, network, top=top, region=region)
        if frame.height:
            frame = frame.select(pl.coalesce("name", "actor").str.slice(0, 40).alias("actor"), "kind", "region",
                                 "degree", "between_groups", pl.col("betweenness").round(0), "connects",
                                 "components_after", "pairs_lost", pl.col("reachability_lost").round(4))
        _table(frame, "Coordinators / コーディネーター (between-group brokerage, betweenness, removal effect)")


def spinoffs(root: Annotated[str, typer.Argument(help="Root firm: actor id or name.")] = "hybritech",
             atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
             timeline: Annotated[bool, typer.Option(help="Also list firms by founding year.")] = True) -> None:
    """The spin-off tree below a firm: generations, descendants, founding years, survival where known."""
    with failing_cleanly():
        from clusteratlas.networks.spinoffs import flatten, genealogy, render_text

        with Atlas(atlas) as a:
            tree = genealogy(a.con, network, root)
        out.print(render_text(tree), highlight=False)
        if timeline:
            _table(flatten(tree), "Founding-year timeline / 設立年")


def match(atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
          need: Annotated[str | None, typer.Option(help="A need, free text in any language.")] = None,
          actor: Annotated[str | None, typer.Option(help="An actor id: partners for it.")] = None,
          cluster: Annotated[str | None, typer.Option(help="REGION:CLUSTER: partner clusters elsewhere.")] = None,
          kind: Annotated[str | None, typer.Option(help="complementary or synergistic.")] = None,
          top: Annotated[int, typer.Option(help="How many.")] = 10) -> None:
    """Suggest partners, each with its reasons: for a need or an actor, or partner clusters for REGION:CLUSTER."""
    with failing_cleanly():
        from clusteratlas.networks.matching import match_actors, match_clusters

        with Atlas(atlas) as a:
            if cluster is not None:
                region, sep, code = cluster.partition(":")
                if not sep or not region or not code:
                    raise InputError("bad --cluster", value=cluster, expected="REGION:CLUSTER, e.g. S1:C01")
                frame = match_clusters(a.con, region, code, kind=kind, top=top)
                title = f"Partner clusters for {cluster}"
            else:
                frame = match_actors(a.con, network, need=need, actor=actor, kind=kind, top=top)
                title = "Suggested partners / 連携候補"
        _table(frame, title)


def show_actor(actor: Annotated[str, typer.Argument(help="Actor id.")], atlas: AtlasOpt = DEFAULT_PATH,
               network: NetOpt = None) -> None:
    """An actor: what it is, its network figures, its strongest ties and memberships."""
    with failing_cleanly():
        from clusteratlas.networks.queries import actor_profile

        with Atlas(atlas) as a:
            profile = actor_profile(a.con, network, actor)
        out.print(json.dumps(profile["actor"], ensure_ascii=False, indent=1, default=str), highlight=False)
        _table(pl.DataFrame(profile["ties"]), "Strongest ties")
        _table(pl.DataFrame(profile["memberships"]), "Memberships")


def show_network(group: Annotated[str, typer.Argument(help="A region (or country) code, or a cluster code.")],
                 atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
                 top: Annotated[int, typer.Option(help="Actors listed.")] = 15) -> None:
    """A region's or cluster's network: summary figures beside its cluster results, and its central actors."""
    with failing_cleanly():
        from clusteratlas.networks.queries import group_network

        with Atlas(atlas) as a:
            view = group_network(a.con, network, group, top=top)
        summary = view["summary"][0]
        _table(pl.DataFrame({"figure": list(summary), "value": [str(v) for v in summary.values()]}),
               f"Network of {group}")
        if view["clusters"]:
            _table(pl.DataFrame(view["clusters"]), "Cluster results of the region")
        _table(pl.DataFrame(view["actors"]), "Actors by betweenness")


def demo_network(atlas: Path) -> None:
    """The demo's network part: the Hybritech spin-off tree and a small co-participation network.

    Called by ``clusteratlas demo`` on its atlas (one line in cli.demo).
    """
    from clusteratlas.networks import importers
    from clusteratlas.networks.analysis import run_network
    from clusteratlas.networks.spinoffs import builtin_path, genealogy, render_text

    with Atlas(atlas) as a:
        importers.import_spinoffs(a.con, builtin_path(), "san-diego")
        out.print("\n[bold]Spin-off tree / スピンオフ・ツリー[/] (seed 003)")
        out.print(render_text(genealogy(a.con, "san-diego", "hybritech")), highlight=False)
        path = Path(atlas).parent / "demo_participations.csv"
        pl.DataFrame({
            "project": ["P1", "P1", "P1", "P2", "P2", "P3", "P3", "P3", "P4", "P4"],
            "actor": ["U1", "F1", "F2", "U1", "T1", "T1", "F3", "G1", "F3", "F4"],
            "role": ["coordinator", "member", "member", "coordinator", "member", "coordinator", "member",
                     "member", "coordinator", "member"],
            "type": ["university", "firm", "firm", "university", "support", "support", "firm", "government",
                     "firm", "firm"],
            "region": ["S1", "S1", "S1", "S1", "S2", "S2", "S2", "S2", "S3", "S3"],
        }).write_csv(path)
        importers.import_participations(a.con, path, "demo")
        run_network(a.con, "demo")
        from clusteratlas.networks.brokerage import coordinators as ranked

        _table(ranked(a.con, "demo", top=3).select("actor", "kind", "region", "degree", "betweenness",
                                                   "between_groups", "connects", "pairs_lost"),
               "Demo network: coordinators / コーディネーター")


def register(app: typer.Typer, show_app: typer.Typer) -> None:
    """Attach the network commands to the main CLI."""
    app.add_typer(network_app, name="network")
    app.command()(coordinators)
    app.command()(spinoffs)
    app.command()(match)
    show_app.command("actor")(show_actor)
    show_app.command("network")(show_network)


register(app, show_app)
