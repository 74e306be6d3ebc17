"""Issue 22: errors in Japanese too. A Japanese user who gives a bad file, an unknown region, a year without data,
a bad token or a file over a limit reads the error in Japanese, with the file names, codes and values as given.

Two checks: the source is searched for error messages that are not wrapped in ``_()`` (a literal or an f-string
given straight to an error would stay English), and real bad inputs are run under ``CLUSTERATLAS_LANG=ja``.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clusteratlas import Atlas, i18n
from clusteratlas.cli import app
from clusteratlas.server import Settings, create_app
from tests.test_japanese_only import english_words

SOURCE = Path(__file__).resolve().parent.parent / "src" / "clusteratlas"
#: The errors a user reads, and which of their positional arguments is a message (keywords: see MESSAGE_KEYWORDS).
ERRORS = {"InputError": (0,), "LimitError": (0,), "NotFound": (0,), "Missing": (0,), "OfflineError": (0,),
          "ClusterAtlasError": (0,), "AuthError": (1,), "Check": (2, 3)}
MESSAGE_KEYWORDS = {"problem", "hint", "expected", "detail"}
#: Messages that may stay as they are: (file relative to the package, the literal). Each says why.
ALLOWED: set[tuple[str, str]] = set()  # none today: a message that is data or code only would go here, with why


def unwrapped_messages(source: str) -> list[tuple[int, str]]:
    """(line, text) of every error message in ``source`` given as a literal or an f-string instead of ``_()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in ERRORS:
            continue
        args = [node.args[i] for i in ERRORS[name] if i < len(node.args)]
        args += [k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS]
        found += [(arg.lineno, ast.unparse(arg)) for arg in args if _text(arg)]
    for node in ast.walk(ast.parse(source)):  # a message made first, then given: problem = f"..."
        if isinstance(node, ast.Assign) and _text(node.value) and any(
                isinstance(target, ast.Name) and target.id in MESSAGE_KEYWORDS for target in node.targets):
            found.append((node.lineno, ast.unparse(node.value)))
    return found


def _text(node: ast.expr) -> bool:
    """Whether ``node`` is text written in the source: a literal, an f-string, or a sum with one in it."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) or _text(node.right)
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def test_the_search_finds_literals_and_f_strings_and_passes_wrapped_ones():
    code = ('raise InputError("bad file", hint=f"use {x}")\n'
            'raise InputError(_("bad {v}").format(v=v), expected=_("a number"))\n'
            'raise AuthError(401, "no token")\n'
            'problem = f"{n} rows"\n'
            'raise InputError(problem, hint=_("Fix it") + f" ({n})")\n')
    assert sorted(line for line, _text in unwrapped_messages(code)) == [1, 1, 3, 4, 5]


def test_every_error_message_goes_through_the_catalogue():
    """No error message in the package is a bare literal or f-string (``_()`` literals are checked for a Japanese
    translation by tests/test_japan_i18n.py::test_every_message_in_the_source_is_translated)."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        found += [f"{relative}:{line}: {text}" for line, text in unwrapped_messages(path.read_text(encoding="utf-8"))
                  if (relative, text) not in ALLOWED]
    assert not found, f"{len(found)} error messages not in the catalogue:\n" + "\n".join(found)


# ---------------------------------------------------------------------------------------------- real bad inputs
def _ja(**env: str) -> CliRunner:
    return CliRunner(env={"COLUMNS": "100", "CLUSTERATLAS_LANG": "ja", "LANG": "ja_JP.UTF-8", **env})


def _japanese_error(result, *given: str, data: set[str] = frozenset()) -> str:
    """The error of a failed command: exit code 2, Japanese with no English interface word, ``given`` kept."""
    message = " ".join(result.output.split())
    assert result.exit_code == 2, message
    assert "エラー" in message and "Traceback" not in message, message
    for part in given:
        assert part in message, (part, message)
    interface = message
    for part in given:  # the values as given are data
        interface = interface.replace(part, " ")
    assert not english_words(interface, set(data)), (english_words(interface, set(data)), message)
    return message


def test_a_bad_csv_row_in_japanese(tmp_path):
    (tmp_path / "obs.csv").write_text("region,industry,year,employment\nR1,a1,2020,10\nR2,a1,2020,abc\n"
                                      "R3,a1,2020,xyz\n", encoding="utf-8")
    (tmp_path / "defs.csv").write_text("industry,cluster,type\na1,A,traded\n", encoding="utf-8")
    res = _ja().invoke(app, ["map", "--data", str(tmp_path / "obs.csv"), "--clusters", str(tmp_path / "defs.csv"),
                             "--out", str(tmp_path / "out.csv")])
    message = _japanese_error(res, "obs.csv", "3 行目", "'employment'", "'abc'", data={"employment"})
    assert "数値ではありません" in message and "ほかに同じ問題のある行が 1 行" in message
    assert not (tmp_path / "out.csv").exists()


