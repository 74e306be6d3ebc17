"""The few things the metrics need from the engine that runs them.

Metrics are Narwhals expressions and run unchanged on DuckDB (default),
Polars and Spark. Only materialising an intermediate result, so that it is
computed once and reused by several later steps, differs by engine.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import narwhals as nw

_names = itertools.count()

#: Memory to allow per output row of a grouping when cutting it into parts (see Engine.region_parts).
#: Measured on the map's first grouping (600 M rows, 718 MB limit): 3.65 M groups per statement
#: worked, 6.7 M did not (110-200 bytes a group). Near the limit DuckDB's hash tables slow down
#: before they fail: the same grouping in parts of 1.8 M groups (400 bytes a group) took 63 s, in
#: parts of 1.2 M (600) 45 s, of 0.9 M (800) 46 s; at 60 M rows 3 or 4 parts take the same time.
BYTES_PER_GROUP = 600
#: Memory to allow per row for the peer thresholds' exact quantiles (see Engine.quantile_batches): DuckDB keeps every
#: value of a group until it finishes, and cannot spill them. Nine quantiles over 4 M rows took 420 MB more
#: (105 bytes a row), 16 M rows ran out of memory at 750 MB; this leaves room for the rest of the statement.
QUANTILE_BYTES_PER_ROW = 200
#: Results stored in more parts than this are not sorted (see Engine.checkpoint_parts): 60 M
#: observations make 4 parts at the default limit and are sorted; 600 M make 33 and are not.
MAX_SORTED_PARTS = 4
_UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
          "EB": 10**18, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40, "PIB": 1 << 50,
          "EIB": 1 << 60}


def distinct(frame: nw.LazyFrame, column: str) -> list:
    """The distinct values of one column, sorted.

    A GROUP BY, not Narwhals' ``unique()``, which DuckDB runs as a window
    over every row (600 M rows did not fit in memory).
    """
    values = frame.group_by(column).agg(nw.len()).select(column).sort(column).collect()
    return values[column].to_list()


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's current memory limit in bytes (it reports it as text such as '715.2 MiB')."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    match = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", str(text))
    if match is None or match.group(2).upper() not in _UNITS:
        raise ValueError(f"unreadable DuckDB memory limit: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass
class Engine:
    """Where intermediate results are kept: a DuckDB connection, or in memory.

    With a DuckDB connection, :meth:`checkpoint` writes a temp table (which
    DuckDB can spill to disk) and :meth:`release` drops it. Without one,
    Polars frames are collected and Spark frames checkpointed on the executors.
    """

    con: duckdb.DuckDBPyConnection | None = None
    _tables: dict[int, str] = field(default_factory=dict)
    _spark: dict[int, object] = field(default_factory=dict)

    def checkpoint(self, frame: nw.LazyFrame, table: str | None = None,
                   order_by: tuple[str, ...] = (), *, _part_order: tuple[str, ...] = ()) -> nw.LazyFrame:
        """Compute ``frame`` once and return a lazy frame over the stored result.

        Without this, DuckDB would re-run the plan for every later use of the
        frame (Narwhals emits non-materialised CTEs). With ``table`` (DuckDB
        only) the result is stored in that permanent table instead of a temp
        one, which saves copying a large result once more. ``order_by``
        (DuckDB only) stores the rows sorted by these columns, so DuckDB's
        per-row-group min/max statistics skip most of the table for a filter
        on them (a region's or a cluster's rows of one level and year).
        """
        impl = frame.implementation
        native = frame.to_native()
        if impl is nw.Implementation.DUCKDB:
            name = table or f"__checkpoint_{next(_names)}"
            kind = "TABLE" if table else "TEMP TABLE"
            native.query("__cp_src", f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM __cp_src"
                                     f"{_order_clause(_part_order)}")
            if order_by and self.con is not None:
                self._sort(name, kind, order_by)
            if self.con is None:
                return nw.from_native(native.query("__cp_src", f"SELECT * FROM {name}"))
            stored = nw.from_native(self.con.table(name))
            if table is None:
                self._tables[id(stored)] = name
            return stored
        if impl is nw.Implementation.PYSPARK:
            # Computed now and kept on the executors, with the plan cut here: later steps neither
            # recompute it nor re-analyse its (long) logical plan, as they would after cache().
            stored = nw.from_native(native.localCheckpoint(eager=True))
            self._spark[id(stored)] = stored.to_native()
            return stored
        return frame.collect().lazy()

    def region_parts(self, frame: nw.LazyFrame, *, groups_per_region: int) -> list[nw.Expr | None]:
        """Filters that cut ``frame`` into ranges of regions small enough to group within memory.

        Grouping tens of millions of region × cluster × year rows and writing
        them to a table in one DuckDB statement runs out of memory at the
        default limit even though DuckDB spills (600 M observations: 40 M
        groups in 750 MB); in ranges of regions, each statement holds only
        its share. ``groups_per_region`` is how many output rows one region
        gives (clusters × years, an upper bound is fine). Returns ``[None]``
        (no cut) when everything fits, or on engines other than DuckDB.
        """
        if not self.partitions or frame.implementation is not nw.Implementation.DUCKDB:
            return [None]
        regions = distinct(frame, "region")
        budget = max(memory_limit_bytes(self.con) // BYTES_PER_GROUP, 1)
        parts = min(math.ceil(len(regions) * max(groups_per_region, 1) / budget), len(regions))
        if parts <= 1:
            return [None]
        cuts = regions[math.ceil(len(regions) / parts)::math.ceil(len(regions) / parts)]
        region = nw.col("region")
        # Open at both ends, so rows of other regions (parents rolled up from members) fall in a part too.
        return [region < cuts[0], *((region >= lo) & (region < hi) for lo, hi in itertools.pairwise(cuts)),
                region >= cuts[-1]]

    def quantile_batches(self, rows: dict) -> list[list]:
        """Keys of ``rows`` (a key's number of rows, e.g. each year's) in consecutive batches whose exact
        quantiles fit in memory together (:data:`QUANTILE_BYTES_PER_ROW`): as few statements as the memory
        limit allows for work DuckDB cannot spill. Every key alone when there is no limit to go by (not DuckDB)."""
        keys = sorted(rows)
        if self.con is None:
            return [[key] for key in keys]
        budget = max(memory_limit_bytes(self.con) // QUANTILE_BYTES_PER_ROW, 1)
        out: list[list] = []
        held = 0
        for key in keys:
            if out and held + rows[key] <= budget:
                out[-1].append(key)
                held += rows[key]
            else:
                out.append([key])
                held = rows[key]
        return out

    def _sort(self, name: str, kind: str, order_by: tuple[str, ...]) -> None:
        """Store a table's rows sorted, in a second pass: sorting the plan's output at once needs the
        plan's memory and the sort's together (out of memory at 4 M rows within 718 MB)."""
        self.con.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM {name}{_order_clause(order_by)}")

    def checkpoint_parts(self, parts: Iterable[nw.LazyFrame], table: str | None = None,
                         order_by: tuple[str, ...] = (), part_order: tuple[str, ...] = ()) -> nw.LazyFrame:
        """Compute frames with the same columns and keep them stacked as one result.

        On DuckDB each part is its own statement (the first creates the
        table, the others append), so only one part's working memory is
        needed at a time: this is how aggregates that cannot spill to disk
        (exact quantiles keep every value of a group) stay within the
        memory limit on any number of rows. Other engines stack the parts
        and compute them together. ``order_by`` sorts the stored rows: one
        part in a second pass (sorting a whole plan's output at once needs
        the plan's memory and the sort's together); up to
        :data:`MAX_SORTED_PARTS` parts each part as it is written, so the
        table is a run of sorted parts (a filter on the sort columns still
        skips most of each part's row groups) and is not read again (a
        60 M-row map: its results stored in 3.6 s instead of 6.0 s). Above
        that the sorts would spill and cost a third of a 600 M-row map, so
        the rows stay in their parts' order (by ranges of regions when the
        parts are :meth:`region_parts`).

        ``part_order`` (DuckDB, more than :data:`MAX_SORTED_PARTS` parts) writes each part's rows sorted
        by these columns, in the statement that computes it: the table stays in its parts' order (a
        filter on the parts' ranges of regions still skips the other parts' row groups), and a filter on
        these columns (a year) skips most of each part's too, instead of reading the whole table, spilled
        to disk at that size, once more for every year (600 M rows: 2.4 GB a year). With fewer parts the
        table is read from memory and the sorts would cost more than they save (a 60 M-row map: 15.0–15.7 s
        without, 16.1–17.4 s with: `Atlas.map` timed in one process).
        """
        frames = list(parts)
        if not frames:
            raise ValueError("checkpoint_parts needs at least one frame")
        if self.con is None or frames[0].implementation is not nw.Implementation.DUCKDB:
            return self.checkpoint(nw.concat(frames, how="vertical"), table, order_by)
        if len(frames) == 1:
            return self.checkpoint(frames[0], table, order_by)
        if len(frames) <= MAX_SORTED_PARTS:
            part_order = order_by
        first = self.checkpoint(frames[0], table, _part_order=part_order)
        name = table or self._tables.pop(id(first))
        for frame in frames[1:]:
            frame.to_native().query("__cp_src", f"INSERT INTO {name} SELECT * FROM __cp_src"
                                                f"{_order_clause(part_order)}")
        stored = nw.from_native(self.con.table(name))  # bound to the table as its parts were written
        if table is None:
            self._tables[id(stored)] = name
        return stored

    @property
    def partitions(self) -> bool:
        """True where :meth:`checkpoint_parts` computes its parts one at a time (DuckDB)."""
        return self.con is not None

    def release(self, frame: nw.LazyFrame) -> None:
        """Free a :meth:`checkpoint` result that no later step reads."""
        spark_frame = self._spark.pop(id(frame), None)
        if spark_frame is not None:
            spark_frame.unpersist()
        name = self._tables.pop(id(frame), None)
        if name is not None and self.con is not None:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")


def _order_clause(columns: tuple[str, ...]) -> str:
    """`` ORDER BY "a", "b"`` for ``columns`` (nothing for none)."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f" ORDER BY {quoted}" if columns else ""


def safe_ratio(num: nw.Expr, den: nw.Expr) -> nw.Expr:
    """num / den, null where den is zero or null (never inf or NaN)."""
    return nw.when(den > 0).then(num / den)
