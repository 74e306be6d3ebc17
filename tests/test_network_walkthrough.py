"""Issue 12, item 8: the "for a new user" walk-through of docs/networks.md, run command by command on the real
Horizon 2020 files (the commands are read from the page, so the page cannot drift from what works)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import invoke, shared_file

DOC = Path(__file__).resolve().parents[1] / "docs" / "networks.md"


def walkthrough_commands() -> list[list[str]]:
    """The commands of the fenced block after the '<!-- walkthrough -->' marker, without 'clusteratlas'."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough -->\s*```(?:console|sh|bash)?\n(.*?)```", text, re.S)
    assert block, "docs/networks.md has no walk-through block"
    lines = [line.removeprefix("$ ").strip() for line in block.group(1).splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("clusteratlas ")]


def test_walkthrough_block_is_complete():
    joined = "\n".join(" ".join(c) for c in walkthrough_commands())
    for wanted in ("init", "network import participations", "network compute", "show network", "coordinators",
                   "--region", "match --actor", "match --need"):
        assert wanted in joined, wanted


@pytest.mark.realdata
def test_walkthrough_on_horizon_2020(tmp_path, monkeypatch, runner):
    data = shared_file("actors/eu_h2020_participations/h2020.csv.gz").parent.parent
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for args in walkthrough_commands():
        args = [a.replace("$DATA", str(data)) for a in args]
        res = invoke(runner, *args)
        assert res.exit_code == 0, (args, res.output)
        outputs[" ".join(args[:2])] = " ".join(res.output.split())
    assert "35,871 actors, 796,670 ties" in outputs["network import"]
    assert "sampled pivots k=500 of n=35871" in outputs["network compute"]
    assert "brokerage (region groups): all actors" in outputs["network compute"]
    network = outputs["show network"]
    assert "share_unknown_location" in network and "AARHUS UNIVERSITET" in network
    assert "Brokerage" in outputs["coordinators --region"]
    assert "friend of a friend via" in outputs["match --actor"]
    assert "shared:" in outputs["match --need"]
