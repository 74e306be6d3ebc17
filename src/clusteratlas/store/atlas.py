"""The atlas: one DuckDB file holding inputs, reference data and results.

Every import is one transaction: the file is checked completely first, and
either all its rows land or none do. Re-importing a dataset of the same
name needs ``replace=True``; nothing is overwritten silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import narwhals as nw
import pyarrow as pa

from clusteratlas import model
from clusteratlas._sql import connect, first_row, plain_connect, scalar
from clusteratlas.errors import ClusterAtlasError, InputError
from clusteratlas.i18n import _
from clusteratlas.metrics import MapParams
from clusteratlas.metrics._engine import Engine
from clusteratlas.metrics.run import MapInputs, MapRun, MapSpec, describe_results, run_map
from clusteratlas.queries.answers import refresh_answers, store_answers
from clusteratlas.sources.files import LINE, sha256_file
from clusteratlas.sources.generic import stage
from clusteratlas.store.access import Notify, Reading, Writing, conflict, open_read_only, say, wait_for_open
from clusteratlas.store.analyses import (
    HotspotSummary,
    RelateSummary,
    run_define,
    run_hotspots,
    run_relate,
    run_shift_share,
)
from clusteratlas.store.export import write_table
from clusteratlas.store.integrity import check_hierarchy, resolve_reference, unknown_regions
from clusteratlas.store.runs import clock, latest_run, save_run
from clusteratlas.store.schema import (
    DDL,
    EXPORTABLE,
    HAS_NOTE,
    SCHEMA_VERSION,
    column_names,
    note_defaults,
    split_observations,
)
from clusteratlas.timings import stage as timed

DEFAULT_PATH = Path("atlas.duckdb")
#: Import kinds whose rows belong to a named set (observations: dataset; definitions: definition).
NAMED_KINDS = ("observations", "definitions", "indicators")

log = logging.getLogger("clusteratlas.store")


def upgrade_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Add what this version's schema has and the atlas lacks (tables, columns; idempotent)."""
    split = split_observations(con)
    for statement in DDL:
        con.execute(statement)
    if split:  # the atlas now has this version's layout of the observations
        con.execute("INSERT OR REPLACE INTO atlas_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    from clusteratlas.store.networks import ensure_network_schema

    ensure_network_schema(con)


@functools.cache
def _schema_columns() -> frozenset[tuple[str, str]]:
    """(table, column) of every table of this version's schema (built once in memory)."""
    with plain_connect() as con:
        upgrade_schema(con)
        return frozenset(con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                     "WHERE database_name = current_database() AND NOT internal").fetchall())


def schema_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the atlas on ``con`` has every table and column of this version's schema."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                           "WHERE database_name = current_database()").fetchall())
    return _schema_columns() <= have


