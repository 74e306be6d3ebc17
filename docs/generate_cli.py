"""Write docs/cli.md from the CLI's own --help texts (tests check it is current).

    python docs/generate_cli.py
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from clusteratlas.cli import app

OUT = Path(__file__).with_name("cli.md")


def command_paths() -> list[list[str]]:
    """Every command and sub-command, as argument lists."""
    def walk(command, path):
        yield path
        for name in sorted(getattr(command, "commands", {}) or {}):
            yield from walk(command.commands[name], [*path, name])
    return list(walk(typer.main.get_command(app), []))


def render() -> str:
    runner = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    parts = ["# Command reference\n\nGenerated from `--help` by `python docs/generate_cli.py`; "
             "do not edit by hand.\n"]
    for path in command_paths():
        output = runner.invoke(app, [*path, "--help"], prog_name="clusteratlas").output
        text = "\n".join(line.rstrip() for line in output.strip("\n").splitlines())
        title = " ".join(["clusteratlas", *path])
        parts.append(f"\n## `{title}`\n\n```text\n{text}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
