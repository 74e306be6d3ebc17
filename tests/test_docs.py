"""The documentation says what the code does: generated CLI reference, README commands, columns."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from clusteratlas.metrics import CLUSTER_COLUMNS, REGION_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_cli", ROOT / "docs" / "generate_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == _generator().render(), \
        "docs/cli.md is stale: run python docs/generate_cli.py"


def test_every_command_is_in_the_readme_tour_or_reference():
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path in _generator().command_paths()[1:]:
        assert f"## `clusteratlas {' '.join(path)}`" in reference


def test_readme_has_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    assert any("pip install ." in b and "clusteratlas demo" in b for b in blocks)
    test_cmd = next(b for b in blocks if 'pip install ".[test]"' in b).strip()
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_every_result_column_is_documented():
    model = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| ([a-z0-9_, ]+) \|", model, flags=re.M))
    names = {n.strip() for row in documented for n in row.split(",")}
    missing = [c for c in (*CLUSTER_COLUMNS, *REGION_COLUMNS) if c not in names]
    assert missing == []
