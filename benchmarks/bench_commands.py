"""Benchmark of the commands users run, end to end, against a plain-SQL floor.

Every step is a separate process started from here exactly as a user would
type it (`clusteratlas ...`), and the floor (benchmarks/floor.py: plain DuckDB
SQL that loads the Parquet file into a typed table, runs the key checks and
groups into region × cluster × year) is a process of its own too. For each
process: wall time from start to exit, CPU time (user + system), and peak
resident memory (ru_maxrss that os.wait4 returns for that one child: its own
high-water mark, not the harness's and not a sum). Each step runs --runs
times (default 2); the table gives the min–max of the runs and the ratio to
the floor of the same run.

Steps, in order, in each run:
  floor                 python benchmarks/floor.py DATA DEFS floor.duckdb
  init                  clusteratlas init --atlas A --force
  import definitions    clusteratlas import definitions DEFS --atlas A --name bench
  import observations   clusteratlas import observations DATA --atlas A --name bench
  map                   clusteratlas map --atlas A --definition bench
  import weights        clusteratlas import weights W --atlas A        (analyses)
  relate                clusteratlas relate --atlas A --by industry    (analyses)
  hotspots              clusteratlas hotspots --atlas A --by industry  (analyses)
  stateless map         clusteratlas map --data DATA --clusters DEFS --out OUT.parquet

Input: the seeded synthetic economy of benchmarks/bench_map.py (generated once
into benchmarks/data/), 1,000 industries × 20 years × (rows / 20,000) regions,
and a queen-lattice neighbour file for the regions.

    PYTHONPATH=src python benchmarks/bench_commands.py --rows 6M
    PYTHONPATH=src python benchmarks/bench_commands.py --rows 60M --doc docs/benchmarks.md

The import and the map also time their own stages (reading, each check,
storing; see clusteratlas.timings): each command runs with
CLUSTERATLAS_TIMINGS=<log>.timings.json, and a second table gives each
stage's wall and CPU time and its share of the step's wall time.

The Markdown table is printed and written to benchmarks/results/commands-<rows>.md
(raw figures in the .json beside it); with --doc it also replaces the block
between `<!-- bench_commands:<rows> -->` and `<!-- /bench_commands:<rows> -->`
in that file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_map import generate  # noqa: E402  (the one generator of the benchmark economy)

INDUSTRIES, YEARS = 1000, 20
SCALES = {"6M": 6_000_000, "60M": 60_000_000, "600M": 600_000_000}
GROUPS = ("floor", "pipeline", "analyses", "stateless")
#: The steps whose stage timings the second table gives (the others' are a second or two of start-up).
TIMED_STEPS = ("import-observations", "map")


@dataclass(frozen=True)
class Step:
    """One command of the benchmark: a key, what the table calls it, its group and its arguments."""

    key: str
    label: str
    group: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Files:
    """The inputs and outputs of one scale."""

    data: Path
    definitions: Path
    weights: Path
    atlas: Path
    floor_db: Path
    stateless_out: Path


def parse_rows(text: str) -> int:
    """'6M', '60M', '600M' or a number of rows that 1,000 industries × 20 years divides."""
    rows = SCALES.get(text.upper()) or int(text.replace(",", "").replace("_", ""))
    if rows <= 0 or rows % (INDUSTRIES * YEARS):
        raise argparse.ArgumentTypeError(f"--rows must be a positive multiple of {INDUSTRIES * YEARS:,}")
    return rows


def rows_label(rows: int) -> str:
    """6000000 -> '6M' (the name of the results files and of the doc block)."""
    return f"{rows // 1_000_000}M" if rows % 1_000_000 == 0 else str(rows)


def lattice(regions: int) -> tuple[int, int]:
    """The most nearly square grid rows × cols with exactly `regions` cells."""
    cols = max(c for c in range(1, math.isqrt(regions) + 1) if regions % c == 0)
    return regions // cols, cols


def write_queen_weights(path: Path, regions: int) -> None:
    """Neighbours on a queen lattice (up to 8, like county adjacency), ids as the generator writes them."""
    import duckdb

    rows, cols = lattice(regions)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT 'R' || lpad(a.r::VARCHAR, 5, '0') AS region, 'R' || lpad(b.r::VARCHAR, 5, '0') AS neighbor,
               1.0 AS weight
        FROM range({regions}) a(r), range({regions}) b(r)
        WHERE a.r <> b.r AND abs(a.r // {cols} - b.r // {cols}) <= 1 AND abs(a.r % {cols} - b.r % {cols}) <= 1
        ORDER BY a.r, b.r
    ) TO '{path}' (HEADER)""")
    con.close()
    assert rows * cols == regions