def read_connection(path: str | os.PathLike[str], *, memory_limit: str | None = None,
                    notify: Notify | None = say, wait: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the atlas at ``path`` (see :func:`clusteratlas.store.access.open_read_only`).

    Waits (``wait``; else fails) while a program that takes no clusteratlas lock writes it. An
    atlas made by an older version is brought up to this version's schema
    first, by a write (so readers never meet a missing table); a DuckDB file
    that is not an atlas is an error.
    """
    def opener() -> duckdb.DuckDBPyConnection:
        return open_read_only(path, memory_limit=memory_limit)

    try:
        con = wait_for_open(opener, notify=notify) if wait else opener()
    except duckdb.Error as exc:
        if not wait and conflict(exc):
            raise
        raise InputError(_("cannot open as an atlas: {value}").format(value=str(exc).splitlines()[0]), file=str(path),
                         expected=_("a clusteratlas DuckDB file")) from None
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                        "current_database()").fetchall()}
    if "atlas_meta" not in tables:
        con.close()
        raise InputError(_("this DuckDB file is not a clusteratlas atlas"), file=str(path))
    if not schema_is_current(con):
        con.close()
        Atlas(path, memory_limit=memory_limit, notify=notify).close()
        con = wait_for_open(opener, notify=notify)
    return con


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    kind: str
    name: str | None
    file: str
    rows: int
    replaced: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)


class Atlas:
    """An atlas file: import, map, query and export.

    Any number of processes may read an atlas while one writes it (see
    :mod:`clusteratlas.store.access`): a writer takes the atlas's write lock,
    and writes the file in place when nobody reads it, else a copy that
    :meth:`close` swaps in. Leaving a ``with`` block by an exception throws
    such a copy away.

    Parameters
    ----------
    path
        The DuckDB file (default ``./atlas.duckdb``).
    create
        Create the file and its tables if missing (``clusteratlas init``).
    memory_limit
        Cap on DuckDB's memory, e.g. "800MB" (see :func:`clusteratlas._sql.connect`).
    read_only
        Open for reading only: no write lock; servers and other readers may
        read at the same time, and writers swap in new versions meanwhile
        (this connection keeps reading the version it opened).
    notify
        Told when opening has to wait for a writer (default: a line on stderr).
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH, *, create: bool = False,
                 memory_limit: str | None = None, read_only: bool = False, notify: Notify | None = say) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._access: Writing | Reading | None = None
        self.con = None
        if not create and not self.path.exists():
            raise InputError(_("no atlas here"), file=str(self.path),
                             hint=_("Create one with 'clusteratlas init' or pass --atlas PATH"))
        if read_only:
            self._access = Reading(self.path, notify=notify)
            try:
                self.con = read_connection(self.path, memory_limit=memory_limit, notify=notify)
            except BaseException:
                self.close(keep=False)
                raise
            return
        with timed("open atlas"):  # the wait for the write lock included
            self._access = Writing(self.path, notify=notify)
            try:
                self.con = self._open_for_writing(memory_limit)
                tables = {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
                if not create and "atlas_meta" not in tables:
                    raise InputError(_("this DuckDB file is not a clusteratlas atlas"), file=str(self.path))
                upgrade_schema(self.con)
                if create:
                    self.con.execute("INSERT OR REPLACE INTO atlas_meta VALUES ('schema_version', ?)",
                                     [str(SCHEMA_VERSION)])
            except BaseException:
                self.close(keep=False)
                raise

    def _open_for_writing(self, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
        """A read-write connection to the write's target; an error that names the culprit when there is none."""
        access = self._access
        assert isinstance(access, Writing)
        try:
            return connect(str(access.target), memory_limit=memory_limit)
        except InputError:
            raise
        except duckdb.Error as exc:
            who = conflict(exc)
            if who is not None and access.in_place and "read-only mode" in str(exc):
                # a reader that takes no clusteratlas lock (DuckDB's own CLI, an older clusteratlas): write a copy
                access.to_copy()
                return self._open_for_writing(memory_limit)
            if who is not None:
                raise InputError(_("another program has the atlas open for writing and does not take "
                                   "clusteratlas's locks"), file=str(self.path), value=who,
                                 hint=_("Let it finish or stop it, then run this again")) from None
            raise InputError(_("cannot open as an atlas: {value}").format(value=str(exc).splitlines()[0]),
                             file=str(self.path), expected=_("a clusteratlas DuckDB file")) from None

    def close(self, *, keep: bool = True) -> None:
        """Close the atlas; a write is made visible (``keep``) or, when it wrote a copy, thrown away."""
        if self.con is not None:
            if keep and isinstance(self._access, Writing):
                with timed("answers"):
                    self._refresh_answers()
            with timed("close"):
                self.con.close()
            self.con = None
        access, self._access = self._access, None
        if isinstance(access, Writing):
            with timed("close"):  # a copy written beside a reader is swapped in here
                access.commit() if keep else access.abort()
        elif access is not None:
            access.close()

    def _refresh_answers(self) -> None:
        """Recompute the stored answers a write has made stale (:func:`clusteratlas.queries.answers.refresh_answers`);
        none when the write changed nothing they read. A failure leaves them stale, which readers detect (they then
        compute live), and does not undo the write."""
        try:
            with self._transaction():
                refresh_answers(self.con)
        except Exception:  # the write itself succeeded: it must not be lost for its stored answers
            log.warning("could not recompute the stored answers; they are answered live until the next map",
                        exc_info=True)

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(keep=exc_type is None)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed rollback must not hide what went wrong
                self.con.execute("ROLLBACK")
            raise
        with timed("commit"):
            self.con.execute("COMMIT")

    # ------------------------------------------------------------------ import
    def import_file(self, kind: str, path: str | os.PathLike[str], *, name: str | None = None,
                    mapping: Mapping[str, str] | None = None, encoding: str | None = None,
                    replace: bool = False, dry_run: bool = False, file_format: str = "generic",
                    options: Mapping[str, object] | None = None, strict: bool = False,
                    drop_unknown: bool = False, brings_regions: pa.Table | None = None) -> ImportReport:
        """Check a file completely, then store it in one transaction.

        ``name`` names the dataset (observations) or the definition
        (definitions); it defaults to the file's stem.

        Region codes that no region system in the atlas knows are reported
        in the notes (count, codes, employment); ``strict`` makes them an
        error; ``brings_regions`` (a table with a ``region`` column) holds the
        regions the same import stores alongside (a census table's cities),
        which count as known. Weights naming regions the atlas does not hold at all are an
        error, or with ``drop_unknown`` left out and listed. ``replace`` is
        needed to replace a stored set (a dataset, a definition, an
        indicator, the whole weights table); without it weights are merged.
        """
        path = Path(path)
        staged = stage(self.con, path, kind, mapping=mapping, encoding=encoding, file_format=file_format,
                       options=options)
        set_name = (name or path.name.split(".")[0]) if kind in NAMED_KINDS else None
        report = ImportReport(kind, set_name, str(path), staged.rows, dry_run=dry_run, notes=list(staged.notes))
        with timed("other datasets"):
            self._check_against_atlas(kind, staged.view, staged.label, set_name, replace, report)
        if brings_regions is not None:
            self.con.register("__brought_regions", brings_regions.select(["region"]))
        with timed("references"):
            view = self._check_references(kind, staged.view, staged.label, report, strict=strict,
                                          drop_unknown=drop_unknown,
                                          also_known="SELECT region FROM __brought_regions" if brings_regions
                                          else None)
        if dry_run:
            return report
        with self._transaction():
            with timed("store"):
                report.replaced = self._insert(kind, view, set_name, replace=replace)
            if kind == "observations":
                with timed("region totals"):
                    self._store_region_totals(set_name, view, staged.extras.get("region_totals"))
            with timed("checksum"):
                self.con.execute("INSERT INTO imports VALUES (now(), ?, ?, ?, ?, ?)",
                                 [kind, set_name, str(path.resolve()), staged.rows, sha256_file(path)])
        return report

    def import_table(self, kind: str, table: pa.Table, *, name: str, replace: bool = True) -> ImportReport:
        """Store an in-memory table (built-in reference data, a carried definition) like a file.

        The table goes through the same checks and the same transaction as
        :meth:`import_file`; the import log names it ``<name>`` (no file).
        """
        import pyarrow.parquet as pq

        with tempfile.TemporaryDirectory(prefix="clusteratlas-") as tmp:
            path = Path(tmp) / f"{name}.parquet"
            pq.write_table(table, path)
            return self.import_file(kind, path, name=name, replace=replace)

    def _count(self, sql: str, params: list | None = None) -> int:
        return int(scalar(self.con, sql, params or []))

    def _check_against_atlas(self, kind: str, view: str, label: str, set_name: str | None,
                             replace: bool, report: ImportReport) -> None:
        if kind == "indicators":
            clash = first_row(self.con, f"SELECT coalesce(s.indicator, ?) AS name, count(*) FROM {view} s "
                              "WHERE coalesce(s.indicator, ?) IN (SELECT DISTINCT indicator FROM indicators) "
                              "GROUP BY 1 LIMIT 1", [set_name, set_name])
            if clash and not replace:
                raise InputError(_("indicator '{value}' is already in the atlas").format(value=clash[0]), file=label,
                                 hint=_("Pass --replace to replace it"))
        table = {"observations": "observations", "definitions": "definitions"}.get(kind)
        if table:
            key = "dataset" if kind == "observations" else "definition"
            existing = self._count(f"SELECT count(*) FROM {table} WHERE {key} = ?", [set_name])
            if existing and not replace:
                raise InputError(_("{kind} '{set_name}' is already in the atlas ({existing} rows)").format(
                    kind=kind, set_name=set_name, existing=existing),
                                 file=label, hint=_("Pass --replace to replace it, or --name to add it "
                                 "under another name"))
        if kind == "observations":
            clash = first_row(self.con,
                f"SELECT s.{LINE}, s.region, s.industry, s.year, o.dataset FROM {view} s JOIN observations o "
                f"USING (region, industry, year) WHERE o.dataset <> ? ORDER BY s.{LINE} LIMIT 1",
                [set_name])
            if clash:
                raise InputError(
                    _("region {value}, industry {value2}, year {value3} is already in dataset "
                      "'{value4}'").format(value=clash[1], value2=clash[2], value3=clash[3],
                                           value4=clash[4]), file=label, row=clash[0], column="region",
                    expected=_("each region × industry × year in one dataset only, so no job counts twice"))
        if kind == "custom-regions":  # a custom region may redefine a custom region, never replace another level's
            taken = first_row(self.con,
                f"SELECT s.{LINE}, s.region, coalesce(r.level, 'observed') FROM {view} s LEFT JOIN regions r "
                "USING (region) WHERE coalesce(r.level, '') <> 'custom' AND (r.region IS NOT NULL OR s.region IN "
                f"(SELECT DISTINCT region FROM observations)) ORDER BY s.{LINE} LIMIT 1")
            if taken:
                level = "with observations" if taken[2] == "observed" else f"of level '{taken[2]}'"
                raise InputError(_("a custom region may not take the code of a region of another level"), file=label,
                                 row=taken[0], column="region", value=taken[1],
                                 expected=_("a code of its own ({value} is already a region "
                                            "{level})").format(value=taken[1], level=level),
                                 hint=_("Choose another code for the custom region; nothing was stored"))
            unknown = first_row(self.con,
                f"SELECT {LINE}, member FROM {view} WHERE member NOT IN (SELECT region FROM regions) "
                "AND member NOT IN (SELECT DISTINCT region FROM observations) "
                f"AND member NOT IN (SELECT region FROM {view}) ORDER BY {LINE} LIMIT 1")
            if unknown:
                raise InputError(_("unknown member region"), file=label, row=unknown[0], column="member",
                                 value=unknown[1], expected=_("a region already in the atlas (import regions "
                                 "or observations first)"))
        if kind == "regions":  # nor may a region system replace a custom region (its members would be left over)
            taken = first_row(self.con, f"SELECT s.{LINE}, s.region FROM {view} s JOIN regions r USING (region) "
                              f"WHERE r.level = 'custom' ORDER BY s.{LINE} LIMIT 1")
            if taken:
                raise InputError(_("a region may not take the code of a custom region"), file=label, row=taken[0],
                                 column="region", value=taken[1],
                                 expected=_("a code of its own ({value} is already a region of level "
                                            "'custom')").format(value=taken[1]),
                                 hint=_("Choose another code for the region; nothing was stored"))
        if kind == "regions" and not replace:
            moved = first_row(self.con,
                f"SELECT s.{LINE}, s.region, s.hierarchy, l.parent, s.parent FROM {view} s JOIN region_links l "
                "ON l.region = s.region AND l.hierarchy = s.hierarchy WHERE s.parent IS NOT NULL "
                f"AND l.parent <> s.parent ORDER BY s.{LINE} LIMIT 1")
            if moved:
                raise InputError(
                    _("region {value} already belongs to {value2} in hierarchy '{value3}'").format(
                        value=moved[1], value2=moved[3], value3=moved[2]),
                    file=label, row=moved[0], column="parent", value=moved[4],
                    expected=_("one place per region in each hierarchy"), hint=_("Pass --replace to move it"))

    def _check_references(self, kind: str, view: str, label: str, report: ImportReport, *, strict: bool,
                          drop_unknown: bool, also_known: str | None = None) -> str:
        """Check what a file refers to against the atlas; return the view to store (maybe with rows left out).

        - hierarchies (regions, custom regions, industries): parents must exist
          and no cycle may form, file and atlas together (always an error);
        - region codes of observations, indicators and custom-region members
          in no region system: reported (``strict``: an error);
        - weights naming a region the atlas does not hold (no region system
          and no observation): an error (``drop_unknown``: left out, listed);
        - reference totals for a year without observations: reported
          (``strict``: an error).
        """
        if kind in ("regions", "custom-regions", "industries"):
            check_hierarchy(self.con, kind, view, label)
        if kind == "weights":
            return self._check_weights(view, label, report, drop_unknown)
        if drop_unknown:
            raise InputError(_("--drop-unknown applies to weights only"), value=kind)
        if kind == "reference-totals":
            years = [r[0] for r in self.con.execute(
                f"SELECT DISTINCT year FROM {view} EXCEPT SELECT DISTINCT year FROM observations ORDER BY 1"
            ).fetchall()]
            if years:
                problem = _("the reference totals have {n} year(s) without observations in the atlas: {years}").format(
                    n=len(years), years=", ".join(map(str, years)))
                if strict:
                    raise InputError(problem, file=label, column="year", expected=_("years the observations "
                                     "have (--strict)"), hint=_("Import the observations first"))
                report.notes.append(problem + _(" (not used by 'map' until observations for them are imported)"))
            return view
        columns = {"observations": "region, employment", "indicators": "region",
                   "custom-regions": "member AS region"}.get(kind)
        if columns is None:
            return view
        also = f"SELECT region FROM {view}" if kind == "custom-regions" else also_known
        rows = f"SELECT {columns} FROM {view}"
        if kind == "observations":  # one row per region: the codes are compared once each, not once per row
            rows = f"SELECT region, sum(employment) AS employment FROM {view} GROUP BY region"
        unknown = unknown_regions(self.con, rows, also_known=also)
        if unknown.count:
            where = {"custom-regions": "among the members"}.get(kind, "in this file")
            if strict:
                column = "member" if kind == "custom-regions" else "region"
                first = first_row(self.con, f"SELECT {LINE}, {column} FROM {view} WHERE {column} NOT IN "
                                  f"(SELECT region FROM regions) {f'AND {column} NOT IN ({also})' if also else ''} "
                                  f"ORDER BY {LINE} LIMIT 1")
                raise InputError(unknown.describe(where), file=label, row=first[0], column=column, value=first[1],
                                 expected=_("codes of an imported region system (--strict)"),
                                 hint=_("Import the region system first ('clusteratlas import regions' or "
                                      "'clusteratlas reference'), or import without --strict"))

            report.notes.append(unknown.describe(where) + _("; import their region system, or pass --strict to "
                                                            "refuse such files"))
        return view

    def _check_weights(self, view: str, label: str, report: ImportReport, drop_unknown: bool) -> str:
        """Weights may only link regions the atlas holds (in a region system or observed)."""
        held = "(SELECT region FROM regions UNION SELECT DISTINCT region FROM observations)"
        bad = f"SELECT * FROM {view} WHERE region NOT IN {held} OR neighbor NOT IN {held}"
        n = self._count(f"SELECT count(*) FROM ({bad})")
        if not n:
            return view
        codes = [r[0] for r in self.con.execute(
            f"SELECT code FROM (SELECT region AS code FROM {view} UNION SELECT neighbor FROM {view}) "
            f"WHERE code NOT IN {held} ORDER BY code").fetchall()]
        listed = ", ".join(codes[:10]) + (f" and {len(codes) - 10:,} more" if len(codes) > 10 else "")
        if not drop_unknown:
            line, region, neighbor = first_row(self.con, f"SELECT {LINE}, region, neighbor FROM ({bad}) "
                                                         f"ORDER BY {LINE} LIMIT 1")
            column, value = ("region", region) if region in codes else ("neighbor", neighbor)
            raise InputError(_("a weights row names a region the atlas does not hold ({codes:,} such code(s) in {n:,} "
                               "row(s): {listed})").format(codes=len(codes), n=n,
                                                           listed=listed), file=label, row=line, column=column,
                             value=value, expected=_("regions of an imported region system or with observations"),
                             hint=_("Import the regions (or observations) first, or pass --drop-unknown to leave "
                                  "these rows out"))
        report.rows -= n
        report.notes.append(f"left out {n:,} weights row(s) naming {len(codes):,} region code(s) the atlas does "
                            f"not hold (--drop-unknown): {listed}")
        kept = f"{view}_known"
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {kept} AS SELECT * FROM {view} "
                         f"WHERE region IN {held} AND neighbor IN {held}")
        return kept

    def _store_region_totals(self, dataset: str, cells: str, totals: str | None) -> None:
        """Keep a file's own region totals (a CBP file's total rows) for its dataset, with the sum of its cells;
        a dataset imported again replaces them (and one without total rows has none)."""
        self.con.execute("DELETE FROM region_totals WHERE dataset = ?", [dataset])
        if totals is None:
            return
        self.con.execute(f"""INSERT INTO region_totals SELECT ?, t.region, t.year, t.employment, c.cells
            FROM {totals} t JOIN (SELECT region, year, sum(employment) AS cells FROM {cells} GROUP BY ALL) c
            USING (region, year)""", [dataset])

    def _insert(self, kind: str, view: str, set_name: str | None, *, replace: bool = False) -> int:
        ex = self.con.execute
        if kind == "observations":
            replaced = self._count("SELECT count(*) FROM observations WHERE dataset = ?", [set_name])
            ex("INSERT INTO datasets SELECT coalesce(max(id), 0) + 1, ? FROM datasets ON CONFLICT (name) DO NOTHING",
               [set_name])
            dataset_id = self._count("SELECT id FROM datasets WHERE name = ?", [set_name])
            for table in ("observations_unflagged", "observations_flagged"):
                ex(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])
            if scalar(self.con, f"SELECT EXISTS (SELECT 1 FROM {view} WHERE {HAS_NOTE})"):
                ex(f"INSERT INTO observations_flagged SELECT ?, {column_names(model.OBSERVATIONS)} FROM {view}",
                   [dataset_id])
            else:  # stored without the columns that would only hold their defaults
                ex(f"INSERT INTO observations_unflagged SELECT ?, "
                   f"{column_names(model.OBSERVATIONS, skip=model.OBSERVATION_NOTES)} FROM {view}", [dataset_id])
            return replaced
        if kind == "definitions":
            replaced = self._count("SELECT count(*) FROM definitions WHERE definition = ?", [set_name])
            ex("DELETE FROM definitions WHERE definition = ?", [set_name])
            ex(f"INSERT INTO definitions SELECT DISTINCT ?, * EXCLUDE ({LINE}) FROM {view}", [set_name])
            return replaced
        if kind == "regions":  # a file that names no region (NUTS ancestors implied by codes) keeps stored names
            ex(f"INSERT INTO regions SELECT DISTINCT region, name, name_ja, coalesce(level, 'region') FROM {view} "
               "ON CONFLICT (region) DO UPDATE SET name = coalesce(excluded.name, regions.name), "
               "name_ja = coalesce(excluded.name_ja, regions.name_ja), level = excluded.level")
            ex(f"INSERT OR REPLACE INTO region_links SELECT DISTINCT hierarchy, region, parent FROM {view} "
               "WHERE parent IS NOT NULL")
            return 0
        if kind == "custom-regions":
            ex(f"INSERT OR REPLACE INTO regions SELECT region, any_value(name), any_value(name_ja), 'custom' "
               f"FROM {view} GROUP BY region")
            ex(f"DELETE FROM custom_members WHERE region IN (SELECT region FROM {view})")
            ex(f"INSERT INTO custom_members SELECT DISTINCT region, member FROM {view}")
            return 0
        if kind == "industries":
            ex(f"INSERT OR REPLACE INTO industries SELECT * EXCLUDE ({LINE}) FROM {view}")
            return 0
        if kind == "indicators":
            names = f"SELECT DISTINCT coalesce(indicator, ?) FROM {view}"
            replaced = self._count(f"SELECT count(*) FROM indicators WHERE indicator IN ({names})", [set_name])
            ex(f"DELETE FROM indicators WHERE indicator IN ({names})", [set_name])
            ex(f"INSERT INTO indicators SELECT coalesce(indicator, ?), region, year, value, unit FROM {view}",
               [set_name])
            return replaced
        if kind == "weights":  # merged into the stored links; --replace replaces the whole table
            if replace:
                replaced = self._count("SELECT count(*) FROM region_neighbors")
                ex("DELETE FROM region_neighbors")
            else:
                replaced = self._count(f"SELECT count(*) FROM region_neighbors WHERE (region, neighbor) IN "
                                       f"(SELECT (region, neighbor) FROM {view})")
            ex(f"INSERT OR REPLACE INTO region_neighbors SELECT region, neighbor, coalesce(weight, 1.0) FROM {view}")
            return replaced
        if kind == "reference-totals":
            replaced = self._count(f"SELECT count(*) FROM reference_totals WHERE (industry, year) IN "
                                   f"(SELECT (industry, year) FROM {view})")
            ex(f"DELETE FROM reference_totals WHERE (industry, year) IN (SELECT (industry, year) FROM {view})")
            ex(f"INSERT INTO reference_totals SELECT * EXCLUDE ({LINE}) FROM {view}")
            return replaced
        raise ClusterAtlasError(_("no importer for {kind}").format(kind=kind))

    # --------------------------------------------------------------------- map
    def definitions(self) -> list[str]:
        """Names of the cluster definitions in the atlas."""
        rows = self.con.execute("SELECT DISTINCT definition FROM definitions ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def _pick_definition(self, definition: str | None) -> str:
        names = self.definitions()
        if definition is None:
            if len(names) == 1:
                return names[0]
            if not names:
                raise InputError(_("the atlas has no cluster definition"),
                                 hint=_("Import one with 'clusteratlas import definitions FILE'"))
            raise InputError(_("the atlas has several cluster definitions"), value=", ".join(names),
                             hint=_("Choose one with --definition"))
        if definition not in names:
            raise InputError(_("unknown cluster definition"), value=definition,
                             expected=", ".join(names) or "an imported definition")
        return definition

    def _membership(self, levels: list[str], kept: tuple[str, ...] = ()) -> duckdb.DuckDBPyRelation | None:
        """Distinct observed member regions of every region at the given levels."""
        if not levels:
            return None
        known = {r[0] for r in self.con.execute("SELECT DISTINCT level FROM regions").fetchall()}
        for level in levels:
            if level not in known:
                raise InputError(_("unknown region level"), value=level, expected=", ".join(sorted(known)),
                                 hint=f"Level {level} was kept from the previous map run; pass --drop-level {level} "
                                      "to drop it" if level in kept else None)
        placeholders = ", ".join("?" for _ in levels)
        sql = f"""
            WITH RECURSIVE edges AS (
                SELECT parent AS region, region AS child FROM region_links
                UNION SELECT region, member FROM custom_members),
            observed AS (SELECT DISTINCT region FROM observations),
            targets AS (SELECT region, level FROM regions WHERE level IN ({placeholders})
                        AND region NOT IN (SELECT region FROM observed)),
            walk(root, node) AS (
                SELECT e.region, e.child FROM edges e JOIN targets t ON e.region = t.region
                UNION
                SELECT w.root, e.child FROM walk w JOIN edges e ON e.region = w.node
                WHERE w.node NOT IN (SELECT region FROM observed))
            SELECT DISTINCT w.root AS region, t.level, w.node AS member
            FROM walk w JOIN targets t ON t.region = w.root
            WHERE w.node IN (SELECT region FROM observed)"""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE __membership AS {sql}", levels)
        return self.con.table("__membership")

    def last_run(self) -> MapRun | None:
        """The map run whose results the atlas holds (its spec and what it produced), or None before any."""
        return latest_run(self.con)

    def map(self, definition: str | None = None, *, levels: Sequence[str] | None = None,
            params: MapParams | None = None, strict: bool = False, datasets: Sequence[str] | None = None,
            reference: str | None = None, years: int | tuple[int, int] | None = None,
            drop_levels: Sequence[str] | None = None) -> MapRun:
        """Compute and store cluster results for one definition, replacing the earlier results.

        Observations are rated at the level their regions have; ``levels``
        adds parent or custom levels aggregated from member regions. The
        levels the previous run added are kept (mapped again with this run's
        settings) unless named in ``drop_levels``, so no level's results are
        lost without asking; the returned run says which levels it kept,
        replaced and dropped. Withheld cells with a size class are imputed
        first.

        ``years`` maps one year or a ``(first, last)`` range (default: every
        observed year); a range without observations is an error and
        changes nothing. ``datasets`` maps some observation datasets only.

        ``reference`` is the reference economy of every LQ of the run, one
        for all levels (see :func:`clusteratlas.store.integrity.resolve_reference`):
        by default the imported reference totals, else the nation (observed
        regions of level ``country``, else the observed regions no other
        observed region contains). The run's spec records the one used, and
        the results carry it in their ``reference_economy`` column.

        Returns
        -------
        MapRun
            The resolved spec and what it produced, as stored in ``map_runs``.
        """
        previous = self.last_run()
        requested = list(dict.fromkeys(levels or []))
        earlier = self._added_levels(previous)
        for level in drop_levels or []:
            if level in requested:
                raise InputError(_("a level cannot be both added and dropped"), value=level,
                                 hint=_("Leave out --level or --drop-level"))
            if level not in earlier:
                raise InputError(_("no level of the previous map run to drop"), value=level,
                                 expected=", ".join(earlier) or "none: the previous run added no level")
        kept = tuple(lvl for lvl in earlier if lvl not in requested and lvl not in (drop_levels or []))
        spec = MapSpec(definition=definition, levels=(*requested, *kept),
                       years=(years, years) if isinstance(years, int) else years, params=params or MapParams(),
                       reference=reference, datasets=tuple(datasets or ()), strict=strict)
        return self.run(spec, kept=kept)

    def remap(self, *, definition: str | None = None, add_levels: Sequence[str] = ()) -> MapRun:
        """Map again with the latest run's spec, exactly: the same definition, levels, years, parameters,
        reference economy, datasets and ``strict``.

        ``add_levels`` adds levels to the replayed spec (an uploaded custom
        level); ``definition`` maps another definition with everything else
        as before. A run recorded by an older clusteratlas, which did not
        store its spec, cannot be replayed: that is an error, not a guess.
        """
        spec = self.replayable_spec()
        if definition is not None:
            spec = dataclasses.replace(spec, definition=definition)
        if add_levels:
            spec = dataclasses.replace(spec, levels=(*spec.levels, *add_levels))
        return self.run(spec)

    def replayable_spec(self) -> MapSpec:
        """The latest run's spec, to replay; an error when there is none or it was not stored (a legacy run)."""
        last = self.last_run()
        if last is None:
            raise InputError(_("the atlas has no map run to replay"), hint=_("Run 'clusteratlas map' first"))
        if last.legacy:
            raise InputError(_("the latest map run was recorded by an older clusteratlas, which did not store its "
                             "levels and years, so it cannot be replayed"), value=last.run_at,
                             hint=_("Run 'clusteratlas map' once with the options you want; later re-maps replay it"))
        return last.spec

    def _added_levels(self, previous: MapRun | None) -> list[str]:
        """The levels the previous run added to the observed ones (a legacy run: its results' other levels)."""
        if previous is None:
            return []
        if not previous.legacy:
            return list(previous.spec.levels)
        observed = {r[0] for r in self.con.execute(
            "SELECT DISTINCT coalesce(r.level, 'region') FROM (SELECT DISTINCT region FROM observations) o "
            "LEFT JOIN regions r USING (region)").fetchall()}
        return [lvl for lvl in self._result_levels() if lvl not in observed]

    def _result_levels(self) -> list[str]:
        """The levels the stored cluster results have, in order."""
        if "results_clusters" not in {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()")
                                      .fetchall()}:
            return []
        return [r[0] for r in self.con.execute("SELECT DISTINCT level FROM results_clusters ORDER BY 1").fetchall()]

    def run(self, spec: MapSpec, *, kept: tuple[str, ...] = ()) -> MapRun:
        """Run one spec on the atlas and store its results and its :class:`MapRun`, all or nothing.

        The definition and the reference economy left open in ``spec`` (None)
        are resolved and recorded; ``kept`` names the levels the caller
        carried over from the previous run (reported, not acted on).
        """
        if spec.files is not None:
            raise InputError(_("this map run read files, not the atlas"), value=spec.files.data,
                             hint=_("Run the same 'clusteratlas map --data …' again and import its results"))
        with timed("inputs"):
            definition = self._pick_definition(spec.definition)
            source = self._map_source(spec.datasets)
            obs = self.con.sql(f"SELECT * FROM {source} o")
            if obs.limit(1).fetchall() == []:
                raise InputError(_("the atlas has no observations to map"),
                                 hint=_("Import some with 'clusteratlas import observations FILE'"))
            # distinct regions first, then their level (a region has one: regions.region is the key)
            self.con.execute("CREATE OR REPLACE TEMP TABLE __observed AS SELECT o.region, "
                             f"coalesce(r.level, 'region') AS level FROM (SELECT DISTINCT o.region FROM {source} o) o "
                             "LEFT JOIN regions r USING (region)")
            economy = resolve_reference(self.con, spec.reference, "__observed")
            defs = self.con.sql("SELECT * EXCLUDE (definition) FROM definitions WHERE definition = ?",
                                params=[definition])
            membership = self._membership(list(spec.levels), kept)
            resolved = dataclasses.replace(spec, definition=definition, reference=economy.spec)
            inputs = MapInputs(
                nw.from_native(obs), nw.from_native(defs),
                reference_totals=nw.from_native(self.con.table("reference_totals")) if economy.table is None else None,
                reference_regions=None if economy.table is None else nw.from_native(self.con.table(economy.table)),
                membership=nw.from_native(membership) if membership is not None else None,
                region_levels=nw.from_native(self.con.table("__observed")),
                published_totals=self._published_totals(list(spec.datasets)),
                labels={"observations": "the atlas's observations", "definitions": f"definition '{definition}'",
                        "reference_totals": "the atlas's reference totals"})
            before = self._result_levels()
            run_at = clock(self.con)
        with self._transaction():
            with timed("map"):
                outcome = run_map(resolved, inputs, engine=Engine(self.con), table="results_clusters")
            with timed("results"):
                self.con.register("__unmapped", outcome.unmapped)
                self.con.execute("CREATE OR REPLACE TABLE results_unmapped AS SELECT * FROM __unmapped")
                self.con.unregister("__unmapped")
                outcome.result.regions.to_native().query(
                    "__regions", "CREATE OR REPLACE TABLE results_regions AS SELECT * FROM __regions")
                for table in ("results_clusters", "results_regions"):
                    self.con.execute(f"ALTER TABLE {table} ADD COLUMN reference_economy VARCHAR "
                                     f"DEFAULT '{economy.spec.replace(chr(39), chr(39) * 2)}'")
                rows, regions, years = describe_results(nw.from_native(self.con.table("results_clusters")))
                outside = unknown_regions(  # one row per region: each code is compared once
                    self.con, f"SELECT o.region, sum(o.employment) AS employment FROM {source} o WHERE o.year = ? "
                    "GROUP BY o.region", [years[-1]])
                run = MapRun(
                    spec=resolved, run_id=uuid.uuid4().hex[:12], run_at=run_at, engine=f"duckdb {duckdb.__version__}",
                    cluster_rows=rows, regions=regions, years=years, unmapped_industries=outcome.unmapped.num_rows,
                    unmapped_employment=outcome.unmapped_employment, mapped_share=outcome.mapped_share,
                    reference_label=economy.label, reference_employment=self._reference_employment(economy, years[-1]),
                    levels_kept=kept, levels_replaced=tuple(lvl for lvl in before if lvl in regions),
                    levels_dropped=tuple(lvl for lvl in before if lvl not in regions),
                    outside_regions=outside.count, outside_employment=outside.employment,
                    outside_listed=tuple(outside.listed))
                save_run(self.con, run)
            with timed("stored answers"):
                store_answers(self.con, run.run_id)  # the common questions answered now, kept with the run
        return run

    def _map_source(self, datasets: tuple[str, ...] = ()) -> str:
        """The observations a map reads (all, or those of ``datasets``), as a subquery of the stored tables.

        It reads the tables, not the view ``observations``, whose join to the datasets' names costs a
        map a tenth of its grouping; the datasets are chosen by their numbers. ``flag`` and
        ``size_class`` are read only when :meth:`_notes_needed` finds a cell that needs them.
        """
        where = ""
        if datasets:
            ids = dict(self.con.execute("SELECT name, id FROM datasets ORDER BY name").fetchall())
            for name in datasets:
                if name not in ids:
                    raise InputError(_("unknown observation dataset"), value=name,
                                     expected=", ".join(ids) or "an imported dataset")
            where = f" WHERE dataset_id IN ({', '.join(str(ids[name]) for name in datasets)})"
        withheld, flagged = self._notes_needed(where)
        core = column_names(model.OBSERVATIONS, skip=model.OBSERVATION_NOTES)
        notes = ["flag"] * (withheld or flagged) + ["size_class"] * withheld
        stored = "".join(f", {name}" for name in notes)
        return (f"(SELECT {core}{note_defaults(notes)} FROM observations_unflagged{where} "
                f"UNION ALL SELECT {core}{stored} FROM observations_flagged{where})")

    def _notes_needed(self, where: str) -> tuple[bool, bool]:
        """Whether a map must read ``size_class`` (some cell is withheld with a size class to impute) and
        ``flag`` (some cell is flagged as not reported), among the observations of ``where`` (a filter on
        ``dataset_id``). Only ``observations_flagged`` holds such cells.

        Either column left out gives the same results (nothing to impute, no estimated cells), and reading
        them costs a fifth of a 60 M-row map's grouping. Both probes stop at the first such row, and read
        nothing when the column's statistics rule every row out.
        """
        flags = ", ".join(f"'{f}'" for f in model.NOT_REPORTED_FLAGS)
        both = "AND" if where else "WHERE"
        withheld, flagged = (bool(scalar(self.con, f"SELECT EXISTS (SELECT 1 FROM observations_flagged{where} "
                                                   f"{both} {test})"))
                             for test in ("employment IS NULL AND size_class IS NOT NULL", f"flag IN ({flags})"))
        return withheld, flagged

    def _published_totals(self, datasets: list[str] | None) -> nw.LazyFrame | None:
        """The region totals the mapped datasets' files published (region, year, employment), or None."""
        where = f"WHERE dataset IN ({', '.join('?' for _ in datasets)})" if datasets else ""
        rel = self.con.sql(f"SELECT region, year, max(employment) AS employment FROM region_totals {where} "
                           "GROUP BY region, year", params=list(datasets or []))
        return nw.from_native(rel) if rel.limit(1).fetchall() else None

    def _reference_employment(self, economy, year: int) -> float | None:
        """The reference economy's employment in ``year`` (withheld cells as imputed by the map)."""
        if economy.table is None:
            return scalar(self.con, "SELECT sum(employment) FROM reference_totals WHERE year = ?", [year])
        return scalar(self.con, f"SELECT sum(employment) FROM results_regions WHERE year = ? AND "
                                f"(region, level) IN (SELECT (region, level) FROM __observed WHERE region IN "
                                f"(SELECT region FROM {economy.table}))", [year])

    # ------------------------------------------------------------------- query
    def _require_results(self) -> None:
        tables = {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "results_clusters" not in tables:
            raise InputError(_("the atlas has no results yet"), hint=_("Run 'clusteratlas map' first"))

    def region_profile(self, region: str, *, year: int | None = None, include_empty: bool = False,
                       ) -> tuple[dict, pa.Table]:
        """A region's summary and its clusters (ranked by stars, then employment) for one year.

        The question is answered once, by :func:`clusteratlas.queries.region_profile`
        (the API, the pages and ``show region`` ask it too). Non-finite
        numbers in the clusters (an LQ or a growth rate without a
        denominator) come back as None (null), not NaN.
        """
        from clusteratlas import queries

        profile = queries.region_profile(self.con, region, year=year, include_empty=include_empty,
                                         opportunities=0)
        return profile.summary, profile.clusters

    def cluster_profile(self, cluster: str, *, year: int | None = None, top: int = 20,
                        level: str | None = None) -> pa.Table:
        """The regions of one level (default: the most detailed) with the most jobs in a cluster.

        Answered by :func:`clusteratlas.queries.cluster_ranking` (with a
        ``rank`` column); non-finite numbers come back as None (null), not NaN.
        """
        from clusteratlas import queries

        return queries.cluster_ranking(self.con, cluster, metric="employment", level=level, year=year,
                                       top=top).table

    # -------------------------------------------------------------- analyses
    def relate(self, *, by: str = "cluster", year: int | None = None, level: str | None = None,
               top: int = 20, since: int | None = None, convention: str = "atlas") -> RelateSummary:
        """Relatedness, complexity and concentration for one year (see :mod:`clusteratlas.store.analyses`)."""
        return run_relate(self.con, by=by, year=year, level=level, top=top, since=since, convention=convention)

    def shift_share(self, start: int, end: int, *, by: str = "cluster", level: str | None = None) -> pa.Table:
        """Shift-share components per region × cluster (or industry) between two years; stored too."""
        return run_shift_share(self.con, start, end, by=by, level=level)

    def hotspots(self, *, by: str = "cluster", year: int | None = None, level: str | None = None,
                 value: str = "lq", permutations: int | None = None, alpha: float = 0.05) -> HotspotSummary:
        """Spatial hot spots (Moran's I, LISA, Gi*) of every cluster or industry; stored (permutations None:
        sequential, enough for the false-discovery control; see :func:`clusteratlas.store.analyses.run_hotspots`)."""
        return run_hotspots(self.con, by=by, year=year, level=level, value=value, permutations=permutations,
                            alpha=alpha)

    def define(self, out: str | os.PathLike[str], **options):
        """Derive cluster definitions from the observations (see :func:`clusteratlas.store.analyses.run_define`)."""
        return run_define(self.con, out, **options)

    def indicator_rates(self, indicator: str, *, per: str = "employment", scale: float = 1000.0,
                        year: int | None = None) -> pa.Table:
        """An indicator per ``scale`` units of employment (map results) or of another indicator.

        Joined on region and year: a region or year without a denominator is
        left out, never divided by zero.
        """
        known = [r[0] for r in self.con.execute("SELECT DISTINCT indicator FROM indicators ORDER BY 1").fetchall()]
        for name in {indicator} | ({per} if per != "employment" else set()):
            if name not in known:
                raise InputError(_("unknown indicator"), value=name, expected=", ".join(known) or "an imported one",
                                 hint=_("Import it with 'clusteratlas import indicators FILE --name NAME'"))
        if per == "employment":
            self._require_results()
            denominator = "SELECT region, year, employment AS base FROM results_regions"
        else:
            denominator = "SELECT region, year, value AS base FROM indicators WHERE indicator = ?"
        params = [*([] if per == "employment" else [per]), indicator, *([year] if year else [])]
        rows = self.con.sql(
            f"""SELECT i.region, r.name, r.name_ja, i.year, i.value, d.base, i.value / d.base * {scale} AS rate
                FROM ({denominator}) d JOIN indicators i USING (region, year)
                LEFT JOIN regions r USING (region)
                WHERE i.indicator = ? AND d.base > 0 {'AND i.year = ?' if year else ''}
                ORDER BY rate DESC""", params=params).to_arrow_table()
        if rows.num_rows == 0:
            raise InputError(_("no region and year has both {indicator} and {per}").format(indicator=indicator,
                                                                                           per=per),
                             hint=_("Check that both use the same region ids and years"))
        return rows

    def related(self, item: str, *, top: int = 10) -> pa.Table:
        """The items most related to ``item`` in the latest relate run that has it.

        Answered by :func:`clusteratlas.queries.related_clusters` (with the
        related clusters' names); non-finite numbers come back as None (null).
        """
        from clusteratlas import queries

        return queries.related_clusters(self.con, item, top=top).table

    # ------------------------------------------------------------------ export
    # ------------------------------------------------------------- evaluation
    def framework(self, framework: str, version: str | None = None):
        """A framework stored in the atlas or built in (the latest version unless one is named)."""
        from clusteratlas.store.evaluations import framework_resolver

        return framework_resolver(self.con)(framework, version)

    def add_framework(self, path: str | os.PathLike[str]):
        """Validate a framework file and store its version in the atlas; returns (framework, stored_now)."""
        from clusteratlas.evaluate.frameworks import load_framework
        from clusteratlas.store.evaluations import store_framework

        fw = load_framework(path)
        with self._transaction():
            added = store_framework(self.con, fw)
        return fw, added

    def import_assessments(self, path: str | os.PathLike[str], *, dry_run: bool = False):
        """Check an assessment file completely, then store new assessments and revisions (never overwriting)."""
        from clusteratlas.store.evaluations import import_assessments

        return import_assessments(self.con, path, transaction=self._transaction, dry_run=dry_run)

    def assessments(self, *, framework: str | None = None, subject: str | None = None,
                    all_revisions: bool = False) -> list:
        """Stored assessments (the current revision of each, or all revisions), oldest first."""
        from clusteratlas.store.evaluations import load_assessments

        items = load_assessments(self.con, framework=framework, subject=subject, all_revisions=all_revisions)
        if not items:
            what = " ".join(x for x in (f"under {framework}" if framework else "",
                                        f"of {subject}" if subject else "") if x)
            raise InputError(f"no assessments {what}".strip(),
                             hint=_("Import some with 'clusteratlas assess import FILE'"))
        return items

    def load_programmes(self) -> int:
        """Japan's cluster programme registry into the atlas: the table, and its entries as custom regions."""
        from clusteratlas.reference.japan import prefectures
        from clusteratlas.reference.programmes import municipality_regions, programme_regions, programme_table

        table = programme_table()
        with self._transaction():
            self.con.execute("DELETE FROM programme_registry")
            self.con.register("__programmes", table)
            self.con.execute("INSERT INTO programme_registry SELECT * FROM __programmes")
        self.import_table("regions", prefectures(), name="jp-prefectures")
        self.import_table("regions", municipality_regions(), name="jp-programme-municipalities")
        observed = {r[0] for r in self.con.execute("SELECT DISTINCT region FROM observations").fetchall()}
        self.import_table("custom-regions", programme_regions(observed or None), name="jp-programmes")
        return table.num_rows

    def export(self, what: str, path: str | os.PathLike[str], *, keep_formulas: bool = False) -> int:
        """Write a table (see :data:`EXPORTABLE`) to CSV, Parquet or Excel; return the row count.

        CSV text cells that begin like a formula get an apostrophe unless ``keep_formulas``
        (:mod:`clusteratlas.store.export`).
        """
        if what not in EXPORTABLE:
            raise InputError(_("unknown table to export"), value=what, expected=", ".join(EXPORTABLE))
        table = EXPORTABLE[what]
        tables = {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if table not in tables:
            raise InputError(_("the atlas has no {what} table yet").format(what=what),
                             hint=_("Run 'clusteratlas map' (or 'relate', 'shift-share') first"))
        return write_table(self.con.table(table), Path(path), keep_formulas=keep_formulas)
