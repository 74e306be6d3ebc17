"""Command line for actor networks (issue 12): ``clusteratlas network import|compute``, ``coordinators``,
``spinoffs``, ``match``, ``show actor``, ``show network``.

Registered by :mod:`clusteratlas.cli` (see ``COMMAND_GROUPS``). ``import`` there
takes statistical kinds only, so actor files are imported with
``clusteratlas network import actors|ties|participations|spinoffs``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clusteratlas.cli._common import WideOpt, app, failing_cleanly, out, show_app
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.networks.model import ACTOR_KINDS
from clusteratlas.report import Col, FitTable
from clusteratlas.sources.generic import parse_mapping
from clusteratlas.store import DEFAULT_PATH, Atlas

if TYPE_CHECKING:  # Polars is imported by the commands that use it: every command would pay for it
    import polars as pl

network_app = typer.Typer(help="Actors and their networks: import, compute figures.", no_args_is_help=True)

AtlasOpt = Annotated[Path, typer.Option("--atlas", "-a", help="The atlas file.")]
NetOpt = Annotated[str | None, typer.Option("--network", "-n", help="Network name (default: the only one).")]
KINDS = ("actors", "ties", "participations", "spinoffs")


@dataclass(frozen=True)
class Field:
    """A column of a network table: the frame column, its header, and how it fits a narrow terminal
    (``priority`` 0 is never dropped, higher numbers first; ``flex`` columns are shortened with …)."""

    column: str
    header: str
    priority: int = 1
    short: str | None = None
    fmt: str | None = None
    flex: bool = False


def _cell(value: object, fmt: str | None) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if fmt:
        return fmt.format(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _fit(frame: pl.DataFrame, title: str, fields: list[Field], *, wide: bool = False) -> FitTable:
    """A network table through the project's FitTable (fits the terminal; ``--wide`` shows every column)."""
    fields = [f for f in fields if f.column in frame.columns]
    numeric = {f.column: frame.schema[f.column].is_numeric() for f in fields}
    table = FitTable(title, [Col(f.header, "right" if numeric[f.column] else "left", f.priority, f.short,
                                 f.flex) for f in fields], wide=wide)
    for row in frame.iter_rows(named=True):
        table.add_row(*(_(row[f.column]) if f.column == "kind" and row[f.column] in ACTOR_KINDS
                        else _cell(row[f.column], f.fmt) for f in fields))
    return table


def _show(table: FitTable, wide: bool) -> None:
    out.print(table, crop=not wide)


COORDINATOR_FIELDS = [
    Field("label", "Actor", 0, flex=True), Field("kind", "Kind", 4), Field("region", "Region", 1, "Reg."),
    Field("degree", "Degree", 3, "Deg."), Field("between_groups", "Between groups", 0, "Brokerage"),
    Field("betweenness", "Betweenness", 2, "Betw.", "{:,.0f}"), Field("connects", "Connects", 5, flex=True),
    Field("components_after", "Components after", 6, "Comp."), Field("pairs_lost", "Pairs lost", 1, "Lost"),
    Field("reachability_lost", "Reachability lost", 2, "Reach", "{:.2%}")]


def coordinator_table(frame: pl.DataFrame, title: str, *, wide: bool = False) -> FitTable:
    """Coordinators: name, brokerage between groups, betweenness, what is lost without them."""
    import polars as pl

    if frame.height:
        frame = frame.with_columns(pl.coalesce("name", "actor").alias("label"))
    return _fit(frame, title, COORDINATOR_FIELDS, wide=wide)


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
            raise InputError(_("unknown network import kind"), value=kind, expected=", ".join(KINDS))
        if path is None:
            if kind != "spinoffs":
                raise InputError(_("give the {kind} file").format(kind=kind))
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
                    pivots: Annotated[int, typer.Option(help="Betweenness pivots above --max-exact actors.")] = 500,
                    max_exact: Annotated[int, typer.Option(help="Exact betweenness up to this many actors.")]
                    = 10_000) -> None:
    """Compute and store every network figure (centralities, brokerage, constraint, communities, summaries)."""
    with failing_cleanly():
        from clusteratlas.networks.analysis import run_network

        if group not in ("region", "kind", "country", "cluster", "industry"):
            raise InputError(_("unknown brokerage group"), value=group, expected=_("region, kind, country, cluster"))
        with Atlas(atlas) as a:
            info = run_network(a.con, network, group=group, seed=seed, pivots=pivots, max_exact=max_exact)
        out.print(f"network [bold]{info['network']}[/]: {info['actors']:,} actors, {info['ties']:,} ties, "
                      f"{info['communities_found']:,} communities; {info['seconds']} s", highlight=False)
        out.print(f"betweenness: {info['betweenness']}; brokerage ({group} groups): {info['brokerage']}",
                      highlight=False)


