"""The command benchmark harness: runs the user's commands as processes, measures each one, feeds the doc.

No timing is asserted here (benchmarks are not tests); these check that the
harness runs every command to the end, that its memory figure belongs to one
process, and that the tables in docs/benchmarks.md are its output.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "benchmarks" / "bench_commands.py"


def _harness():
    spec = importlib.util.spec_from_file_location("bench_commands", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_commands", module)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules["bench_commands"])
    return sys.modules["bench_commands"]


def test_peak_memory_is_that_of_the_one_process(tmp_path):
    """A small command measured after a large one reports its own peak, not the largest so far.

    Run from a fresh interpreter, as the harness is: a child's ru_maxrss
    starts at its parent's high-water mark, so the measuring process must
    stay small, and says when a figure is not above its own peak.
    """
    script = f"""
import json, sys
sys.path.insert(0, {str(HARNESS.parent)!r})
from bench_commands import measure
from pathlib import Path
big = measure((sys.executable, "-c", "b = b'x' * (400 * 2**20)"), Path({str(tmp_path)!r}) / "big.log", {{}})
small = measure((sys.executable, "-c", "pass"), Path({str(tmp_path)!r}) / "small.log", {{}})
print(json.dumps([big, small]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    big, small = json.loads(done.stdout.strip().splitlines()[-1])
    assert big["exit_code"] == small["exit_code"] == 0
    assert big["peak_gib"] >= 400 / 1024
    assert small["peak_gib"] < 0.1
    assert not big["upper_bound"] and big["harness_peak_gib"] < 0.1


def test_harness_runs_every_command_end_to_end(tmp_path):
    """200,000 rows (10 regions), one run: every step exits 0 and the floor groups every row."""
    done = subprocess.run([sys.executable, str(HARNESS), "--rows", "200000", "--runs", "1",
                           "--workdir", str(tmp_path / "data"), "--results", str(tmp_path / "results")],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    saved = json.loads((tmp_path / "results" / "commands-200000.json").read_text(encoding="utf-8"))
    expected = [s.key for s in _harness().steps("clusteratlas", "python", _harness().Files(*[Path()] * 6))]
    assert list(saved["steps"]) == expected
    for key, step in saved["steps"].items():
        (run,) = step["runs"]
        assert run["exit_code"] == 0, key
        assert run["seconds"] > 0 and run["peak_gib"] > 0, key
    inside = saved["steps"]["floor"]["runs"][0]["inside"]
    assert inside["rows_in"] == 200_000
    assert inside["rows_out"] == 10 * 67 * 20  # region × cluster × year, every industry in a cluster
    table = (tmp_path / "results" / "commands-200000.md").read_text(encoding="utf-8")
    for key in expected:
        assert saved["steps"][key]["command"] in table
    for key in ("import-observations", "map"):  # their own stage timings, within the process's time
        (run,) = saved["steps"][key]["runs"]
        stages = run["stages"]["stages"]
        assert {"open atlas", "store" if key != "map" else "map", "close"} <= {s["stage"] for s in stages}
        assert sum(s["wall"] for s in stages) <= run["stages"]["wall"] + 0.001 * len(stages) <= run["seconds"]
        assert f"| `{key.replace('-', ' ')}`" in table
    assert "| `import observations` | duplicates |" in table
    assert "stages" not in saved["steps"]["floor"]["runs"][0]  # the floor reports its own (inside)


def test_stage_timings_are_read_and_tabled(tmp_path):
    """A command's CLUSTERATLAS_TIMINGS file becomes rows of the stage table: seconds and share of the step."""
    harness = _harness()
    assert harness.read_stages(tmp_path / "none.json") is None  # a command that times nothing
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"command": "import observations", "wall": 9.0, "cpu": 15.0, "stages": [
        {"stage": "values", "wall": 4.0, "cpu": 7.5}, {"stage": "store", "wall": 3.0, "cpu": 5.0}]}))
    stages = harness.read_stages(path)
    runs = [{"seconds": 10.0, "cpu_seconds": 16.0, "peak_gib": 1.0, "exit_code": 0, "load_before": 0.1,
             "stages": stages},
            {"seconds": 8.0, "cpu_seconds": 14.0, "peak_gib": 1.0, "exit_code": 0, "load_before": 0.1,
             "stages": {**stages, "stages": [{"stage": "values", "wall": 2.0, "cpu": 7.0},
                                             {"stage": "store", "wall": 3.0, "cpu": 5.0}]}}]
    lines = harness.stage_table([{"key": "import-observations", "label": "`import observations`", "runs": runs}])
    rows = [line for line in lines if line.startswith("| `import")]
    assert rows == [
        "| `import observations` | values | 2.00–4.00 | 7.00–7.50 | 25–40 % |",  # 2/8 and 4/10 of the step
        "| `import observations` | store | 3.00 | 5.00 | 30–38 % |",  # 3/10 and 3/8
        "| `import observations` | *start-up and the rest (no stage)* | 3.00 | 2.00–3.50 | 30–38 % |",
    ]
    # with the launch time and the command's own start: its start-up apart from the rest
    runs[0] |= {"launched_at": 100.0, "stages": {**runs[0]["stages"], "started_at": 101.2, "startup_cpu": 1.1}}
    runs[1] |= {"launched_at": 200.0, "stages": {**runs[1]["stages"], "started_at": 201.0, "startup_cpu": 1.0}}
    lines = harness.stage_table([{"key": "import-observations", "label": "`import observations`", "runs": runs}])
    assert [line for line in lines if line.startswith("| `import")][2:] == [
        "| `import observations` | *start-up (Python, imports, arguments)* | 1.00–1.20 | 1.00–1.10 | 12 % |",
        "| `import observations` | *the rest (report, exit)* | 1.80–2.00 | 1.00–2.40 | 18–25 % |",  # 10-1.2-7, 8-1-5
    ]
    untimed = [{k: v for k, v in run.items() if k != "stages"} for run in runs]
    assert harness.stage_table([{"key": "init", "label": "`init`", "runs": untimed}]) == []  # none, no table
    path.write_text(json.dumps({"stages": [{"stage": "", "wall": "1"}]}))
    with pytest.raises(ValueError, match="not the stage timings"):
        harness.read_stages(path)


def test_benchmark_doc_tables_are_the_harness_output():
    """Each command table in docs/benchmarks.md is exactly what bench_commands.py wrote for that scale."""
    doc = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"<!-- bench_commands:(\w+) -->\n(.*?)<!-- /bench_commands:\1 -->", doc, flags=re.S))
    assert set(blocks) >= {"6M", "60M"}
    for label, block in blocks.items():
        assert block == (ROOT / "benchmarks" / "results" / f"commands-{label}.md").read_text(encoding="utf-8")