def test_an_unknown_region_and_a_year_without_data_in_japanese(mapped_atlas):
    res = _ja().invoke(app, ["show", "region", "ZZ9", "--atlas", str(mapped_atlas)])
    assert "不明な地域" in _japanese_error(res, "'ZZ9'", "S1C1")
    res = _ja().invoke(app, ["show", "region", "S1", "--year", "1900", "--atlas", str(mapped_atlas)])
    assert "この年の結果がありません" in _japanese_error(res, "1900", "2020")


def test_a_file_over_a_read_limit_in_japanese(tmp_path, sample_files):
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("regions", sample_files["regions"])
    target = tmp_path / "custom.csv"
    with open(target, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["region", "member", "name", "name_ja"], ["NEWREG", "S1C1", "New", ""],
                                  ["NEWREG", "S1C2", "New", ""], ["OTHER", "S2C1", "O", ""]])
    res = _ja(CLUSTERATLAS_MAX_COLUMNS="3").invoke(app, ["import", "custom-regions", str(target), "--atlas", str(path)])
    _japanese_error(res, "custom.csv", "CLUSTERATLAS_MAX_COLUMNS", data={"CLUSTERATLAS_MAX_COLUMNS"})


def test_the_api_answers_problems_in_the_requests_language(mapped_atlas):
    with TestClient(create_app(Settings(atlas=str(mapped_atlas), read_only=True, warm=False))) as client:
        bad_token = {"Authorization": "Bearer ca_nobody_secret"}
        english = client.get("/api/v1/health", headers=bad_token).json()
        japanese = client.get("/api/v1/health?lang=ja", headers=bad_token).json()
        assert english["title"] == "Unauthorized" and japanese["status"] == 401
        assert japanese["title"] == "認証されていません" and "Bearer ca_<id>_<secret>" in japanese["detail"]
        unknown = client.get("/api/v1/regions/ZZ9?lang=ja").json()
        assert unknown["status"] == 404 and unknown["title"] == "見つかりません"
        assert "不明な地域" in unknown["detail"] and "'ZZ9'" in unknown["detail"]
        year = client.get("/api/v1/regions/S1/clusters?year=1900&lang=ja").json()
        assert year["status"] in (404, 422) and "1900" in year["detail"]
        for answer in (japanese, unknown, year):
            text = f"{answer['title']} {answer['detail']}"
            for typed in ("Authorization: Bearer ca_<id>_<secret>", "ZZ9"):  # the header to send, the value given
                text = text.replace(typed, " ")
            assert not english_words(text), (english_words(text), text)
        assert client.get("/api/v1/regions/ZZ9").json()["title"] == "Not found"  # English stays English


def test_a_refused_parameter_is_explained_in_the_requests_language(mapped_atlas):
    """FastAPI's 422 for a parameter out of range or of the wrong type: each reason in the request's language
    (pydantic writes English only), the parameter named as it is in the URL."""
    cases = {"/api/v1/regions/S1?opportunities=5000": ("opportunities", "1000 以下で指定してください",
                                                       "must be at most 1000"),
             "/api/v1/regions/S1?include_empty=maybe": ("include_empty", "true または false で指定してください",
                                                        "must be true or false"),
             "/api/v1/regions/S1?opportunities=many": ("opportunities", "整数で指定してください",
                                                       "must be a whole number"),
             "/api/v1/clusters/C1/ranking?top=0": ("top", "以上で指定してください", "must be at least")}
    with TestClient(create_app(Settings(atlas=str(mapped_atlas), read_only=True, warm=False))) as client:
        for url, (name, japanese, english) in cases.items():
            ja = client.get(url + "&lang=ja").json()
            en = client.get(url).json()
            assert ja["status"] == en["status"] == 422, (url, ja)
            assert ja["title"] == "パラメータが不正です" and en["title"] == "Bad parameter"
            assert f"{name}: " in ja["detail"] and japanese in ja["detail"], ja
            assert english in en["detail"] and english in en["errors"][0]["msg"], en
            text = ja["detail"].replace(name, " ").replace("true", " ").replace("false", " ")
            assert not english_words(text), (english_words(text), text)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_an_error_raised_in_one_language_and_shown_in_another_keeps_its_fixed_words_right(lang):
    """A catalogue message kept as the English source (e.g. made at import time) is translated when shown."""
    from clusteratlas.errors import InputError

    error = InputError("no data for this year", file="obs.csv", row=3, value=1900, expected="a finite number")
    with i18n.language_for(lang):
        text = str(error)
    assert "obs.csv" in text and "1900" in text
    assert ("この年のデータがありません" in text and "有限の数値" in text) if lang == "ja" else \
        ("no data for this year" in text and "a finite number" in text)
