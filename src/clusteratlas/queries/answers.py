"""Stored answers: the questions asked most, answered when ``map`` runs and kept with the run.

A region's profile, a cluster's profile, its ranking and its map layer, at
every level, with the parameters the API routes and the pages use by
default, are computed by the same code a live request runs and
stored in the table ``stored_answers`` in the transaction that stores the
map run (:meth:`clusteratlas.store.Atlas.run`, and the import of a results
folder that Spark wrote). A server started cold then answers them from its
first request: one lookup instead of a dozen queries, after restarts and
after writes, with no warm-up.

Each stored answer names

- the map run it belongs to (``run_id``): a new run replaces them all;
- the request it answers (``kind``, ``item``, ``params``: the query's
  keyword arguments as JSON, so only an identical request matches). A
  request at the default level (``level=None``, as the routes ask it) is
  looked up at the level it means (:func:`_meant`), so it is stored once;
- its language (``lang``: ``''`` when the answer is the same in every
  language, else one row per language); a profile whose notes alone are
  translated is one row, ``''``, whose ``body`` holds all but the notes and
  whose ``notes`` the notes' JSON per language, so its tables are stored
  once, not once per language;
- its basis: a fingerprint of the tables besides the results that the query
  reads (region names, hierarchies, definitions, programmes, relatedness …). A write that
  changes one of them (``relate``, a region or programme import) makes the
  basis differ: the answers of that kind are not used (the query runs live)
  and are computed again when the write ends (:func:`refresh_answers`); a
  write that changes none of them (a token, an assessment, a network)
  recomputes nothing.

They are computed set-based (:func:`batch`): one question (a kind and its
parameters) for every region or cluster of a level at once, from a few
whole-level queries split per item in Arrow
(:func:`~clusteratlas.queries.region_profiles`,
:func:`~clusteratlas.queries.cluster_profiles`,
:func:`~clusteratlas.queries.cluster_rankings`,
:func:`~clusteratlas.queries.map_layers`). The one-item query a route runs
is that same code restricted to one item, so the two cannot drift. The
tables do not depend on the language: they are read once, and only the
notes (translated text) are written per language, when each answer is
encoded; an answer whose languages agree is kept once.

Objects are kept as zstd-compressed JSON (what the route would write;
an atlas stored before keeps zlib, which :func:`decode` still reads),
tables as compressed Arrow IPC with their metadata as JSON, so every format
(JSON, CSV, Parquet, Excel) renders from them exactly as from a live query.

A server (queries inside a :func:`~clusteratlas.queries._core.memo` store)
reads the stored answers into memory once per atlas version: at start-up,
and for a newer version before it serves it (:func:`load_answers`, which
hands on the last version's answers of a kind whose run and basis are the
same), else on a thread of its own that the first request asking one
starts (:func:`stored`); up to
:data:`SHELF_BYTES` of compressed answers per kind, else it reads one row
per request, as every request does until they are loaded. It
sends an object's stored JSON as it is (:class:`StoredObject`): a request
then costs a dictionary lookup and a decompression, not a query of the
table and a parse and re-encoding of the JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clusteratlas import i18n
from clusteratlas.errors import InputError
from clusteratlas.queries._core import TableResult, default_level, json_bytes, memo_store, memoised, tables
from clusteratlas.queries.clusters import ClusterProfile
from clusteratlas.queries.regions import RegionProfile, _region_level

log = logging.getLogger("clusteratlas.answers")

TABLE = "stored_answers"
SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
          "item VARCHAR NOT NULL, params VARCHAR NOT NULL, lang VARCHAR NOT NULL, basis VARCHAR NOT NULL, "
          "meta VARCHAR, body BLOB NOT NULL, notes VARCHAR)")
#: What the answers of each kind read besides the run's results (its results tables, definitions and map_runs
#: row are replaced by the next run): the tables whose rows they read.
_NAMES = ("regions", "region_links", "custom_members", "industries", "definitions")
BASIS: dict[str, tuple[str, ...]] = {
    "region": (*_NAMES, "programme_registry", "relate_cells", "observations"),
    "cluster": _NAMES,
    "ranking": _NAMES,
    "map": _NAMES,
}
#: How a basis part is fingerprinted when not by its own rows: a programme region's notes read which regions
#: the observations hold, so the observation imports count, but only when there are programmes.
_PART_SQL = {"observations": "SELECT count(*), bit_xor(hash(t)) FROM imports t WHERE kind = 'observations' "
                             "AND EXISTS (SELECT 1 FROM programme_registry)"}
_PART_NEEDS = {"observations": ("imports", "programme_registry")}
#: zstd's level for the JSON answers: a 60 KB region profile in 0.08 ms (zlib at level 3: 0.27 ms), a fifth
#: smaller, and read back in half the time.
LEVEL = 1
_ZSTD = pa.Codec("zstd", compression_level=LEVEL)
#: How a zstd body starts (then its plain length, 4 bytes little-endian): a zlib body starts with 0x78.
_ZSTD_MARK = b"zs1"
#: A server keeps the stored answers of a kind in memory when their compressed bytes are at most this much
#: (the synthetic 3,000-region atlas: 109 MB of region profiles); a larger kind is read row by row.
SHELF_BYTES = 256 * 1024 * 1024
#: Region profiles are computed this many regions at a time (a 30,000-region level's profiles hold about 2 M
#: cluster rows of 40 columns: over 600 MB of Arrow at once).
REGION_PART = 1000
#: Stored answers are written in batches of about this many compressed bytes, so that ``map`` holds one batch,
#: not every answer of a large atlas (30,000 regions' profiles: several hundred MB), in memory.
FLUSH_BYTES = 64 * 1024 * 1024
#: One thread loads a shelf at a time; requests, meanwhile, read their own row rather than wait for it.
_SHELF_LOCK = threading.Lock()


@dataclass(frozen=True)
class StoredObject:
    """A stored object answer as the JSON the route sends as ``data`` (the bytes of ``json_bytes(as_dict())``),
    so it is sent as it is; :meth:`as_dict` parses it for the pages."""

    json: bytes

    def as_dict(self) -> dict[str, Any]:
        return json.loads(self.json)


@dataclass(frozen=True)
class Request:
    """One stored question: a kind, the region or cluster it is about, and the query's keyword arguments."""

    kind: str
    item: str
    params: dict[str, Any]


