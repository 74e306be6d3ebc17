"""The few things the metrics need from the engine that runs them.

Metrics are Narwhals expressions and run unchanged on DuckDB (default),
Polars and Spark. Only materialising an intermediate result, so that it is
computed once and reused by several later steps, differs by engine.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import duckdb
import narwhals as nw

_names = itertools.count()


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
                   order_by: tuple[str, ...] = ()) -> nw.LazyFrame:
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
            native.query("__cp_src", f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM __cp_src")
            if order_by and self.con is not None:  # sorted in a second pass: sorting the plan's output at once
                # needs the plan's memory and the sort's together (out of memory at 4 M rows within 718 MB)
                order = ", ".join(f'"{c}"' for c in order_by)
                self.con.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM {name} ORDER BY {order}")
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

    def release(self, frame: nw.LazyFrame) -> None:
        """Free a :meth:`checkpoint` result that no later step reads."""
        spark_frame = self._spark.pop(id(frame), None)
        if spark_frame is not None:
            spark_frame.unpersist()
        name = self._tables.pop(id(frame), None)
        if name is not None and self.con is not None:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")


def safe_ratio(num: nw.Expr, den: nw.Expr) -> nw.Expr:
    """num / den, null where den is zero or null (never inf or NaN)."""
    return nw.when(den > 0).then(num / den)
