"""Import actors, ties, participations and spin-off lists into the atlas: checked whole, stored all-or-nothing.

Every file is read completely and checked before anything is written; a
problem raises :class:`~clusteratlas.errors.InputError` naming the file, the
line (header = line 1), the column and the value. The writes of one import
are one transaction: a failure leaves the atlas as it was.

Participation tables (project × organisation with role and type, as CORDIS
and the national research councils publish them) become actors,
memberships, and co-participation ties whose weight is the number of
projects two organisations share.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from clusteratlas._sql import plain_connect, scalar
from clusteratlas.errors import InputError, did_you_mean
from clusteratlas.i18n import _
from clusteratlas.networks.model import (
    ACTOR_KINDS,
    ANR_CATEGORIES,
    CORDIS_TYPES,
    FR_REGIONS_NUTS,
    MISSING,
    TIE_KINDS,
)
from clusteratlas.sources.files import LINE, open_relation
from clusteratlas.store.networks import NETWORK_TABLES, ensure_network_schema

ACTOR_COLUMNS = ("actor", "name", "name_ja", "kind", "region", "country", "city", "industry", "cluster", "size",
                 "founded", "seeds", "needs", "source")
TIE_COLUMNS = ("source", "target", "kind", "year", "period", "weight", "evidence")
PARTICIPATION_COLUMNS = ("project", "actor", "role", "type", "name", "city", "region", "country", "year",
                         "project_name", "programme", "description", "contribution")
SPINOFF_COLUMNS = ("child", "parent", "year", "child_name", "parent_name", "founders", "status", "closed",
                   "region", "industry", "link", "source")

#: Column mappings of the public participation tables this project was tested on.
PRESETS: dict[str, dict[str, str]] = {
    "h2020": {"project": "rcn", "actor": "pic", "role": "role", "type": "type", "country": "country",
              "year": "start_year", "contribution": "contribution"},
    "anr": {"project": "Projet.Code_Decision_ANR", "actor": "Projet.Partenaire.Nom_organisme",
            "name": "Projet.Partenaire.Nom_organisme",
            "role": "Projet.Partenaire.Est_coordinateur", "type": "Projet.Partenaire.Categorie_organisme",
            "city": "Projet.Partenaire.Adresse.Ville", "region": "Projet.Partenaire.Adresse.Region",
            "country": "Projet.Partenaire.Adresse.Pays", "year": "Action.Edition"},
}

_COORDINATOR = {"coordinator", "coord", "coordinateur", "lead", "1", "true", "yes", "y", "代表", "幹事"}
_MEMBER = {"member", "participant", "partner", "0", "false", "no", "n", "参加", "beneficiary", ""}


@dataclass
class NetworkImport:
    """What an import stored."""

    network: str
    file: str
    actors: int = 0
    ties: int = 0
    memberships: int = 0
    projects: int = 0
    coordinator_roles: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading
def read_table(path: str | os.PathLike[str], columns: tuple[str, ...], required: tuple[str, ...], *,
               mapping: Mapping[str, str] | None = None, encoding: str | None = None) -> pl.DataFrame:
    """Read a CSV/Excel/Parquet file as text columns named canonically, with the file line in ``__line``.

    ``mapping`` maps canonical names to the file's column names; unmapped
    canonical names are looked up as they are. Missing required columns are
    an error that lists the file's columns.
    """
    path = Path(path)
    con = plain_connect()
    try:
        view = open_relation(con, path, encoding=encoding)
        df = con.sql(f"SELECT * FROM {view}").pl()
    finally:
        con.close()
    mapping = dict(mapping or {})
    for canonical in mapping:
        if canonical not in columns:
            raise InputError(_("unknown column in the mapping"), file=str(path), value=canonical,
                             expected=", ".join(columns))
    present = [c for c in df.columns if c != LINE]
    selected: dict[str, pl.Expr] = {}
    for name in columns:
        source = mapping.get(name, name)
        if source in present:
            selected[name] = pl.col(source).cast(pl.String).str.strip_chars()
        elif name in required or name in mapping:
            raise InputError(_("missing column"), file=str(path), column=source,
                             hint=did_you_mean(source, present) or "")
    out = df.select([e.alias(n) for n, e in selected.items()] + [pl.col(LINE).cast(pl.Int64)])
    for name in columns:  # absent optional columns are all-null
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    # "NA" is Namibia's ISO code in a country column (11 Horizon 2020 participations), not "not given"
    return out.with_columns([pl.when(pl.col(c).is_in(list(MISSING - ({"NA"} if c == "country" else set()))))
                             .then(None).otherwise(pl.col(c)).alias(c) for c in columns])


def _fail_first(df: pl.DataFrame, bad: pl.Expr, problem: str, file: str, column: str, *,
                expected: str | None = None, hint: str | None = None) -> None:
    """Raise for the first row where ``bad`` holds."""
    hits = df.filter(bad)
    if hits.height:
        row = hits.row(0, named=True)
        raise InputError(problem, file=file, row=row[LINE], column=column, value=row.get(column),
                         expected=expected, hint=(_("{n:,} row(s) like this; {hint}") if hint else
                                                  _("{n:,} row(s) like this")).format(n=hits.height, hint=hint))


def _required(df: pl.DataFrame, file: str, *names: str) -> None:
    for name in names:
        _fail_first(df, pl.col(name).is_null(), "empty value", file, name, expected="a value")


def _integers(df: pl.DataFrame, file: str, *names: str) -> pl.DataFrame:
    """Year columns as whole numbers; a year may be written as Japanese sources write it (平成19年, H19,
    2007年度 -> 2007; see :func:`clusteratlas.dates.parse_year`), or be an Excel date cell."""
    from clusteratlas.dates import YEAR_EXPECTED
    from clusteratlas.sources.generic import year_text

    for name in names:
        raw = pl.col(name).cast(pl.String)
        read = (pl.when(raw.cast(pl.Float64, strict=False).is_null() & raw.is_not_null())
                .then(raw.map_elements(year_text, return_dtype=pl.String)).otherwise(raw))
        as_int = read.cast(pl.Float64, strict=False)
        _fail_first(df, pl.col(name).is_not_null() & (as_int.is_null() | (as_int != as_int.round(0))),
                    "not a whole number", file, name, expected=YEAR_EXPECTED)
        df = df.with_columns(as_int.cast(pl.Int64).alias(name))
    return df


def _kinds(df: pl.DataFrame, file: str, column: str, allowed: Mapping[str, str], aliases: Mapping[str, str],
           what: str) -> pl.DataFrame:
    """Check a kind column against the allowed kinds (or aliases) and map aliases to kinds."""
    table = {**{k: k for k in allowed}, **aliases}
    _fail_first(df, pl.col(column).is_not_null() & ~pl.col(column).is_in(list(table)), f"unknown {what}", file,
                column, expected=", ".join(allowed))
    return df.with_columns(pl.col(column).replace_strict(table, default=None, return_dtype=pl.String))


def _duplicates(df: pl.DataFrame, file: str, column: str, what: str) -> None:
    _fail_first(df, pl.col(column).is_not_null() & ~pl.col(column).is_first_distinct(), f"duplicate {what}",
                file, column, hint="each id may appear once")


# ---------------------------------------------------------------- storing
@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def network_exists(con: duckdb.DuckDBPyConnection, network: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM actors WHERE network = ?", [network]))


def _clear(con: duckdb.DuckDBPyConnection, network: str) -> None:
    for table in NETWORK_TABLES:
        con.execute(f"DELETE FROM {table} WHERE network = ?", [network])


def _insert(con: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame, network: str) -> None:
    frame = df.with_columns(pl.lit(network).alias("network")).drop(LINE, strict=False)
    con.register("__net_rows", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM __net_rows")
    finally:
        con.unregister("__net_rows")


def _known_actors(con: duckdb.DuckDBPyConnection, network: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT actor FROM actors WHERE network = ?", [network]).fetchall()}


# ---------------------------------------------------------------- actors
def check_actors(df: pl.DataFrame, file: str) -> pl.DataFrame:
    """Check an actors table (ids present and unique, kinds known, years whole) and normalise kinds."""
    _required(df, file, "actor", "kind")
    _duplicates(df, file, "actor", "actor id")
    df = _kinds(df, file, "kind", ACTOR_KINDS, CORDIS_TYPES, "actor kind")
    return _integers(df, file, "founded")


def import_actors(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], network: str, *,
                  mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                  replace: bool = False) -> NetworkImport:
    """Import an actors file into ``network``; ids already stored are refused unless ``replace``."""
    ensure_network_schema(con)
    file = str(path)
    df = check_actors(read_table(path, ACTOR_COLUMNS, ("actor", "kind"), mapping=mapping, encoding=encoding), file)
    if not replace:
        known = _known_actors(con, network)
        _fail_first(df, pl.col("actor").is_in(list(known)), "actor id already in the atlas", file, "actor",
                    hint=f"network '{network}' has it; pass --replace to replace the whole network")
    with _transaction(con):
        if replace:
            _clear(con, network)
        _insert(con, "actors", df, network)
    return NetworkImport(network, file, actors=df.height)


# ---------------------------------------------------------------- ties
def check_ties(df: pl.DataFrame, file: str, known: set[str]) -> pl.DataFrame:
    """Check ties: both ends are known actors, no self-loops, known kinds, numeric weights; no spin-off cycle."""
    _required(df, file, "source", "target", "kind")
    for end in ("source", "target"):
        _fail_first(df, ~pl.col(end).is_in(list(known)), "unknown actor", file, end,
                    expected="an actor id of this network", hint="import the actors first")
    _fail_first(df, pl.col("source") == pl.col("target"), "self-loop: an actor tied to itself", file, "target")
    df = _kinds(df, file, "kind", TIE_KINDS, {"co_participation": "joint_project", "spinoff": "spin_off"},
                "tie kind")
    df = _integers(df, file, "year")
    weight = pl.col("weight").cast(pl.Float64, strict=False)
    _fail_first(df, pl.col("weight").is_not_null() & (weight.is_null() | (weight <= 0) | weight.is_nan()),
                "weight is not a positive number", file, "weight", expected="a number > 0")
    df = df.with_columns(weight.fill_null(1.0).alias("weight"))
    spin = df.filter(pl.col("kind") == "spin_off")
    if spin.height:
        check_acyclic(spin.rename({"source": "parent", "target": "child"}), file)
    return df


def import_ties(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], network: str, *,
                mapping: Mapping[str, str] | None = None, encoding: str | None = None) -> NetworkImport:
    """Import ties between actors already in ``network``."""
    ensure_network_schema(con)
    file = str(path)
    df = read_table(path, TIE_COLUMNS, ("source", "target", "kind"), mapping=mapping, encoding=encoding)
    existing = con.sql("SELECT target AS child, source AS parent, NULL::BIGINT AS __line FROM actor_ties "
                           "WHERE network = ? AND kind = 'spin_off'", params=[network]).pl()
    df = check_ties(df, file, _known_actors(con, network))
    if existing.height:
        check_acyclic(pl.concat([existing.with_columns(pl.col(LINE).cast(pl.Int64)),
                                 df.filter(pl.col("kind") == "spin_off").select(
                                     pl.col("target").alias("child"), pl.col("source").alias("parent"), LINE)]),
                      file)
    with _transaction(con):
        _insert(con, "actor_ties", df.select(*TIE_COLUMNS, LINE), network)
    return NetworkImport(network, file, ties=df.height)


# ---------------------------------------------------------------- spin-offs
def check_acyclic(df: pl.DataFrame, file: str) -> None:
    """Refuse parent links that make a firm its own ancestor; name the line that closes the cycle."""
    import networkx as nx

    graph = nx.DiGraph()
    for parent, child, line in df.select("parent", "child", LINE).iter_rows():
        graph.add_edge(parent, child)
        if parent == child:
            raise InputError(_("a firm is its own parent"), file=file, row=line, column="parent", value=parent)
        if nx.has_path(graph, child, parent):
            path = " → ".join([*nx.shortest_path(graph, child, parent), child])
            raise InputError(_("a firm would be its own ancestor"), file=file, row=line, column="parent",
                             value=parent, hint=_("cycle: {path}").format(path=path))


def read_spinoffs(path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None,
                  encoding: str | None = None) -> pl.DataFrame:
    """Read and check a spin-off list (child, parent, year, …): no self-parents, no cycles, whole years."""
    file = str(path)
    df = read_table(path, SPINOFF_COLUMNS, ("child",), mapping=mapping, encoding=encoding)
    _required(df, file, "child")
    _duplicates(df.filter(pl.col("parent").is_null()), file, "child", "root firm")
    df = _integers(df, file, "year", "closed")
    check_acyclic(df.filter(pl.col("parent").is_not_null()), file)
    return df


def import_spinoffs(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], network: str, *,
                    mapping: Mapping[str, str] | None = None, encoding: str | None = None) -> NetworkImport:
    """Import a spin-off list: firms unknown to the network become actors (kind firm), links spin-off ties."""
    ensure_network_schema(con)
    file = str(path)
    df = read_spinoffs(path, mapping=mapping, encoding=encoding)
    known = _known_actors(con, network)
    existing = con.sql("SELECT target AS child, source AS parent, NULL::BIGINT AS __line FROM actor_ties "
                           "WHERE network = ? AND kind = 'spin_off'", params=[network]).pl()
    links = df.filter(pl.col("parent").is_not_null())
    if existing.height:
        check_acyclic(pl.concat([existing.with_columns(pl.col(LINE).cast(pl.Int64)),
                                 links.select("child", "parent", LINE)]), file)
    names = {r["child"]: r for r in df.iter_rows(named=True)}
    new_ids = [a for a in dict.fromkeys([*df["child"].to_list(), *links["parent"].to_list()]) if a not in known]
    actors = pl.DataFrame({
        "actor": new_ids,
        "name": [(names[a]["child_name"] if a in names else None) or _parent_name(links, a) or a for a in new_ids],
        "kind": ["firm"] * len(new_ids),
        "founded": [names[a]["year"] if a in names else None for a in new_ids],
        "region": [names[a]["region"] if a in names else None for a in new_ids],
        "industry": [names[a]["industry"] if a in names else None for a in new_ids],
        "description": None,
        "source": [names[a]["source"] if a in names else None for a in new_ids],
    }, schema_overrides={"founded": pl.Int64, "region": pl.String, "industry": pl.String,
                         "source": pl.String, "description": pl.String}).drop("description")
    ties = links.select(pl.col("parent").alias("source"), pl.col("child").alias("target"),
                        pl.lit("spin_off").alias("kind"), "year",
                        pl.concat_str([pl.lit("status: "), pl.col("status").fill_null("unknown"),
                                       pl.lit("; closed: "), pl.col("closed").cast(pl.String).fill_null("-"),
                                       pl.lit("; founders: "), pl.col("founders").fill_null("-"),
                                       pl.lit("; link: "), pl.col("link").fill_null("-")]).alias("evidence"),
                        pl.lit(1.0).alias("weight"))
    with _transaction(con):
        _insert(con, "actors", actors, network)
        _insert(con, "actor_ties", ties, network)
    return NetworkImport(network, file, actors=actors.height, ties=ties.height)


def _parent_name(links: pl.DataFrame, actor: str) -> str | None:
    hits = links.filter(pl.col("parent") == actor)["parent_name"].drop_nulls()
    return hits[0] if hits.len() else None


# ---------------------------------------------------------------- participations
def _roles(df: pl.DataFrame, file: str) -> pl.DataFrame:
    """``role``: coordinator or member, what the network analysis needs; ``role_published``: the role as the
    file writes it (CORDIS: coordinator, participant, partner), kept for the figures that tell them apart."""
    low = pl.col("role").str.to_lowercase().fill_null("")
    _fail_first(df, ~low.is_in(list(_COORDINATOR | _MEMBER)), "unknown role", file, "role",
                expected="coordinator or member (participant, partner, 1/0 accepted)")
    return df.with_columns(pl.col("role").alias("role_published"),
                           pl.when(low.is_in(list(_COORDINATOR))).then(pl.lit("coordinator"))
                           .otherwise(pl.lit("member")).alias("role"))


def _contributions(df: pl.DataFrame, file: str) -> pl.DataFrame:
    """``contribution`` as a number ≥ 0 (the EU contribution of a participation, in euros); empty stays empty
    (CORDIS gives none for partners), anything else that is not a number is an error."""
    number = pl.col("contribution").str.replace_all(",", "").cast(pl.Float64, strict=False)
    _fail_first(df, pl.col("contribution").is_not_null() & number.is_null(), "not a number", file, "contribution",
                expected="an amount in euros, or empty")
    _fail_first(df, number < 0, "negative contribution", file, "contribution", expected="zero or more")
    return df.with_columns(number.alias("contribution"))


def role_notes(df: pl.DataFrame) -> list[str]:
    """What the import kept of the published roles and the money: counts per role, the rows without a contribution."""
    counts = df.group_by("role_published").agg(pl.len().alias("n"), pl.col("contribution").count().alias("paid"),
                                                pl.col("contribution").sum().alias("sum")).sort("role_published")
    roles = ", ".join(f"{r['role_published'] or '(empty)'} {r['n']:,}" for r in counts.iter_rows(named=True))
    notes = [f"roles as published: {roles} (kept in actor_memberships.role_published; every role but the "
             "coordinator's is a member of the project in the network figures)"]
    if df["contribution"].is_not_null().any():
        unpaid = ", ".join(f"{r['role_published']} {r['n'] - r['paid']:,}" for r in counts.iter_rows(named=True)
                           if r["n"] > r["paid"])
        notes.append(f"EU contribution: {df['contribution'].sum():,.2f} over {df['contribution'].count():,} "
                     f"participations" + (f"; no contribution given for {unpaid} (stored empty, not 0)"
                                          if unpaid else ""))
    return notes


def _mode(column: str) -> pl.Expr:
    return pl.col(column).drop_nulls().mode().sort().first().alias(column)


def read_participations(path: str | os.PathLike[str], *, preset: str | None = None,
                        mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                        lookup: str | os.PathLike[str] | None = None,
                        projects: str | os.PathLike[str] | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Read and check a participation table; returns one row per (project, actor) and notes.

    ``preset`` ('h2020' or 'anr') supplies the column mapping and, when the
    companion files sit beside ``path``, the organisation lookup (names,
    cities) and the project table (titles, programmes, abstracts).
    """
    path = Path(path)
    file = str(path)
    notes: list[str] = []
    if preset and preset not in PRESETS:
        raise InputError(_("unknown participation format"), value=preset, expected=", ".join(PRESETS))
    full_mapping = {**PRESETS.get(preset or "", {}), **dict(mapping or {})}
    df = read_table(path, PARTICIPATION_COLUMNS, ("project", "actor"), mapping=full_mapping, encoding=encoding)
    skipped = df.filter(pl.col("actor").is_null())
    if skipped.height:
        notes.append(f"{skipped.height:,} row(s) without an organisation (e.g. line {skipped[LINE][0]}) skipped")
        df = df.filter(pl.col("actor").is_not_null())
    _required(df, file, "project")
    df = _contributions(_roles(df, file), file)
    aliases = {**CORDIS_TYPES, **ANR_CATEGORIES}
    df = _kinds(df, file, "type", ACTOR_KINDS, aliases, "organisation type")
    df = _integers(df, file, "year")
    if preset == "anr" or df["region"].drop_nulls().is_in(list(FR_REGIONS_NUTS)).any():
        abroad = pl.col("region") == "Etranger"
        df = df.with_columns(pl.col("region").replace_strict(FR_REGIONS_NUTS, default=None),
                             pl.when(abroad).then(None).when(pl.col("country") == "France").then(pl.lit("FR"))
                             .otherwise(pl.col("country")).alias("country"))
        notes.append("French regions recoded to NUTS 2021 level-1 codes (FR1 … FRY); 'Etranger' has no region")
    elif df["region"].is_null().all():
        df = df.with_columns(pl.col("country").alias("region"))
        notes.append("no region column: the country code is the region (NUTS level 0)")
    if preset == "h2020":
        lookup = lookup or _beside(path, "h2020_org_lookup_2017.csv")
        parts = _beside(path, "programme_parts.csv.gz")
        if parts:
            prog = read_table(parts, ("rcn", "programme_part"), ("rcn", "programme_part"))
            prog = prog.group_by("rcn").agg(pl.col("programme_part").unique().sort().str.join("; "))
            df = df.drop("programme").join(prog.rename({"rcn": "project", "programme_part": "programme"}),
                                           on="project", how="left")
    if preset == "anr":
        projects = projects or _beside(path, "anr_dgpie_projets_20220512.csv")
    if lookup:
        look = read_table(lookup, ("pic", "name", "city", "shortName"), ("pic", "name"))
        look = look.unique("pic", keep="first").select(pl.col("pic").alias("actor"),
                                                        pl.col("name").alias("__name"), pl.col("city").alias("__city"))
        df = df.join(look, on="actor", how="left").with_columns(
            pl.coalesce("name", "__name").alias("name"), pl.coalesce("city", "__city").alias("city"),
        ).drop("__name", "__city")
        notes.append(f"names from {Path(lookup).name}: "
                     f"{df.filter(pl.col('name').is_not_null())['actor'].n_unique():,} organisations")
    if projects:
        proj = read_table(projects, ("code", "title", "programme", "abstract"), ("code",),
                          mapping={"code": "Projet.Code_Decision_ANR", "title": "Projet.Titre.Francais",
                                   "programme": "Action.Titre.Francais", "abstract": "Projet.Resume.Francais"})
        proj = proj.unique("code", keep="first").select(
            pl.col("code").alias("project"), pl.col("title").alias("__title"),
            pl.col("programme").alias("__programme"), pl.col("abstract").alias("__abstract"))
        df = df.join(proj, on="project", how="left").with_columns(
            pl.coalesce("project_name", "__title").alias("project_name"),
            pl.coalesce("programme", "__programme").alias("programme"),
            pl.coalesce("description", "__abstract").alias("description")).drop("__title", "__programme",
                                                                                 "__abstract")
    dups = df.filter(pl.struct("project", "actor").is_duplicated())
    if dups.height:
        notes.append(f"{dups.height:,} rows repeat a (project, organisation) pair; each pair counts once "
                     "(coordinator if any of its rows says so)")
        money = df.group_by("project", "actor").agg(  # the pair's contributions summed; none given stays none
            pl.when(pl.col("contribution").count() > 0).then(pl.col("contribution").sum()).alias("__money"))
        df = df.sort("role").unique(["project", "actor"], keep="first", maintain_order=True).join(
            money, on=["project", "actor"]).with_columns(pl.col("__money").alias("contribution")).drop("__money")
    notes += role_notes(df)
    return df, notes