def coordinators(atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
                 region: Annotated[str | None, typer.Option(help="Only actors of this region or country.")] = None,
                 top: Annotated[int, typer.Option(help="How many.")] = 10, wide: WideOpt = False) -> None:
    """Actors that connect otherwise unconnected groups, the groups they join, and what is lost without them."""
    with failing_cleanly():
        from clusteratlas.networks.brokerage import coordinators as ranked

        with Atlas(atlas, read_only=True) as a:
            frame = ranked(a.con, network, top=top, region=region)
        _show(coordinator_table(frame, "Coordinators / コーディネーター (between-group brokerage, betweenness, "
                                       "removal effect)", wide=wide), wide)


def spinoffs(root: Annotated[str, typer.Argument(help="Root firm: actor id or name.")] = "hybritech",
             atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
             timeline: Annotated[bool, typer.Option(help="Also list firms by founding year.")] = True,
             wide: WideOpt = False) -> None:
    """The spin-off tree below a firm: generations, descendants, founding years, survival where known."""
    with failing_cleanly():
        from clusteratlas.networks.spinoffs import flatten, genealogy, render_text

        with Atlas(atlas, read_only=True) as a:
            tree = genealogy(a.con, network, root)
        out.print(render_text(tree), highlight=False)
        if timeline:
            _show(_fit(flatten(tree), "Founding-year timeline / 設立年", [
                Field("founded", "Founded", 0, fmt="{}"), Field("name", "Firm", 0, flex=True),
                Field("generation", "Generation", 1, "Gen."), Field("parent", "Parent", 2),
                Field("descendants", "Descendants", 1, "Desc."), Field("status", "Status", 3),
                Field("actor", "Id", 4)], wide=wide), wide)


ACTOR_MATCH_FIELDS = [
    Field("label", "Partner", 0, flex=True), Field("kind", "Kind", 3), Field("region", "Region", 1, "Reg."),
    Field("score", "Score", 0, fmt="{:.3f}"), Field("text", "Text", 4, fmt="{:.2f}"),
    Field("network", "Network", 4, "Net.", "{:.2f}"), Field("cluster", "Cluster", 4, "Clu.", "{:.2f}"),
    Field("why", "Why", 2, flex=True)]
CLUSTER_MATCH_FIELDS = [
    Field("kind", "Kind", 0), Field("region", "Region", 0, "Reg."), Field("cluster", "Cluster", 0, flex=True),
    Field("score", "Score", 0, fmt="{:.3f}"), Field("similarity", "Similarity", 2, "Sim.", "{:.2f}"),
    Field("relatedness", "Proximity", 2, "Prox.", "{:.2f}"), Field("lq_there", "LQ there", 1, "LQ", "{:.2f}"),
    Field("lq_here", "LQ here", 3, "LQ h.", "{:.2f}"), Field("employment_there", "Jobs there", 3, "Jobs", "{:,.0f}"),
    Field("why", "Why", 5, flex=True)]


def match(atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
          need: Annotated[str | None, typer.Option(help="A need, free text in any language.")] = None,
          actor: Annotated[str | None, typer.Option(help="An actor id: partners for it.")] = None,
          cluster: Annotated[str | None, typer.Option(help="REGION:CLUSTER: partner clusters elsewhere.")] = None,
          kind: Annotated[str | None, typer.Option(help="complementary or synergistic.")] = None,
          top: Annotated[int, typer.Option(help="How many (of each kind for --cluster).")] = 10,
          min_employment: Annotated[float, typer.Option(help="--cluster: partner clusters with fewer jobs are "
                                                             "left out.")] = 1000.0,
          wide: WideOpt = False) -> None:
    """Suggest partners, each with its reasons: for a need or an actor, or partner clusters for REGION:CLUSTER."""
    with failing_cleanly():
        import polars as pl

        from clusteratlas.networks.matching import match_actors, match_clusters

        with Atlas(atlas, read_only=True) as a:
            if cluster is not None:
                region, sep, code = cluster.partition(":")
                if not sep or not region or not code:
                    raise InputError(_("bad --cluster"), value=cluster, expected=_("REGION:CLUSTER, e.g. S1:C01"))
                frame = match_clusters(a.con, region, code, kind=kind, top=top, min_employment=min_employment)
                table = _fit(frame, f"Partner clusters for {cluster} (synergistic: same cluster, similar "
                                    "composition; complementary: related cluster)", CLUSTER_MATCH_FIELDS, wide=wide)
            else:
                frame = match_actors(a.con, network, need=need, actor=actor, kind=kind, top=top)
                frame = frame.with_columns(pl.coalesce("name", "actor").alias("label"))
                table = _fit(frame, "Suggested partners / 連携候補", ACTOR_MATCH_FIELDS, wide=wide)
        _show(table, wide)


