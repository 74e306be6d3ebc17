"""Where a command's time goes: wall and CPU time of each of its stages (issue 21 item 5).

A command opens a :func:`recording`; the code it runs marks its stages with
:func:`stage` (``with stage("duplicates"): ...``). Outside a recording a stage
costs two context-variable lookups and records nothing, so the library pays
nothing for it. Inside one, a stage costs two ``time.perf_counter`` and two
``time.process_time`` calls: cheap beside the SQL step it wraps.

Stages are flat: a stage entered inside another is part of the outer one
(not recorded twice), so the stages never add up to more than the time
recorded. The same stage entered twice (the code check of two columns)
adds up. Stage keys are stable English words, used in the JSON the benchmark
harness reads (``CLUSTERATLAS_TIMINGS=path.json``); :func:`stage_label` says
them in the user's language for ``--timings``.

CPU time is the process's (every thread: DuckDB's workers included), so on
2 cores a stage's CPU time may exceed its wall time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from rich.cells import cell_len  # Japanese text is two cells a character

from clusteratlas.i18n import _

#: The environment variable naming a JSON file the command writes its timings to (for the benchmark harness).
ENV = "CLUSTERATLAS_TIMINGS"


@dataclass
class Stage:
    """One stage of a command: its key, wall seconds and CPU seconds (summed over its entries)."""

    key: str
    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class Timings:
    """The stages of one command, in the order they first ran, and its time from start to :meth:`finish`."""

    command: str
    stages: dict[str, Stage] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    #: When the recording started, in seconds since the epoch: beside the time a process was launched, what
    #: its start-up took (Python, the imports, the arguments).
    started_at: float = field(default_factory=time.time)
    #: The CPU time the process had used when the recording started (its start-up's).
    startup_cpu: float = field(default_factory=time.process_time)
    _started: tuple[float, float] = field(default_factory=lambda: (time.perf_counter(), time.process_time()))
    _depth: int = 0

    def add(self, key: str, wall: float, cpu: float) -> None:
        """Add one entry of stage ``key``."""
        found = self.stages.setdefault(key, Stage(key))
        found.wall += wall
        found.cpu += cpu

    def finish(self) -> Timings:
        """Record the time since the recording started (the command's own time, without Python's start-up)."""
        self.wall = time.perf_counter() - self._started[0]
        self.cpu = time.process_time() - self._started[1]
        return self

    def as_dict(self) -> dict:
        """The timings as JSON-ready data: seconds rounded to milliseconds."""
        return {"command": self.command, "started_at": round(self.started_at, 3),
                "startup_cpu": round(self.startup_cpu, 3),
                "wall": round(self.wall, 3), "cpu": round(self.cpu, 3),
                "stages": [{"stage": s.key, "wall": round(s.wall, 3), "cpu": round(s.cpu, 3)}
                           for s in self.stages.values()]}


_current: ContextVar[Timings | None] = ContextVar("clusteratlas_timings", default=None)


@contextlib.contextmanager
def recording(command: str) -> Iterator[Timings]:
    """Record the stages run inside this block; the :class:`Timings` are finished when it ends."""
    timings = Timings(command)
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)
        timings.finish()


@contextlib.contextmanager
def stage(key: str) -> Iterator[None]:
    """Time the block as stage ``key`` of the current recording (nothing when none is open or inside a stage)."""
    timings = _current.get()
    if timings is None or timings._depth:
        yield
        return
    timings._depth += 1
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        timings._depth -= 1
        timings.add(key, time.perf_counter() - wall, time.process_time() - cpu)


def stage_label(key: str) -> str:
    """What stage ``key`` does, in the current language (the key itself for a stage without a label)."""
    labels = {
        "open atlas": _("open the atlas (lock, connect, schema)"),
        "open file": _("open the file and name its columns"),
        "plain codes": _("codes: are the distinct codes already plain?"),
        "count": _("count the rows"),
        "codes": _("codes: the code rule on distinct values"),
        "values": _("values: empty, numbers, negatives, limits, years, flags"),
        "recode": _("recode regions through the concordance"),
        "duplicates": _("duplicate keys"),
        "consistency": _("consistency within the file (types, names)"),
        "other datasets": _("keys already in another dataset"),
        "references": _("references: unknown regions, parents, years"),
        "store": _("store the rows (type and insert)"),
        "region totals": _("store the file's region totals"),
        "checksum": _("file checksum and import log"),
        "commit": _("commit"),
        "answers": _("renew stored answers"),
        "close": _("close the atlas (checkpoint)"),
        "inputs": _("read the inputs (definition, regions, reference)"),
        "map": _("map: group, rate, store the cluster results"),
        "results": _("store the region results and the run"),
        "stored answers": _("store the common answers"),
    }
    return labels.get(key, key)


def render(timings: Timings) -> str:
    """The timings as a plain text table: stage, wall s, CPU s, share of the command's wall time."""
    total = timings.wall or sum(s.wall for s in timings.stages.values())
    rows = [(stage_label(s.key), f"{s.wall:,.2f}", f"{s.cpu:,.2f}",
             f"{100 * s.wall / total:.0f} %" if total else "") for s in timings.stages.values()]
    rest = total - sum(s.wall for s in timings.stages.values())
    rest_cpu = timings.cpu - sum(s.cpu for s in timings.stages.values())
    rows.append((_("rest (Python, reporting)"), f"{max(rest, 0):,.2f}", f"{max(rest_cpu, 0):,.2f}",
                 f"{100 * max(rest, 0) / total:.0f} %" if total else ""))
    rows.append((_("total"), f"{timings.wall:,.2f}", f"{timings.cpu:,.2f}", "100 %"))
    header = (_("stage"), _("wall s"), _("CPU s"), _("share"))
    widths = [max(cell_len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0] + " " * (widths[0] - cell_len(cells[0]))
        rest = (" " * (w - cell_len(c)) + c for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    title = _("Timings of '{command}'").format(command=timings.command)
    return "\n".join([title, line(header), *(line(r) for r in rows)])


def write_json(timings: Timings, path: str | os.PathLike[str]) -> None:
    """Write the timings as JSON to ``path`` (the benchmark harness reads it)."""
    Path(path).write_text(json.dumps(timings.as_dict(), ensure_ascii=False) + "\n", encoding="utf-8")