def params_key(params: dict[str, Any]) -> str:
    """The stored form of a request's parameters (sorted JSON): equal parameters, equal keys."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def compute(con: duckdb.DuckDBPyConnection, request: Request) -> Any:
    """The live answer to ``request`` (the query function the route calls, with the same arguments)."""
    from clusteratlas import queries as Q

    functions: dict[str, Callable[..., Any]] = {"region": Q.region_profile, "cluster": Q.cluster_profile,
                                                "ranking": Q.cluster_ranking, "map": Q.map_layer}
    return functions[request.kind](con, request.item, **request.params)


# ------------------------------------------------------------------ reading
def ask(con: duckdb.DuckDBPyConnection, kind: str, item: str, **params: Any) -> Any:
    """The answer to one common question: the stored one when there is a current one, else the live query's.

    ``kind`` is ``region`` (:func:`~clusteratlas.queries.region_profile`), ``cluster``
    (:func:`~clusteratlas.queries.cluster_profile`), ``ranking`` (:func:`~clusteratlas.queries.cluster_ranking`)
    or ``map`` (:func:`~clusteratlas.queries.map_layer`), and ``params`` that function's keyword arguments.
    An object comes back as a :class:`StoredObject` (stored) or as the query's dataclass (live): both have
    ``as_dict()`` (or use :func:`data`); a table as a :class:`TableResult` either way.
    """
    found = stored(con, kind, item, params)
    return compute(con, Request(kind, item, params)) if found is None else found


def data(answer: Any) -> Any:
    """An object answer of :func:`ask` as plain data (what the API sends as ``data``)."""
    return answer.as_dict() if hasattr(answer, "as_dict") else answer


def stored(con: duckdb.DuckDBPyConnection, kind: str, item: str, params: dict[str, Any]) -> Any:
    """The stored answer of the latest run for this exact request in the current language, or None (none
    stored, an older run's, or one whose basis has changed since): a :class:`StoredObject` or a
    :class:`TableResult` (:func:`decode`)."""
    if kind not in BASIS or TABLE not in tables(con):
        return None
    run_id = memoised(("answers_run",), lambda: _latest_run_id(con))
    if run_id is None:
        return None
    params = _meant(con, kind, item, params)
    if params is None:
        return None
    basis = memoised(("answers_basis", kind), lambda: basis_of(con, kind))
    key, lang = params_key(params), i18n.get_language()
    shelf = _shelf(con, kind, run_id, basis)
    if shelf is not None:
        return _from_shelf(shelf, item, key)
    rows = con.execute(f"SELECT {_columns(con)} FROM {TABLE} WHERE run_id = ? AND kind = ? AND item = ? "
                       "AND params = ? AND basis = ? AND lang IN ('', ?) LIMIT 1",
                       [run_id, kind, item, key, basis, lang]).fetchall()
    return decode(*rows[0]) if rows else None


def held(kind: str, item: str, params: dict[str, Any]) -> Any:
    """The stored answer to this request when the server holds it in memory (its version's answers read:
    :func:`load_answers`), found without running any query, so that a route may answer it on the event loop
    instead of waiting for a worker thread; None when it is not held (then :func:`ask`). The same answer as
    :func:`stored`."""
    store = memo_store()
    if store is None or kind not in BASIS:
        return None
    shelf = store.get(("answers_shelf", kind))
    if not shelf:
        return None
    if "level" in params and params["level"] is None:  # the level it means, as _meant finds it in a server
        level = (store.get(_REGION_LEVELS) or {}).get(item) if kind == "region" else store.get(_DEFAULT_LEVEL)
        if level is None:
            return None
        params = {**params, "level": level}
    return _from_shelf(shelf, item, params_key(params))


def _from_shelf(shelf: dict[tuple[str, str, str], tuple[str | None, bytes, str | None]], item: str, key: str) -> Any:
    """The answer a shelf holds for ``item`` with parameters ``key`` in the current language (or for every
    language), decoded; None when it holds none."""
    found = shelf.get((item, key, i18n.get_language())) or shelf.get((item, key, ""))
    return None if found is None else decode(*found)


#: Memo keys of the levels a request at the default level means (in a server: once per version).
_REGION_LEVELS = ("answers_region_levels",)
_DEFAULT_LEVEL = ("answers_default_level",)


def _meant(con: duckdb.DuckDBPyConnection, kind: str, item: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` with the default level (``level=None``) replaced by the level it means, as the query resolves
    it: a region's first level (:func:`~clusteratlas.queries.regions._region_level`), a cluster's
    :func:`~clusteratlas.queries._core.default_level`; None when there is none (the live query says why)."""
    if "level" not in params or params["level"] is not None:
        return params
    if kind == "region" and memo_store() is not None:  # a server: every region's at once, once per version
        level = _first_levels(con).get(item)
    else:
        try:
            level = (_region_level(con, item, None) if kind == "region"
                     else memoised(_DEFAULT_LEVEL, lambda: default_level(con)))
        except InputError:  # an unknown region, no results: the live query says so
            return None
    return None if level is None else {**params, "level": level}


def _first_levels(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every mapped region's first level (what ``level=None`` means for it, as
    :func:`~clusteratlas.queries.regions._region_level` has it), kept per version."""
    return memoised(_REGION_LEVELS, lambda: dict(con.execute(
        "SELECT region, min(level) FROM results_regions GROUP BY region").fetchall()))


def _columns(con: duckdb.DuckDBPyConnection) -> str:
    """The columns :func:`decode` reads (an atlas stored before the ``notes`` column: none there)."""
    present = memoised(("answers_notes",), lambda: bool(con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = 'notes' "
        "AND database_name = current_database()", [TABLE]).fetchall()[0][0]))
    return "meta, body, notes" if present else "meta, body, NULL"


def _shelf(con: duckdb.DuckDBPyConnection, kind: str, run_id: str, basis: str
           ) -> dict[tuple[str, str, str], tuple[str | None, bytes, str | None]] | None:
    """The current stored answers of ``kind`` in memory, ``(item, params, lang) -> (meta, body, notes)``, kept in the
    server's store for this atlas version; None outside a server, when the kind's answers are larger than
    :data:`SHELF_BYTES`, or until they are loaded: the first request that finds none starts loading them on a
    thread of their own (no request waits for it) and, like every request meanwhile, reads its own row."""
    store = memo_store()
    if store is None:
        return None
    name = ("answers_shelf", kind)
    if name in store:
        return store[name]
    if _SHELF_LOCK.acquire(blocking=False):
        try:
            database = con.execute("SELECT current_database()").fetchall()[0][0]
            cursor = con.cursor()  # a new connection to the same database, which starts in its default one
            cursor.execute('USE "{}"'.format(database.replace('"', '""')))
            threading.Thread(target=_fill_shelf, args=(store, name, cursor, run_id, basis), daemon=True,
                             name=f"answers-{kind}").start()
        except BaseException:
            _SHELF_LOCK.release()
            raise
    return None


def load_answers(con: duckdb.DuckDBPyConnection, previous: dict[tuple, Any] | None = None) -> int:
    """Read the current stored answers of every kind into the current memo store now, so that the first
    requests of this version find them in memory (a server's start, and a new version before it is served);
    the number of answers held. Nothing outside a server.

    ``previous``: the memo store of the version served before. A kind whose answers are those of the same run
    on the same basis (a write that changed none of them: a token, an assessment) is taken from it as it is,
    not read again."""
    store = memo_store()
    if store is None or TABLE not in tables(con):
        return 0
    run_id = memoised(("answers_run",), lambda: _latest_run_id(con))
    if run_id is None:
        return 0
    with _SHELF_LOCK:
        for kind in BASIS:
            name = ("answers_shelf", kind)
            if name not in store:
                basis = memoised(("answers_basis", kind), lambda kind=kind: basis_of(con, kind))
                if (previous is not None and name in previous and previous.get(("answers_run",)) == run_id
                        and previous.get(("answers_basis", kind)) == basis):
                    store[name] = previous[name]
                else:
                    store[name] = _load_shelf(con, kind, run_id, basis)
        _first_levels(con)
        with contextlib.suppress(InputError):  # no results at any level: nothing is held for clusters
            memoised(_DEFAULT_LEVEL, lambda: default_level(con))
    return sum(len(store[("answers_shelf", kind)] or ()) for kind in BASIS)


def _fill_shelf(store: dict[tuple, Any], name: tuple[str, str], cursor: duckdb.DuckDBPyConnection, run_id: str,
                basis: str) -> None:
    """Load a kind's stored answers into ``store`` (a version's memo store) on a cursor of that version."""
    try:
        if name not in store:
            store[name] = _load_shelf(cursor, name[1], run_id, basis)
    except Exception:  # the version closed meanwhile (a write replaced it): its requests read their rows
        log.info("stored %s answers not kept in memory", name[1], exc_info=True)
    finally:
        cursor.close()
        _SHELF_LOCK.release()


def _load_shelf(con: duckdb.DuckDBPyConnection, kind: str, run_id: str, basis: str
                ) -> dict[tuple[str, str, str], tuple[str | None, bytes, str | None]] | None:
    where = f"FROM {TABLE} WHERE run_id = ? AND kind = ? AND basis = ?"
    size = con.execute(f"SELECT coalesce(sum(octet_length(body)), 0) {where}", [run_id, kind, basis]).fetchall()[0][0]
    if size > SHELF_BYTES:
        log.info("stored %s answers (%d bytes) are read row by row", kind, size)
        return None
    rows = con.execute(f"SELECT item, params, lang, {_columns(con)} {where}", [run_id, kind, basis]).fetchall()
    return {(item, key, lang): (meta, body, notes) for item, key, lang, meta, body, notes in rows}


def decode(meta: str | None, body: bytes, notes: str | None = None) -> Any:
    """A stored answer back in the current language: a :class:`StoredObject` (an object's ``as_dict()`` as
    JSON; with ``notes``, the body holds all but the notes and ``notes`` them per language) or a
    :class:`TableResult`."""
    if meta is None:
        if notes is None:
            return StoredObject(unpack(body))
        return StoredObject(unpack(body) + json.loads(notes)[i18n.get_language()].encode("utf-8") + b"}")
    with pa.ipc.open_stream(io.BytesIO(body)) as reader:
        table = reader.read_all()
    return TableResult(table, json.loads(meta))


def _latest_run_id(con: duckdb.DuckDBPyConnection) -> str | None:
    if "map_runs" not in tables(con):
        return None
    columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'map_runs' "
                                         "AND database_name = current_database()").fetchall()}
    if "run_id" not in columns:
        return None
    rows = con.execute("SELECT run_id FROM map_runs ORDER BY run_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def basis_of(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    """The fingerprint of what an answer of ``kind`` reads besides the run's results: per table, its rows and
    an order-independent hash of them (a table the atlas lacks counts as absent)."""
    present = tables(con)
    parts = {}
    for name in BASIS[kind]:
        if all(t in present for t in _PART_NEEDS.get(name, (name,))):
            sql = _PART_SQL.get(name, f"SELECT count(*), bit_xor(hash(t)) FROM {name} t")
            count, digest = con.execute(sql).fetchall()[0]
            parts[name] = [count, str(digest)]
    return params_key(parts)


# ------------------------------------------------------------------ writing
def requests(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...] = tuple(BASIS)) -> Iterator[Request]:
    """Every request stored for the atlas's results: per region its profile, per cluster its profile, its
    ranking (by employment and by LQ) and its LQ map layer; each at every level the results have (a request
    at the default level is looked up at the level it means: :func:`_meant`)."""
    if "results_clusters" not in tables(con):
        return
    levels = [r[0] for r in con.execute("SELECT DISTINCT level FROM results_clusters ORDER BY 1").fetchall()]
    if "region" in kinds:
        for region, region_levels in con.execute("SELECT region, list(DISTINCT level ORDER BY level) FROM "
                                                 "results_regions GROUP BY region ORDER BY region").fetchall():
            for level in region_levels:
                yield Request("region", region, {"year": None, "level": level, "include_empty": False,
                                                 "opportunities": 10})
    clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]
    for cluster in clusters:
        for level in levels:
            if "cluster" in kinds:
                yield Request("cluster", cluster, {"metric": "employment", "level": level, "year": None, "top": 20})
            if "ranking" in kinds:
                for metric in ("employment", "lq"):
                    yield Request("ranking", cluster, {"metric": metric, "level": level, "year": None, "top": 20,
                                                       "min_employment": None})
            if "map" in kinds:
                yield Request("map", cluster, {"metric": "lq", "level": level, "year": None, "classes": "auto"})


def encode(value: Any) -> tuple[str | None, bytes]:
    """``(meta, body)`` as stored: an object as compressed JSON (meta None), a table as compressed Arrow IPC."""
    if isinstance(value, TableResult):
        sink = io.BytesIO()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, value.table.schema, options=options) as writer:
            writer.write_table(value.table)
        return json_bytes(value.meta).decode("utf-8"), sink.getvalue()
    data = value.as_dict() if hasattr(value, "as_dict") else value
    return None, pack(json_bytes(data))


def pack(data: bytes) -> bytes:
    """The stored form of an object answer's JSON: zstd with its plain length in front (:func:`unpack`)."""
    return _ZSTD_MARK + struct.pack("<I", len(data)) + _ZSTD.compress(data, asbytes=True)


def unpack(body: bytes) -> bytes:
    """The JSON of a stored object answer: zstd (:func:`pack`), or zlib as an atlas stored before it has."""
    if body[:3] != _ZSTD_MARK:
        return zlib.decompress(body)
    (size,) = struct.unpack_from("<I", body, 3)
    return _ZSTD.decompress(memoryview(body)[7:], decompressed_size=size, asbytes=True)


def batch(con: duckdb.DuckDBPyConnection, kind: str, params: dict[str, Any],
          between: tuple[str, str] | None = None) -> dict[str, Callable[[], Any]]:
    """The answers of ``kind`` with ``params`` for every region or cluster at once (the whole-level queries of
    :func:`~clusteratlas.queries.region_profiles`, :func:`~clusteratlas.queries.cluster_profiles`,
    :func:`~clusteratlas.queries.cluster_rankings`, :func:`~clusteratlas.queries.map_layers`): item -> a
    function giving its answer in the current language, equal to :func:`compute` of the same request.
    ``between=(first, last)``: only the regions with ids in that range (region profiles only)."""
    from clusteratlas import queries as Q

    if between is not None:
        return Q.region_profiles(con, **params, between=between)

    functions: dict[str, Callable[..., dict[str, Callable[[], Any]]]] = {
        "region": Q.region_profiles, "cluster": Q.cluster_profiles, "ranking": Q.cluster_rankings,
        "map": Q.map_layers}
    return functions[kind](con, **params)


def _answers(build: Callable[[], Any], request: Request) -> list[tuple[str, str | None, bytes, str | None]]:
    """``(lang, meta, body, notes)`` of one request: one row for every language when they agree (or differ in
    a profile's notes only), else one each.
    The tables are computed once (``build`` only writes the notes in the current language) and encoded
    once; an error is not stored: the live query raises it again."""
    by_lang: dict[str, Any] = {}
    for lang in i18n.LANGUAGES:
        with i18n.language_for(lang):
            try:
                by_lang[lang] = build()
            except InputError:
                return []
            except Exception:  # a failing query must not fail the map: the live query answers (or fails) instead
                log.warning("not stored: %s", request, exc_info=True)
                return []
    try:
        return _encoded(by_lang)
    except Exception:
        log.warning("not stored: %s", request, exc_info=True)
        return []


def _encoded(by_lang: dict[str, Any]) -> list[tuple[str, str | None, bytes, str | None]]:
    """The rows of one answer (one row, language ``''``, when the languages agree): the language-neutral part
    (the tables) encoded once. A profile whose notes alone differ is one row too: its body all but the notes
    (the JSON up to ``"notes":``), its ``notes`` a JSON object of each language's notes as JSON text, which
    :func:`decode` joins back into the bytes of :func:`encode` of that language's answer."""
    first = next(iter(by_lang.values()))
    if isinstance(first, TableResult) and all(a.table is first.table for a in by_lang.values()):
        _, body = encode(TableResult(first.table, {}))
        metas = {lang: json_bytes(a.meta).decode("utf-8") for lang, a in by_lang.items()}
        if len(set(metas.values())) == 1:
            return [("", metas[next(iter(metas))], body, None)]
        return [(lang, meta, body, None) for lang, meta in metas.items()]
    if isinstance(first, (RegionProfile, ClusterProfile)) and all(_same_but_notes(a, first)
                                                                   for a in by_lang.values()):
        shared = first.as_dict()
        shared.pop("notes")  # the last key (as_dict): the rest is written once
        head = json_bytes(shared)[:-1] + b',"notes":'
        if all(a.notes == first.notes for a in by_lang.values()):
            return [("", None, pack(head + json_bytes(first.notes) + b"}"), None)]
        notes = {lang: json_bytes(a.notes).decode("utf-8") for lang, a in by_lang.items()}
        return [("", None, pack(head), json_bytes(notes).decode("utf-8"))]
    rows = [(lang, *encode(a), None) for lang, a in by_lang.items()]
    lead = rows[0]
    if all(_same(lead, other) for other in rows[1:]):
        return [("", lead[1], lead[2], None)]
    return rows


def _same_but_notes(a: Any, b: Any) -> bool:
    """Whether two answers of a profile differ at most in their notes (the tables the same objects)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name != "notes" and not (x is y or (not isinstance(x, pa.Table) and x == y)):
            return False
    return True


def _same(a: tuple[str, str | None, bytes, None], b: tuple[str, str | None, bytes, None]) -> bool:
    return a[1] == b[1] and (a[2] == b[2] or (a[1] is None and unpack(a[2]) == unpack(b[2])))


def store_answers(con: duckdb.DuckDBPyConnection, run_id: str | None, kinds: tuple[str, ...] = tuple(BASIS)) -> int:
    """Compute and store the answers of ``kinds`` for the run ``run_id`` (inside the caller's transaction),
    replacing every stored answer of those kinds (all of them for a run without an id); the number of rows
    stored."""
    from clusteratlas.queries._core import memo

    con.execute(SCHEMA)
    con.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS notes VARCHAR")  # an atlas stored before it
    if not run_id:  # a run recorded before runs had ids (a legacy results folder): nothing can be keyed to it
        con.execute(f"DELETE FROM {TABLE}")
        return 0
    marks = ", ".join("?" for _ in kinds)
    con.execute(f"DELETE FROM {TABLE} WHERE kind IN ({marks}) OR run_id <> ?", [*kinds, run_id])
    bases = {kind: basis_of(con, kind) for kind in kinds}
    groups: dict[tuple[str, str], list[Request]] = {}
    for request in requests(con, kinds):  # the same question about every region or cluster: one batch
        groups.setdefault((request.kind, params_key(request.params)), []).append(request)
    pending: list[tuple] = []
    stored = size = 0
    with memo({}):  # one unchanging version while the answers are computed: its facts are kept
        for part in _parts(groups):
            kind, params = part[0].kind, part[0].params
            between = (part[0].item, part[-1].item) if kind == "region" else None
            try:
                answers = batch(con, kind, params, between)
            except InputError:
                continue
            except Exception:  # as for one answer (_answers): the live queries answer instead
                log.warning("not stored: %s %s", kind, params, exc_info=True)
                continue
            for request in part:
                if request.item not in answers:
                    continue
                key = params_key(request.params)
                for lang, meta, body, notes in _answers(answers[request.item], request):
                    pending.append((run_id, request.kind, request.item, key, lang, bases[request.kind], meta, body,
                                    notes))
                    size += len(body) + len(notes or "")
                if size >= FLUSH_BYTES:
                    stored += _insert(con, pending)
                    pending, size = [], 0
    return stored + _insert(con, pending)


def _parts(groups: dict[tuple[str, str], list[Request]]) -> Iterator[list[Request]]:
    """The requests of each group (one kind, one set of parameters) in the parts one batch answers: all of a
    group at once, but region profiles :data:`REGION_PART` regions at a time (in the order of their ids, as
    :func:`requests` lists them), so that the tables a batch holds do not grow with the atlas."""
    for (kind, _key), group in groups.items():
        size = REGION_PART if kind == "region" else len(group)
        for start in range(0, len(group), max(size, 1)):
            yield group[start:start + size]


def _insert(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> int:
    """Append ``rows`` (run_id, kind, item, params, lang, basis, meta, body, notes) to the table; their
    number."""
    if not rows:
        return 0
    names = ("run_id", "kind", "item", "params", "lang", "basis", "meta", "body", "notes")
    columns = list(zip(*rows, strict=True))
    incoming = pa.table({n: _binary(c) if n == "body" else pa.array(c, pa.string())
                         for n, c in zip(names, columns, strict=True)})
    con.register("__answers", incoming)
    try:
        con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM __answers")
    finally:
        con.unregister("__answers")
    return len(rows)


def _binary(values: tuple[bytes, ...]) -> pa.Array:
    """``values`` as one Arrow binary array, built from one joined buffer and its offsets (``pa.array`` of
    bytes objects takes seconds for the ~100 MB of a large atlas' profiles)."""
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), len(values),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))])


def refresh_answers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Recompute the stored answers of every kind whose basis a write has changed (nothing when none has);
    the kinds recomputed. For the end of a write, in its own transaction."""
    if TABLE not in tables(con):
        return []
    run_id = _latest_run_id(con)
    if run_id is None:
        return []
    stale = []
    for kind in BASIS:
        held = {r[0] for r in con.execute(f"SELECT DISTINCT basis FROM {TABLE} WHERE kind = ? AND run_id = ?",
                                          [kind, run_id]).fetchall()}
        if held and held != {basis_of(con, kind)}:
            stale.append(kind)
    if stale:
        store_answers(con, run_id, tuple(stale))
    return stale
