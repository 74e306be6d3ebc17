"""Issue 21 item 5: the import and the map time their stages (wall and CPU), for users and the benchmark."""

from __future__ import annotations

import json
import time

from clusteratlas import timings
from clusteratlas.i18n import language_for
from tests.conftest import invoke

#: The stages of a generic CSV import of observations, in the order they run.
IMPORT_STAGES = ["open atlas", "open file", "plain codes", "count", "values", "duplicates", "consistency",
                 "other datasets", "references", "store", "region totals", "checksum", "commit", "answers", "close"]
MAP_STAGES = ["open atlas", "inputs", "map", "results", "stored answers", "commit", "answers", "close"]


def test_stages_are_flat_summed_by_key_and_within_the_recording():
    with timings.recording("test") as recorded:
        with timings.stage("a"):
            time.sleep(0.02)
            with timings.stage("inner"):  # part of "a", not recorded again
                time.sleep(0.01)
        with timings.stage("b"):
            time.sleep(0.01)
        with timings.stage("a"):  # the same stage again adds up
            time.sleep(0.01)
        time.sleep(0.01)
    assert list(recorded.stages) == ["a", "b"]
    assert recorded.stages["a"].wall >= 0.04 and recorded.stages["b"].wall >= 0.01
    assert sum(s.wall for s in recorded.stages.values()) <= recorded.wall
    assert recorded.wall >= 0.06
    with timings.stage("outside"):  # no recording: nothing is kept anywhere
        pass
    assert "outside" not in recorded.stages


def _run_with_timings(runner, monkeypatch, path, *args):
    monkeypatch.setenv(timings.ENV, str(path))
    started = time.perf_counter()
    result = invoke(runner, *args)
    outside = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8")), outside


def _adds_up(data: dict, outside: float) -> None:
    stages = data["stages"]
    assert all(s["stage"] and s["wall"] >= 0 and s["cpu"] >= 0 for s in stages)
    # rounded to milliseconds, each stage within the command's own time, the command within the call's
    assert sum(s["wall"] for s in stages) <= data["wall"] + 0.001 * len(stages)
    assert sum(s["cpu"] for s in stages) <= data["cpu"] + 0.001 * len(stages)
    assert data["wall"] <= outside


def test_import_and_map_write_every_stage_as_json(tmp_path, sample_files, runner, monkeypatch):
    atlas = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "import", "definitions", sample_files["definitions"], "--atlas", atlas,
                  "--name", "sample").exit_code == 0
    data, outside = _run_with_timings(runner, monkeypatch, tmp_path / "import.json", "import", "observations",
                                      sample_files["observations"], "--atlas", atlas, "--name", "sample")
    assert data["command"] == "import observations"
    assert [s["stage"] for s in data["stages"]] == IMPORT_STAGES
    _adds_up(data, outside)
    data, outside = _run_with_timings(runner, monkeypatch, tmp_path / "map.json", "map", "--atlas", atlas)
    assert data["command"] == "map"
    assert [s["stage"] for s in data["stages"]] == MAP_STAGES
    _adds_up(data, outside)
    # the map of the sample is most of the command's time: its stages cover it
    assert sum(s["wall"] for s in data["stages"]) >= 0.5 * data["wall"]


def test_timings_table_on_stderr_in_the_language_asked(tmp_path, sample_files, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    plain = invoke(runner, "import", "observations", sample_files["observations"], "--atlas", atlas)
    assert "Timings of" not in plain.output  # only when asked
    result = invoke(runner, "import", "definitions", sample_files["definitions"], "--atlas", atlas, "--timings")
    assert result.exit_code == 0
    assert "Timings of 'import definitions'" in result.stderr
    assert "duplicate keys" in result.stderr
    assert "Timings of" not in result.stdout
    lines = result.stderr.splitlines()
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[-2:] == ["100", "%"]
    result = invoke(runner, "--lang", "ja", "map", "--atlas", atlas, "--timings")
    assert result.exit_code == 0
    with language_for("ja"):
        labels = [timings.stage_label(key) for key in MAP_STAGES]
    assert "'map' の所要時間" in result.stderr
    for label in labels:
        assert label in result.stderr
    with language_for("en"):
        english = [timings.stage_label(key) for key in MAP_STAGES]
    assert len(set(english)) == len(set(labels)) == len(MAP_STAGES)  # a label of its own for every stage
    for label in english:
        assert label not in result.stderr
