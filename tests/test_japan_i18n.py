"""Issue 15 item 5: Japanese output through gettext catalogues shared with the web pages."""

from __future__ import annotations

import pytest
import typer

from clusteratlas import i18n
from clusteratlas.cli import app
from clusteratlas.cli._common import walk_commands
from clusteratlas.i18n.compile import LOCALES, mo_bytes, source_messages
from tests.conftest import invoke


def test_shipped_mo_is_what_babel_compiles_from_the_po():
    pos = list(LOCALES.glob("*/LC_MESSAGES/*.po"))
    assert pos
    for po in pos:
        assert po.with_suffix(".mo").read_bytes() == mo_bytes(po), \
            f"{po.with_suffix('.mo')} is stale: run python -m clusteratlas.i18n.compile"


def test_every_message_in_the_source_is_translated():
    """Every ``_("...")`` literal (errors' fixed words, notes, summaries, coverage lines), found by Babel."""
    found = source_messages()
    assert len(found) > 30
    missing = sorted({f"{file}:{line}: {text!r}" for text, file, line in found if not i18n.has(text, "ja")})
    assert not missing, missing


@pytest.mark.parametrize(("argv", "env", "lang"), [
    (["--lang", "ja"], {}, "ja"), (["--lang=en"], {"LANG": "ja_JP.UTF-8"}, "en"),
    ([], {"CLUSTERATLAS_LANG": "ja"}, "ja"), ([], {"LANG": "ja_JP.UTF-8"}, "ja"), ([], {"LANG": "C.UTF-8"}, "en")])
def test_language_from_option_environment_or_locale(argv, env, lang):
    assert i18n.detect(argv, env) == lang


def test_every_table_header_is_in_the_catalogue(mapped_atlas, runner):
    missed: list[str] = []
    i18n.MISS_HOOKS.append(lambda lang, msgid: missed.append(msgid))
    try:
        for args in (["show", "region", "S2C3"], ["show", "cluster", "C01"], ["relate"], ["show", "related", "C01"]):
            res = invoke(runner, "--lang", "ja", *args, "--atlas", mapped_atlas, "--wide")
            assert res.exit_code == 0, res.output
        assert "従業者数" in res.output or "近接度" in res.output
    finally:
        i18n.MISS_HOOKS.pop()
        i18n.set_language("en")
    helps = {getattr(obj, a, None) for cmd in walk_commands(typer.main.get_command(app))
             for obj in (cmd, *cmd.params) for a in ("help", "short_help")}
    headers = [m for m in missed if m not in helps]
    assert not headers, headers


def test_unknown_language_is_a_clean_error(runner):
    res = invoke(runner, "--lang", "xx", "--help")
    assert res.exit_code == 2 and "unsupported language" in res.output


def _every_command_path() -> list[list[str]]:
    def walk(cmd, path):
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])
    return list(walk(typer.main.get_command(app), []))


def test_every_help_screen_is_japanese_under_lang_ja(runner):
    """Every command's --help under --lang ja: no help text, option, panel title or --help line missed."""
    missed: list[str] = []
    i18n.MISS_HOOKS.append(lambda lang, msgid: missed.append(msgid))
    try:
        paths = _every_command_path()
        assert len(paths) > 40
        for path in paths:
            res = invoke(runner, "--lang", "ja", *path, "--help")
            assert res.exit_code == 0, (path, res.output)
            assert "このヘルプを表示して終了します" in res.output, path
            assert "Show this message" not in res.output, path
        assert "オプション" in res.output
    finally:
        i18n.MISS_HOOKS.pop()
        i18n.set_language("en")
    assert not missed, f"{len(set(missed))} messages missing from the ja catalogue, e.g. {sorted(set(missed))[:5]}"
    from typer import rich_utils

    assert rich_utils.OPTIONS_PANEL_TITLE == "Options"  # Typer's shared words back in English (docs generator)
    english = invoke(runner, "--lang", "en", "map", "--help").output
    assert "Show this message and exit." in english and "Options" in english


def test_error_message_fixed_words_in_japanese(runner, tmp_path):
    bad = tmp_path / "obs.csv"
    bad.write_text("region,industry,year,employment\nA,11,2020,ten\n", encoding="utf-8")
    res = invoke(runner, "--lang", "ja", "init", "--atlas", str(tmp_path / "a.duckdb"))
    assert "アトラス" in res.output
    res = invoke(runner, "--lang", "ja", "import", "observations", str(bad), "--atlas", str(tmp_path / "a.duckdb"))
    i18n.set_language("en")
    assert res.exit_code == 2
    assert "エラー:" in res.output and "行目" in res.output, res.output
