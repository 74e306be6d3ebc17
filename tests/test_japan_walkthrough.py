"""docs/ja/walkthrough.md: every command of the prefectural analyst's walk-through runs, in order, on the
2014 extract (and says what the text says it does)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from clusteratlas import i18n
from tests.conftest import invoke, query_atlas, shared_file

WALKTHROUGH = Path(__file__).resolve().parent.parent / "docs" / "ja" / "walkthrough.md"
EXTRACT = "jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv"


def commands() -> list[list[str]]:
    """The ``$ clusteratlas …`` lines of the walk-through's console blocks, as argument lists."""
    blocks = re.findall(r"```console\n(.*?)```", WALKTHROUGH.read_text(encoding="utf-8"), flags=re.S)
    return [shlex.split(line[2:])[1:] for block in blocks for line in block.splitlines()
            if line.startswith("$ clusteratlas ")]


@pytest.mark.realdata
def test_the_walkthrough_runs_as_written(tmp_path, runner, monkeypatch):
    source = shared_file(EXTRACT)
    (tmp_path / source.name).symlink_to(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")
    steps = commands()
    assert len(steps) >= 12
    outputs = []
    try:
        for argv in steps:
            res = invoke(runner, *argv)
            assert res.exit_code == 0, (argv, res.output)
            outputs.append((argv, res.output))
    finally:
        i18n.set_language("en")
    text = {" ".join(argv): output for argv, output in outputs}
    region = next(o for a, o in text.items() if "show region 23000" in a)
    assert "愛知県" in region and "自動車" in region and "特化係数の基準経済" in region
    assert "平成19年度" in next(o for a, o in text.items() if "registry" in a)
    # 平成26年 was read as 2014; the CSV starts with a BOM for Excel; neighbours came without japanmap's help
    assert query_atlas(tmp_path / "aichi.duckdb", "SELECT DISTINCT year FROM observations") == [(2014,)]
    assert (tmp_path / "aichi_clusters.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert (tmp_path / "aichi_regions.xlsx").stat().st_size > 0
    programme = next(o for a, o in text.items() if "tokai-monozukuri" in a)
    assert "東海ものづくり" in programme