def _beside(path: Path, name: str) -> Path | None:
    candidate = path.parent / name
    return candidate if candidate.exists() else None


def participation_actors(df: pl.DataFrame) -> pl.DataFrame:
    """One actor per organisation: its most frequent type, country, region, city and name across its rows.

    Capabilities (``seeds``) are the titles and abstracts of its projects
    (or their programme parts when there is no text), so matching has text.
    """
    text = pl.concat_str([pl.col("project_name").fill_null(""), pl.col("description").fill_null(""),
                          pl.col("programme").fill_null("")], separator=" ").str.strip_chars()
    return df.with_columns(text.alias("__text")).group_by("actor").agg(
        _mode("name"), _mode("type").alias("kind"), _mode("region"), _mode("country"), _mode("city"),
        pl.col("year").min().alias("__first"),
        pl.col("__text").filter(pl.col("__text") != "").unique().sort().str.join(" | ").alias("seeds"),
    ).with_columns(pl.col("kind").fill_null("other"),
                   pl.when(pl.col("seeds") == "").then(None).otherwise(pl.col("seeds")).alias("seeds")
                   ).drop("__first")


def import_participations(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], network: str, *,
                          preset: str | None = None, mapping: Mapping[str, str] | None = None,
                          encoding: str | None = None, lookup: str | os.PathLike[str] | None = None,
                          projects: str | os.PathLike[str] | None = None, replace: bool = False,
                          source: str | None = None) -> NetworkImport:
    """Import a participation table as a network: actors, memberships, weighted co-participation ties."""
    ensure_network_schema(con)
    if network_exists(con, network) and not replace:
        raise InputError(_("network '{network}' is already in the atlas").format(network=network), file=str(path),
                         hint=_("pass --replace to replace it, or choose another --network"))
    df, notes = read_participations(path, preset=preset, mapping=mapping, encoding=encoding, lookup=lookup,
                                    projects=projects)
    actors = participation_actors(df).with_columns(pl.lit(source or Path(path).name).alias("source"))
    members = df.select("actor", "project", "role", "project_name", "programme", "year", "description",
                        "role_published", "contribution")
    with _transaction(con):
        _clear(con, network)
        _insert(con, "actors", actors, network)
        _insert(con, "actor_memberships", members, network)
        con.execute("""
            INSERT INTO actor_ties (network, source, target, kind, year, period, weight, evidence)
            SELECT ?, a.actor, b.actor, 'joint_project', min(a.year), min(a.year) || '–' || max(a.year),
                   count(*)::DOUBLE, 'co-participation in ' || count(*) || ' project(s), e.g. ' || min(a.project)
            FROM actor_memberships a JOIN actor_memberships b
              ON a.network = b.network AND a.project = b.project AND a.actor < b.actor
            WHERE a.network = ? GROUP BY a.actor, b.actor""", [network, network])
    ties = scalar(con, "SELECT count(*) FROM actor_ties WHERE network = ?", [network])
    return NetworkImport(network, str(path), actors=actors.height, ties=int(ties), memberships=members.height,
                         projects=df["project"].n_unique(),
                         coordinator_roles=int((df["role"] == "coordinator").sum()), notes=notes)
