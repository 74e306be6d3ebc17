"""What the atlas holds, checked against what comes in: region codes, hierarchies, the reference economy.

File-level parsing is done when a file is staged; this module answers the
questions that need the atlas as well:

- which region codes belong to no region system (imported or built in), with
  their employment (:func:`unknown_regions`);
- whether a hierarchy (stored links plus a file's links) has a cycle or a
  parent that exists nowhere (:func:`find_cycle`);
- which observed regions make up the reference economy of a map run
  (:func:`resolve_reference`).

**Built-in region systems** are the region lists clusteratlas ships in
:mod:`clusteratlas.reference` (Japan's 47 prefectures and 9 METI bureaus);
they count once loaded (``clusteratlas reference jp-prefectures``; the
``jp-prefecture-neighbours`` and ``jp-programmes`` loads bring them along).
Region codes are not matched against them by code alone: codes of different
systems collide (the CBSAs 19000, 32000 and 45000 are also prefecture codes),
so a US file would be taken as Japanese. Only a *parent* may be a built-in
code not loaded yet (an e-Stat or municipality file placing its areas in
prefecture ``01000``): it exists, in clusteratlas, and loading the built-in
system later completes the hierarchy.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from clusteratlas._sql import first_row, scalar
from clusteratlas.errors import InputError
from clusteratlas.i18n import _, listing
from clusteratlas.sources.files import LINE

#: Every region code a region system knows: imported or loaded (incl. custom regions).
KNOWN = "(SELECT region FROM regions)"
#: Temporary table of the codes of the built-in region systems (see :func:`register_builtin`).
BUILTIN = "__builtin_regions"
#: How many unknown codes a report lists.
LISTED = 10


def register_builtin(con: duckdb.DuckDBPyConnection) -> None:
    """Make the table :data:`BUILTIN` (region codes of the built-in systems) available on this connection."""
    from clusteratlas.reference.japan import prefectures

    if scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [BUILTIN]):
        return
    con.register("__builtin_codes", prefectures().select(["region"]))
    con.execute(f"CREATE TEMP TABLE {BUILTIN} AS SELECT DISTINCT region FROM __builtin_codes")
    con.unregister("__builtin_codes")


@dataclass
class UnknownRegions:
    """Region codes that no region system knows, largest employment first."""

    count: int = 0
    employment: float | None = None
    listed: list[tuple[str, float | None]] = field(default_factory=list)

    def codes(self) -> str:
        """The listed codes, with their employment where there is some (in the current language)."""
        return listing([code if emp is None else _("{code} ({jobs:,.0f} jobs)").format(code=code, jobs=emp)
                        for code, emp in self.listed], len(self.listed), self.count)

    def describe(self, where: str) -> str:
        """One sentence: how many codes, which, how many jobs (``where``: "in this file", "among the members" or
        "in the observations", said in the current language)."""
        from clusteratlas.i18n import _

        jobs = _(", {jobs:,.0f} jobs").format(jobs=self.employment) if self.employment is not None else ""
        return _("{n:,} region code(s) {where} are in no imported or built-in region system{jobs}: {codes}").format(
            n=self.count, where=_(where), jobs=jobs, codes=self.codes())


def unknown_regions(con: duckdb.DuckDBPyConnection, rows_sql: str, params: list | None = None, *,
                    also_known: str | None = None) -> UnknownRegions:
    """Codes of ``rows_sql`` (columns region and optionally employment) that no region system knows.

    ``also_known`` is a further query of known codes (e.g. the file's own regions).
    """
    cols = con.sql(rows_sql, params=params or []).columns
    emp = "sum(employment)" if "employment" in cols else "NULL::DOUBLE"
    known = KNOWN if also_known is None else f"(SELECT region FROM regions UNION {also_known})"
    sql = (f"SELECT region, {emp} AS employment FROM ({rows_sql}) WHERE region IS NOT NULL "
           f"AND region NOT IN {known} GROUP BY region")
    count, total = first_row(con, f"SELECT count(*), sum(employment) FROM ({sql})", params or [])
    if not count:
        return UnknownRegions()
    listed = con.execute(f"SELECT region, employment FROM ({sql}) ORDER BY employment DESC NULLS LAST, region "
                         f"LIMIT {LISTED}", params or []).fetchall()
    return UnknownRegions(int(count), None if total is None else float(total), listed)


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle of child → parent edges (its members, first repeated last), or None.

    Uses :class:`graphlib.TopologicalSorter`, which names a cycle's members.
    """
    sorter = graphlib.TopologicalSorter()
    for child, parent in edges:
        sorter.add(child, parent)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


# ---------------------------------------------------------------- reference economy
#: Reference economies a map run can use (see :func:`resolve_reference`).
REFERENCE_KINDS = ("observations", "totals", "level:LEVEL", "region:CODE")


@dataclass
class ReferenceEconomy:
    """The denominator of a map run's LQs: which economy, made of what.

    ``spec`` is what ``map_runs`` and the exports record (``observations``,
    ``totals``, ``level:LEVEL`` or ``region:CODE``); ``label`` says it in words;
    ``table`` names a temporary table of the observed regions it sums (None
    for imported totals).
    """

    spec: str
    label: str
    regions: int
    table: str | None


_EDGES = "SELECT parent AS up, region AS down FROM region_links UNION SELECT region, member FROM custom_members"


def resolve_reference(con: duckdb.DuckDBPyConnection, spec: str | None, observed: str) -> ReferenceEconomy:
    """The reference economy ``spec`` over the observed regions in the table ``observed`` (region, level).

    ``None`` picks: the imported reference totals when there are some; else
    the observed regions of level ``country`` when there are some (the
    nation); else the observed regions that no other observed region
    contains through a hierarchy or a custom region (``observations``: the
    nation, when the observations cover it). ``level:LEVEL`` sums the observed
    regions of one level; ``region:CODE`` one region (observed, or through
    its members).
    """
    table = "__reference_regions"
    if spec is None:
        if scalar(con, "SELECT count(*) FROM reference_totals"):
            spec = "totals"
        elif scalar(con, f"SELECT count(*) FROM {observed} WHERE level = 'country'"):
            spec = "level:country"
        else:
            spec = "observations"
    kind, _sep, arg = spec.partition(":")
    if spec == "totals":
        if not scalar(con, "SELECT count(*) FROM reference_totals"):
            raise InputError(_("the atlas has no reference totals"), value=spec,
                             hint=_("Import them with 'clusteratlas import reference-totals FILE'"))
        return ReferenceEconomy(spec, "imported reference totals", 0, None)
    if spec == "observations":
        sql = f"""WITH RECURSIVE edges AS ({_EDGES}),
            up(region, ancestor) AS (
                SELECT o.region, e.up FROM {observed} o JOIN edges e ON e.down = o.region
                UNION SELECT u.region, e.up FROM up u JOIN edges e ON e.down = u.ancestor)
            SELECT region FROM {observed} WHERE region NOT IN (
                SELECT u.region FROM up u JOIN {observed} o ON o.region = u.ancestor)"""
        params: list = []
        words = "the observed regions that no other observed region contains"
    elif kind == "level" and arg:
        sql, params = f"SELECT region FROM {observed} WHERE level = ?", [arg]
        words = f"the observed regions of level {arg}"
    elif kind == "region" and arg:
        sql = f"""WITH RECURSIVE edges AS ({_EDGES}),
            down(node) AS (SELECT ? UNION SELECT e.down FROM down d JOIN edges e ON e.up = d.node
                           WHERE d.node NOT IN (SELECT region FROM {observed}))
            SELECT node AS region FROM down WHERE node IN (SELECT region FROM {observed})"""
        params = [arg]
        words = f"region {arg}"
    else:
        raise InputError(_("unknown reference economy"), value=spec, expected=", ".join(REFERENCE_KINDS))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}", params)
    n = int(scalar(con, f"SELECT count(*) FROM {table}"))
    if n == 0:
        levels = [r[0] for r in con.execute(f"SELECT DISTINCT level FROM {observed} ORDER BY 1").fetchall()]
        raise InputError(_("the reference economy holds no observed region"), value=spec,
                         expected=_("an observed level ({value}) or a region with observed "
                                    "members").format(value=', '.join(levels)))
    by_level = con.execute(f"SELECT o.level, count(*) FROM {table} t JOIN {observed} o USING (region) "
                           "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    parts = ", ".join(f"{c:,} {lvl}" for lvl, c in by_level)
    return ReferenceEconomy(spec, f"{words} ({parts})", n, table)


# ---------------------------------------------------------------- hierarchies
def _graph_sql(kind: str, view: str) -> tuple[str, str, str]:
    """(edges child → parent of the atlas as it would be after the import, the file's edges, its nodes)."""
    if kind == "industries":
        stored = (f"SELECT industry AS child, parent FROM industries WHERE parent IS NOT NULL "
                  f"AND industry NOT IN (SELECT industry FROM {view})")
        incoming = f"SELECT industry AS child, parent, {LINE} FROM {view} WHERE parent IS NOT NULL"
        return stored, incoming, f"SELECT industry FROM {view} UNION SELECT industry FROM industries"
    links = "SELECT region AS child, parent FROM region_links"
    members = "SELECT member AS child, region AS parent FROM custom_members"
    if kind == "regions":  # a file's row replaces the stored place of that region in that hierarchy
        links += (f" WHERE (hierarchy, region) NOT IN (SELECT (hierarchy, region) FROM {view} "
                  "WHERE parent IS NOT NULL)")
        incoming = f"SELECT region AS child, parent, {LINE} FROM {view} WHERE parent IS NOT NULL"
    else:  # custom regions: a file's custom region replaces its stored members
        members += f" WHERE region NOT IN (SELECT region FROM {view})"
        incoming = f"SELECT member AS child, region AS parent, {LINE} FROM {view}"
    nodes = f"SELECT region FROM {view} UNION SELECT region FROM regions UNION SELECT region FROM {BUILTIN}"
    return f"{links} UNION ALL {members}", incoming, nodes


def check_hierarchy(con: duckdb.DuckDBPyConnection, kind: str, view: str, label: str) -> None:
    """Refuse a file whose parents exist nowhere, or that closes a cycle with itself or the atlas.

    Regions, their hierarchies and custom regions form one graph (a region
    contains its children and a custom region its members, in whatever
    hierarchy): a cycle anywhere in it would make a region part of itself.
    Industries form their own graph.
    """
    register_builtin(con)
    stored, incoming, nodes = _graph_sql(kind, view)
    thing = "industry" if kind == "industries" else "region"
    if kind != "custom-regions":  # custom members are checked against the atlas when staged
        dangling = first_row(con, f"SELECT {LINE}, child, parent FROM ({incoming}) WHERE parent NOT IN "
                                  f"({nodes}) ORDER BY {LINE} LIMIT 1")
        if dangling:
            raise InputError(_("the parent of {thing} {value} exists nowhere").format(thing=thing, value=dangling[1]),
                             file=label, row=dangling[0],
                             column="parent", value=dangling[2],
                             expected=(_("an industry of this file or of the atlas") if kind == "industries"
                                       else _("a region of this file, of the atlas or of a built-in region system")),
                             hint=_("Import the parent {thing}s first (e.g. the level above), or leave "
                                    "parent empty").format(thing=thing))
    edges = con.execute(f"SELECT child, parent FROM ({stored}) UNION ALL SELECT child, parent FROM ({incoming})"
                        ).fetchall()
    cycle = find_cycle(edges)
    if cycle is None:
        return
    pairs = list(itertools.pairwise(cycle))
    marks = " OR ".join("(child = ? AND parent = ?)" for _ in pairs)
    line = first_row(con, f"SELECT {LINE}, child FROM ({incoming}) WHERE {marks} ORDER BY {LINE} LIMIT 1",
                     [x for p in pairs for x in p])
    if line:  # start the cycle at the file's row that closes it
        at = cycle.index(line[1])
        cycle = cycle[at:-1] + cycle[:at + 1]
    where = "custom region" if kind == "custom-regions" else thing
    raise InputError(_("this file makes a {where} part of itself: {value} (each in the next)").format(
        where=where, value=' → '.join(cycle)),
                     file=label, row=line[0] if line else None, column="member" if kind == "custom-regions"
                     else "parent", expected=_("a hierarchy without cycles (file and atlas together)"))