def show_actor(actor: Annotated[str, typer.Argument(help="Actor id.")], atlas: AtlasOpt = DEFAULT_PATH,
               network: NetOpt = None, wide: WideOpt = False) -> None:
    """An actor: what it is, its network figures, its strongest ties and memberships."""
    with failing_cleanly():
        import polars as pl

        from clusteratlas.networks.queries import actor_profile

        with Atlas(atlas, read_only=True) as a:
            profile = actor_profile(a.con, network, actor)
        out.print(json.dumps(profile["actor"], ensure_ascii=False, indent=1, default=str), highlight=False)
        ties = pl.DataFrame(profile["ties"])
        if ties.height:
            ties = ties.with_columns(pl.coalesce("name", "partner").alias("label"))
        _show(_fit(ties, "Strongest ties", [
            Field("label", "Partner", 0, flex=True), Field("kind", "Kind", 3), Field("region", "Region", 1, "Reg."),
            Field("tie", "Tie", 4), Field("direction", "Direction", 3, "Dir."),
            Field("weight", "Weight", 0, fmt="{:,.0f}"), Field("period", "Period", 2),
            Field("evidence", "Evidence", 5, flex=True)], wide=wide), wide)
        _show(_fit(pl.DataFrame(profile["memberships"]), "Memberships", [
            Field("project", "Project", 0), Field("role", "Role", 1), Field("year", "Year", 1, fmt="{}"),
            Field("programme", "Programme", 2, flex=True), Field("project_name", "Title", 3, flex=True)],
            wide=wide), wide)


def show_network(group: Annotated[str, typer.Argument(help="A region (or country) code, or a cluster code.")],
                 atlas: AtlasOpt = DEFAULT_PATH, network: NetOpt = None,
                 top: Annotated[int, typer.Option(help="Actors listed.")] = 15, wide: WideOpt = False) -> None:
    """A region's or cluster's network: summary figures beside its cluster results, and its central actors."""
    with failing_cleanly():
        import polars as pl

        from clusteratlas.networks.queries import group_network

        with Atlas(atlas, read_only=True) as a:
            view = group_network(a.con, network, group, top=top)
        if view["computed"]:
            summary = view["summary"][0]
            _show(_fit(pl.DataFrame({"figure": list(summary), "value": [_cell(v, None) for v in summary.values()]}),
                       f"Network of {group}", [Field("figure", "Figure", 0), Field("value", "Value", 0)], wide=wide),
                  wide)
        else:
            out.print(_("No network figures yet: run 'clusteratlas network compute' for them."), highlight=False)
        if view["clusters"]:
            _show(_fit(pl.DataFrame(view["clusters"]), "Cluster results of the region", [
                Field("cluster", "Cluster", 0, flex=True), Field("region", "Region", 3),
                Field("employment", "Employment", 1, "Jobs", "{:,.0f}"), Field("lq", "LQ", 0, fmt="{:.2f}"),
                Field("stars", "Stars", 2), Field("strong", "Strong", 2)], wide=wide), wide)
        money = pl.DataFrame(view["contributions"])
        if money.height and money["with_contribution"].sum() > 0:
            _show(_fit(money, "EU contribution by country and role (as published)", [
                Field("country", "Country", 0), Field("role", "Role", 0),
                Field("participations", "Participations", 1, "Part."),
                Field("organisations", "Organisations", 3, "Orgs"),
                Field("contribution", "EU contribution", 0, "EU contr.", "{:,.0f}")], wide=wide), wide)
        actors = pl.DataFrame(view["actors"])
        if actors.height:
            actors = actors.with_columns(pl.coalesce("name", "actor").alias("label"))
        _show(_fit(actors, "Actors by betweenness", [
            Field("label", "Actor", 0, flex=True), Field("kind", "Kind", 3), Field("region", "Region", 2, "Reg."),
            Field("degree", "Degree", 1, "Deg."), Field("in_degree", "In (directed)", 4, "In"),
            Field("out_degree", "Out (directed)", 4, "Out"), Field("strength", "Strength", 4, "Str.", "{:,.0f}"),
            Field("betweenness", "Betweenness", 0, "Betw.", "{:,.0f}"),
            Field("eigenvector", "Eigenvector", 2, "Eig.", "{:.3f}"),
            Field("constraint_burt", "Constraint", 3, "Constr.", "{:.3f}"),
            Field("community", "Community", 5, "Comm.")], wide=wide), wide)


def demo_network(atlas: Path) -> None:
    """Print the demo's network part, which ``build_demo_atlas`` stored: the Hybritech spin-off tree and the three
    coordinators of the small co-participation network (called by ``clusteratlas demo``)."""
    from clusteratlas.networks.brokerage import coordinators as ranked
    from clusteratlas.networks.spinoffs import genealogy, render_text

    with Atlas(atlas) as a:
        out.print("\n[bold]" + _("Spin-off tree") + "[/] " + _("(Hybritech, San Diego; NISTEP 2004 seed 003)"))
        out.print(render_text(genealogy(a.con, "san-diego", "hybritech")), highlight=False)
        out.print(coordinator_table(ranked(a.con, "demo", top=3), _("Demo network: coordinators")))


def register(app: typer.Typer, show_app: typer.Typer) -> None:
    """Attach the network commands to the main CLI."""
    app.add_typer(network_app, name="network")
    app.command()(coordinators)
    app.command()(spinoffs)
    app.command()(match)
    show_app.command("actor")(show_actor)
    show_app.command("network")(show_network)


register(app, show_app)