def files_for(workdir: Path, rows: int) -> Files:
    """The inputs and outputs of one scale, by name."""
    regions = rows // (INDUSTRIES * YEARS)
    data = workdir / f"obs_{regions}x{INDUSTRIES}x{YEARS}.parquet"
    label = rows_label(rows)
    return Files(data=data, definitions=data.with_suffix(".defs.csv"), weights=workdir / f"weights_{regions}.csv",
                 atlas=workdir / f"atlas_{label}.duckdb", floor_db=workdir / f"floor_{label}.duckdb",
                 stateless_out=workdir / f"map_{label}.parquet")


def make_inputs(workdir: Path, rows: int) -> None:
    """Generate the inputs once (later runs reuse them). Runs in a child process: see `measure`."""
    f = files_for(workdir, rows)
    if not f.data.exists():
        print(f"generating {f.data} ...", flush=True)
        generate(f.data, rows // (INDUSTRIES * YEARS), INDUSTRIES, YEARS)
    if not f.weights.exists():
        write_queen_weights(f.weights, rows // (INDUSTRIES * YEARS))


def steps(cli: str, python: str, f: Files) -> list[Step]:
    """The commands, in the order they run within one run."""
    atlas = ("--atlas", str(f.atlas))
    return [
        Step("floor", "floor: plain DuckDB SQL (load, checks, group)", "floor",
             (python, str(HERE / "floor.py"), str(f.data), str(f.definitions), str(f.floor_db))),
        Step("init", "`init`", "pipeline", (cli, "init", *atlas, "--force")),
        Step("import-definitions", "`import definitions`", "pipeline",
             (cli, "import", "definitions", str(f.definitions), *atlas, "--name", "bench")),
        Step("import-observations", "`import observations`", "pipeline",
             (cli, "import", "observations", str(f.data), *atlas, "--name", "bench")),
        Step("map", "`map` (atlas)", "pipeline", (cli, "map", *atlas, "--definition", "bench")),
        Step("import-weights", "`import weights`", "analyses", (cli, "import", "weights", str(f.weights), *atlas)),
        Step("relate", "`relate --by industry`", "analyses", (cli, "relate", *atlas, "--by", "industry")),
        Step("hotspots", "`hotspots --by industry`", "analyses", (cli, "hotspots", *atlas, "--by", "industry")),
        Step("stateless-map", "`map --data … --clusters … --out …` (stateless)", "stateless",
             (cli, "map", "--data", str(f.data), "--clusters", str(f.definitions), "--out", str(f.stateless_out))),
    ]


def own_peak_kib() -> int:
    """This process's own high-water mark of resident memory, in KiB: what a child it starts inherits.

    /proc/self/status VmHWM, which starts afresh at exec; ru_maxrss of
    RUSAGE_SELF would also carry the high-water mark inherited from whoever
    started this process (e.g. a test runner) and overstate it.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(argv: tuple[str, ...], log: Path, env: dict[str, str], timings: Path | None = None) -> dict:
    """Run one command as a child process; its wall time, CPU time, peak RSS and exit code.

    os.wait4 gives the rusage of this one child: its ru_maxrss is the child's
    own peak (or that of a process it waited for, if larger; the commands here
    start none). One catch on Linux: a child inherits, across fork/vfork and
    exec, the high-water mark of the process that started it, so the figure
    is max(the harness's own peak, the child's). The harness therefore keeps
    itself small (no DuckDB in this process: inputs are made by a child) and
    records its own peak beside each figure; a figure not above it is only an
    upper bound, and the table marks it "≤".

    With ``timings``, the command is asked to write its stage timings there
    (CLUSTERATLAS_TIMINGS) and they are returned as ``stages`` when it did.
    """
    load = os.getloadavg()[0]
    if timings is not None:
        timings.unlink(missing_ok=True)
        env = {**env, "CLUSTERATLAS_TIMINGS": str(timings)}
    harness = own_peak_kib()
    launched_at = time.time()  # beside the command's own start (its timings' started_at): its start-up
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait for it again
    figures = {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
               "peak_gib": round(usage.ru_maxrss / 1024**2, 3), "exit_code": proc.returncode,
               "load_before": round(load, 2), "harness_peak_gib": round(harness / 1024**2, 3),
               "upper_bound": usage.ru_maxrss <= harness, "launched_at": round(launched_at, 3)}
    stages = read_stages(timings) if timings is not None and not proc.returncode else None
    if stages is not None:
        figures["stages"] = stages
    return figures


def read_stages(path: Path) -> dict | None:
    """The stage timings a command wrote (CLUSTERATLAS_TIMINGS), or None when it wrote none.

    Kept as written: {"command", "wall", "cpu", "stages": [{"stage", "wall", "cpu"}, ...]}, seconds. A file
    that is not such timings is an error (a harness that silently dropped them would hide a broken command).
    """
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, list) or not all(
            isinstance(s, dict) and isinstance(s.get("stage"), str) and s["stage"]
            and isinstance(s.get("wall"), int | float) and isinstance(s.get("cpu"), int | float) for s in stages):
        raise ValueError(f"{path}: not the stage timings of a clusteratlas command")
    return {"command": data.get("command", ""), "started_at": data.get("started_at"),
            "startup_cpu": data.get("startup_cpu"), "wall": data.get("wall"), "cpu": data.get("cpu"),
            "stages": stages}


def _startup(run: dict) -> tuple[float, float] | None:
    """A command's start-up, (wall, CPU) seconds: from its launch to the first line of the command (Python, the
    imports, the arguments), and the CPU time it had used by then; None when its timings do not say."""
    timed = run["stages"]
    if not (timed.get("started_at") and run.get("launched_at")):
        return None
    return max(timed["started_at"] - run["launched_at"], 0.0), timed.get("startup_cpu") or 0.0


def stage_table(table: list[dict]) -> list[str]:
    """Markdown lines: per step that timed its stages, each stage's wall and CPU time (min–max over the runs)
    and its share of the step's wall time (the process's, measured from outside); then the start-up (from
    the launch to the command's first line: Python, the imports, the arguments) and the rest no stage covers
    (the report, the exit). Empty when no step timed its stages."""
    lines = []
    for r in table:
        runs = [run for run in r["runs"] if run.get("stages") and run["exit_code"] == 0]
        if not runs or r["key"] not in TIMED_STEPS:
            continue
        keys = list(dict.fromkeys(s["stage"] for run in runs for s in run["stages"]["stages"]))
        for key in keys:
            found = [(next((s for s in run["stages"]["stages"] if s["stage"] == key), None), run) for run in runs]
            found = [(s, run) for s, run in found if s is not None]
            lines.append(f"| {r['label']} | {key} | {_span([s['wall'] for s, _ in found], 2)} | "
                         f"{_span([s['cpu'] for s, _ in found], 2)} | "
                         f"{_span([100 * s['wall'] / run['seconds'] for s, run in found if run['seconds']], 0)} % |")
        startup = [_startup(run) for run in runs]
        if all(startup):
            shares = [100 * w / run["seconds"] for (w, _), run in zip(startup, runs, strict=True) if run["seconds"]]
            lines.append(f"| {r['label']} | *start-up (Python, imports, arguments)* | "
                         f"{_span([w for w, _ in startup], 2)} | {_span([c for _, c in startup], 2)} | "
                         f"{_span(shares, 0)} % |")
        rest = [(run["seconds"] - (first or (0, 0))[0] - sum(s["wall"] for s in run["stages"]["stages"]),
                 run["cpu_seconds"] - (first or (0, 0))[1] - sum(s["cpu"] for s in run["stages"]["stages"]), run)
                for first, run in zip(startup, runs, strict=True)]
        label = "*the rest (report, exit)*" if all(startup) else "*start-up and the rest (no stage)*"
        lines.append(f"| {r['label']} | {label} | "
                     f"{_span([max(w, 0) for w, _, _ in rest], 2)} | {_span([max(c, 0) for _, c, _ in rest], 2)} | "
                     f"{_span([100 * max(w, 0) / run['seconds'] for w, _, run in rest if run['seconds']], 0)} % |")
    if not lines:
        return []
    return ["", "Stages inside the commands (their own timers, `CLUSTERATLAS_TIMINGS`; share of the step's wall "
            "time as measured above; min–max over the runs):", "",
            "| step | stage | wall time (s) | CPU time (s) | share of the step |", "|---|---|---:|---:|---:|", *lines]


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return " / ".join(text[-lines:])


def machine_facts(cli: str, env: dict[str, str]) -> dict:
    """Cores, memory, CPU model, versions: what a reader needs to compare figures."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, env=env, check=False)
    def git(*words: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *words], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    commit = head + (" with uncommitted changes in src/" if head and git("status", "--porcelain", "src") else "")
    return {"date": dt.date.today().isoformat(), "cores": os.cpu_count(), "cpu": cpu,
            "memory_gib": round(mem_kib / 1024**2, 1), "os": platform.platform(),
            "python": platform.python_version(), "duckdb": subprocess.run(
                [sys.executable, "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True,
                env=env, check=False).stdout.strip() or "?",
            "clusteratlas": ((version.stdout.strip() or "?").splitlines()[-1].split() or ["?"])[-1],
            "commit": commit or "?"}


def shown(argv: tuple[str, ...], cli: str, python: str) -> str:
    """A command as a user types it: `clusteratlas`/`python` by name, paths relative to the repository."""
    words = []
    for word in argv:
        if word == cli:
            word = "clusteratlas"
        elif word == python:
            word = "python"
        else:
            path = Path(word)
            if path.is_absolute() and path.is_relative_to(ROOT):
                word = str(path.relative_to(ROOT))
        words.append(word)
    return " ".join(words)


def _span(values: list[float], digits: int) -> str:
    low, high = f"{min(values):,.{digits}f}", f"{max(values):,.{digits}f}"
    return low if low == high else f"{low}–{high}"


def markdown(rows: int, facts: dict, table: list[dict], commands: list[str]) -> str:
    """The results as Markdown: facts, one row per step (min–max of the runs, × floor), and the commands."""
    runs = max((len(r["runs"]) for r in table), default=0)
    loads = [run["load_before"] for r in table for run in r["runs"]]
    harness = max((run.get("harness_peak_gib", 0) for r in table for run in r["runs"]), default=0)
    regions = rows // (INDUSTRIES * YEARS)
    lines = [f"{rows:,} rows ({regions:,} regions × {INDUSTRIES:,} industries × {YEARS} years); "
             f"measured {facts['date']}, {runs} run{'s' if runs > 1 else ''} of each step; "
             f"clusteratlas {facts['clusteratlas']} ({facts['commit']}), Python {facts['python']}, "
             f"DuckDB {facts['duckdb']}; {facts['cores']} cores ({facts['cpu']}), {facts['memory_gib']} GiB, "
             f"{facts['os']}; 1-minute load average at step starts {_span(loads, 1)}; "
             f"the harness's own peak RSS {harness:.3f} GiB (no figure below can be smaller).",
             "",
             "| step | wall time (s) | × floor | CPU time (s) | × floor | peak RSS (GiB) | × floor |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        ok = [run for run in r["runs"] if run["exit_code"] == 0]
        if len(ok) < len(r["runs"]):
            failed = next(run for run in r["runs"] if run["exit_code"] != 0)
            lines.append(f"| {r['label']} | failed (exit {failed['exit_code']}): {failed['error']} | | | | | |")
            continue
        cells = [_span([x["seconds"] for x in ok], 1), _span(r["time_ratio"], 2) if r["time_ratio"] else "",
                 _span([x["cpu_seconds"] for x in ok], 1), _span(r["cpu_ratio"], 2) if r["cpu_ratio"] else "",
                 ("≤ " if any(x.get("upper_bound") for x in ok) else "") + _span([x["peak_gib"] for x in ok], 2),
                 _span(r["memory_ratio"], 2) if r["memory_ratio"] else ""]
        label = f"**{r['label']}**" if r.get("total") else r["label"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    floor = next((r for r in table if r["key"] == "floor"), None)
    inside = [run["inside"]["stages"] for run in floor["runs"] if "inside" in run] if floor else []
    if inside:
        lines += ["", "Inside the floor (its own timers): " + ", ".join(
            f"{stage} {_span([s[stage] for s in inside], 1)} s" for stage in inside[0]) + "."]
    lines += stage_table(table)
    lines += ["", "Commands (from the repository root; `PYTHONPATH=src` when run from a checkout):", "",
              "```bash", *commands, "```"]
    return "\n".join(lines) + "\n"


def summarise(results: dict[str, dict], order: list[Step]) -> list[dict]:
    """Per step: its runs and its ratios to the floor of the same run; plus the pipeline total."""
    floor = results.get("floor")

    def ratios(runs: list[dict], field: str) -> list[float]:
        if not floor or any(r["exit_code"] for r in runs + floor["runs"]):
            return []
        return [run[field] / base[field] for run, base in zip(runs, floor["runs"], strict=False) if base[field]]

    table = []
    for step in order:
        if step.key not in results:
            continue
        runs = results[step.key]["runs"]
        table.append({"key": step.key, "label": step.label, "runs": runs,
                      "time_ratio": ratios(runs, "seconds") if step.key != "floor" else [1.0],
                      "cpu_ratio": ratios(runs, "cpu_seconds") if step.key != "floor" else [1.0],
                      "memory_ratio": ratios(runs, "peak_gib") if step.key != "floor" else [1.0]})
        if step.key == "map" and all(k in results for k in ("init", "import-definitions", "import-observations")):
            parts = [results[k]["runs"] for k in ("init", "import-definitions", "import-observations", "map")]
            total = [{"seconds": round(sum(p[i]["seconds"] for p in parts), 2),
                      "cpu_seconds": round(sum(p[i]["cpu_seconds"] for p in parts), 2),
                      "peak_gib": max(p[i]["peak_gib"] for p in parts),
                      "exit_code": max(abs(p[i]["exit_code"]) for p in parts),
                      "load_before": parts[0][i]["load_before"],
                      "error": next((p[i].get("error", "") for p in parts if p[i]["exit_code"]), "")}
                     for i in range(min(len(p) for p in parts))]
            table.append({"key": "pipeline-total", "total": True,
                          "label": "init + import definitions + import observations + map (sum; peak: largest)",
                          "runs": total, "time_ratio": ratios(total, "seconds"),
                          "cpu_ratio": ratios(total, "cpu_seconds"),
                          "memory_ratio": ratios(total, "peak_gib")})
    return table


def update_doc(doc: Path, label: str, text: str) -> None:
    """Replace the block between the bench_commands markers for this scale."""
    start, end = f"<!-- bench_commands:{label} -->", f"<!-- /bench_commands:{label} -->"
    content = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.S)
    if not pattern.search(content):
        raise SystemExit(f"{doc} has no block {start} ... {end} to replace")
    doc.write_text(pattern.sub(lambda _: f"{start}\n{text}{end}", content), encoding="utf-8")


def default_cli() -> str:
    found = shutil.which("clusteratlas", path=str(Path(sys.executable).parent)) or shutil.which("clusteratlas")
    if not found:
        raise SystemExit("no clusteratlas command found: install the package or pass --cli")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=parse_rows, default=SCALES["6M"],
                        help="6M, 60M, 600M or a multiple of 20,000 (default 6M)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each step (default 2)")
    parser.add_argument("--groups", nargs="*", choices=GROUPS, default=list(GROUPS),
                        help="which steps: floor, pipeline (init, imports, map), analyses (weights, relate, "
                        "hotspots; need the pipeline), stateless")
    parser.add_argument("--workdir", type=Path, default=HERE / "data", help="inputs, atlases and logs")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where the .md and .json go")
    parser.add_argument("--cli", default=None, help="the clusteratlas command (default: beside this Python)")
    parser.add_argument("--doc", type=Path, help="also replace this scale's block in this Markdown file")
    parser.add_argument("--make-inputs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--render-only", action="store_true",
                        help="run nothing: render the table again from the .json of an earlier run")
    args = parser.parse_args()
    label = rows_label(args.rows)
    if args.render_only:
        saved = json.loads((args.results / f"commands-{label}.json").read_text(encoding="utf-8"))
        order = [s for s in steps("clusteratlas", "python", Files(*[Path()] * 6)) if s.key in saved["steps"]]
        return report(args, saved["machine"], saved["steps"], order, write_json=False)
    if "analyses" in args.groups and "pipeline" not in args.groups:
        parser.error("the analyses group needs the pipeline group (it works on the atlas the pipeline makes)")

    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.make_inputs:
        make_inputs(args.workdir, args.rows)
        return 0
    cli, python = args.cli or default_cli(), sys.executable
    env = {k: v for k, v in os.environ.items() if k != "CLUSTERATLAS_MEMORY_LIMIT"}  # DuckDB's default limit
    logs = args.workdir / "logs"
    logs.mkdir(exist_ok=True)
    files = files_for(args.workdir, args.rows)
    subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--workdir", str(args.workdir),
                    "--make-inputs"], check=True)  # in a child, so DuckDB's memory never enters this process
    facts = machine_facts(cli, env)
    order = [s for s in steps(cli, python, files) if s.group in args.groups]

    results: dict[str, dict] = {}
    for run in range(1, args.runs + 1):
        for path in (files.atlas, files.floor_db, files.stateless_out):
            path.unlink(missing_ok=True)
        broken = False
        for step in order:
            if broken and step.group in ("pipeline", "analyses"):
                continue  # a later step cannot run on an atlas an earlier one failed to build
            log = logs / f"{label}-{step.key}-run{run}.log"
            print(f"run {run}: {shown(step.argv, cli, python)}", flush=True)
            figures = measure(step.argv, log, env, timings=log.with_suffix(".timings.json")
                              if step.key in TIMED_STEPS else None)
            if figures["exit_code"]:
                figures["error"] = _tail(log)
                broken = broken or step.group == "pipeline"
            print(f"    {figures['seconds']:.1f} s, CPU {figures['cpu_seconds']:.1f} s, "
                  f"peak {figures['peak_gib']:.2f} GiB, exit {figures['exit_code']}", flush=True)
            if step.key == "floor" and not figures["exit_code"]:
                figures["inside"] = json.loads(log.read_text().strip().splitlines()[-1])
            results.setdefault(step.key, {"command": shown(step.argv, cli, python), "runs": []})
            results[step.key]["runs"].append(figures)

    return report(args, facts, results, order, write_json=True)


def report(args: argparse.Namespace, facts: dict, results: dict[str, dict], order: list[Step],
           write_json: bool) -> int:
    """Print the Markdown, write it (and the raw figures) to --results, update --doc; 1 if a step failed."""
    label = rows_label(args.rows)
    table = summarise(results, order)
    commands = [results[s.key]["command"] for s in order if s.key in results]
    text = markdown(args.rows, facts, table, commands)
    print("\n" + text)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"commands-{label}.md").write_text(text, encoding="utf-8")
    if write_json:
        (args.results / f"commands-{label}.json").write_text(
            json.dumps({"rows": args.rows, "machine": facts, "steps": results}, indent=1, ensure_ascii=False)
            + "\n", encoding="utf-8")
    if args.doc:
        update_doc(args.doc, label, text)
    return 1 if any(run["exit_code"] for r in results.values() for run in r["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
