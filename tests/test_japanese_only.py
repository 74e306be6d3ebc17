"""Issue 22 item 2: no English word of the interface in Japanese output.

Every command of the Japanese walk-through (docs/ja/walkthrough.md, on the 2014 census extract) and of the demo,
run under the Japanese locale, and every page of the demo atlas in Japanese, are searched for English words.
What may stay is listed here, explicitly: codes and names that are data (region, cluster and industry codes,
the demo network's actors, file names), command lines and option names (typed as they are), and the
abbreviations Japanese statistics use as they are (LQ, ECI, NAICS …).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from clusteratlas import i18n
from clusteratlas.api import build_demo_atlas
from clusteratlas.cli import app
from clusteratlas.sample import sample_industries
from clusteratlas.server import Settings, create_app
from tests.conftest import shared_file
from tests.test_japan_walkthrough import EXTRACT, commands

#: Abbreviations and names written as they are in Japanese text (statistics, classifications, formats, bodies).
ABBREVIATIONS = {
    "LQ", "ECI", "PCI", "COI", "COG", "HHI", "RCA", "CAGR", "FDR", "LISA", "Gi", "Moran", "Moran's", "EG",
    "NAICS", "JSIC", "ISIC", "NACE", "NUTS", "CBP", "Rev", "CSV", "Excel", "JSON", "Parquet", "DuckDB", "API",
    "URL", "ID", "e-Stat", "Stat", "NISTEP", "METI", "MEXT", "US", "EU", "ECO", "EOCIC", "NR", "MB", "GB", "BOM",
    "UTF", "Shift_JIS", "TopoJSON", "GeoJSON", "ECharts", "OpenAPI", "HTTP", "REST", "PDF", "A4", "Ctrl", "ja", "en",
    "Apache", "License", "English",  # the charts' library and its licence; the link to the English pages
}
#: Data that has no Japanese name: the demo network's actors and the Hybritech spin-offs (seed 003), the demo's
#: assessor and the source of its synthetic assessments, the sample economy's country code, framework and network
#: ids (typed as they are), the demo's definition and indicator names.
DATA = {
    "North", "University", "Motors", "Sensors", "East", "Technology", "Licensing", "Office", "Batteries",
    "Prefectural", "Research", "Institute", "South", "Cells", "Hybritech", "Gen-Probe", "IDEC", "Gensia", "Lipotech",
    "Viagene", "Kimmel", "Cancer", "Cypros", "Urogen", "Medmetric", "Demo", "assessor", "NATION", "CORRIDOR",
    "nistep-jp-15", "san-diego", "hybritech", "demo", "sample", "patents",
    # the census extract of the walk-through: its file name, and its column names and values the import notes quote
    "ExplanatoryVariablesBase", "Semp", "SEmp", "SFirm", "True",
    "K-RIP", "TLO",  # in Japanese names of a METI project and of a technology licensing office
} | {w for r in sample_industries() for w in re.findall(r"[A-Za-z][A-Za-z'-]*", r["subcluster"])}
#: (the last line: the benchmark definition's subcluster names, which it gives in English only)
COMMAND = re.compile(r"clusteratlas(?: [^\s、。）)」]+)*")
OPTION = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]*(?:=[^\s、。（）()」]+)?")
FILE = re.compile(r"\S*\.(?:duckdb|csv|xlsx|parquet|json|geojson|topojson|po|txt|html)\b")
PATH = re.compile(r"(?:/[\w.\-]+)+/?(?:\?[\w=&%.,\-]*)?")  # an address, with its query string
CODE = re.compile(r"\b(?:S\dC\d+|S\d|C\d\d|\d{2,6}[A-Z]?|[0-9a-f]{16}|[a-z0-9]+(?:-[a-z0-9]+)+(?::[a-z0-9-]+)?)\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'’_-]*[A-Za-z]|[A-Za-z]{2,}")


def english_words(text: str, also: set[str] = frozenset()) -> list[str]:
    """The English words of ``text`` that are not allowed, each with a little context."""
    text = " ".join(text.split())  # a command folded over two lines is one command
    for pattern in (COMMAND, FILE, PATH, OPTION, CODE):
        text = pattern.sub(" ", text)
    found = []
    for m in WORD.finditer(text):
        word = m.group(0)
        if word in ABBREVIATIONS or word in DATA or word in also:
            continue
        found.append(f"{word!r} in …{text[max(0, m.start() - 30):m.end() + 30]!r}…")
    return found


def test_the_checker_finds_english_and_lets_data_through():
    assert english_words("自動車 (C01): 従業者 1,234、LQ 2.10 ★★ — clusteratlas show region S2C3 -a a.duckdb") == []
    assert english_words("North University（S1）") == []
    found = english_words("3 column(s) hidden; use --wide to show all")
    assert [f.split()[0] for f in found] == ["'column'", "'hidden'", "'use'", "'to'", "'show'", "'all'"]


def _ja_runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "100", "CLUSTERATLAS_LANG": "ja", "LANG": "ja_JP.UTF-8"})


def _run(runner: CliRunner, argv: list[str]) -> str:
    try:
        res = runner.invoke(app, argv, catch_exceptions=False)
    finally:
        i18n.set_language("en")
    assert res.exit_code == 0, (argv, res.output)
    return res.output


@pytest.mark.realdata
def test_the_japanese_walkthrough_prints_no_english(tmp_path, monkeypatch):
    source = shared_file(EXTRACT)
    (tmp_path / source.name).symlink_to(source)
    monkeypatch.chdir(tmp_path)
    runner = _ja_runner()
    problems = {}
    for argv in commands():
        found = english_words(_run(runner, argv))
        if found:
            problems[" ".join(argv)] = found
    assert not problems, problems


@pytest.fixture(scope="module")
def demo_atlas(tmp_path_factory):
    path = tmp_path_factory.mktemp("jademo") / "demo.duckdb"
    build_demo_atlas(path)
    return path


def test_the_demo_prints_no_english(tmp_path):
    runner = _ja_runner()
    atlas = tmp_path / "demo.duckdb"
    problems = {}
    for argv in (["demo", "--atlas", str(atlas)], ["show", "region", "東第3郡", "--atlas", str(atlas)],
                 ["show", "cluster", "自動車", "--atlas", str(atlas)], ["relate", "--atlas", str(atlas)],
                 ["hotspots", "--atlas", str(atlas), "--permutations", "999"],
                 ["shift-share", "2015", "2020", "--atlas", str(atlas)], ["show", "related", "C02", "--atlas",
                                                                         str(atlas)],
                 ["indicators", "patents", "--atlas", str(atlas)],
                 ["assess", "report", "--by", "formation_base", "--reference", "--atlas", str(atlas)],
                 ["registry", "knowledge-cluster", "--era"]):
        found = english_words(_run(runner, argv))
        if found:
            problems[" ".join(argv[:3])] = found
    assert not problems, problems


class _Text(HTMLParser):
    """The text a visitor reads: text nodes outside scripts and styles, and the titles and labels of elements."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.parts += [v for k, v in attrs if k in ("title", "aria-label", "placeholder", "alt") and v]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


PAGES = ["/", "/search?q=郡", "/regions/S2C3", "/regions/S1", "/regions/CORRIDOR", "/clusters/C01",
         "/clusters/C09?classes=hotspots&level=county", "/compare?regions=S1C1,S2C3,S3C2", "/evaluations",
         "/regions/S9C9",
         # issue 22's home map, map classes, compare picker and evaluations' filters
         "/?colour=C01", "/clusters/C01?classes=lisa&level=county", "/clusters/C01?classes=lisa&level=state",
         "/clusters/C01?metric=employment_cagr", "/compare", "/evaluations?programme=knowledge-cluster&q=nano"]


@pytest.mark.parametrize("page", PAGES)
def test_japanese_pages_show_no_english(demo_atlas, page):
    with TestClient(create_app(Settings(atlas=str(demo_atlas), read_only=True, warm=False))) as client:
        r = client.get(page + ("&" if "?" in page else "?") + "lang=ja")
    assert r.status_code in (200, 404), r.text[:300]
    found = english_words(visible_text(r.text))
    assert not found, found


@pytest.mark.parametrize("width", [30, 41, 52, 63, 80])
def test_japanese_lines_break_between_characters_not_inside_numbers_or_options(width):
    """The note under a Japanese table, at several terminal widths: every number, code and option name stays on
    one line (Rich alone cut a Japanese sentence, one long word to it, anywhere: '--min' / '-employment')."""
    from rich.console import Console

    from clusteratlas.report import Folded

    note = ("注: 郡の地域は 36 しかありません: 規模と集中のスター（比較対象の上位 10%）はクラスターごとに約 4 地域に"
            "しか付きません。より多くの比較対象と比べる（市区町村データを取り込んだうえで clusteratlas map --peers "
            "county=municipality）か、従業者 1,000 人以上のセルだけを順位付けしてください（--min-employment）。")
    console = Console(width=width, record=True, color_system=None)
    console.print(Folded(note))
    lines = console.export_text().splitlines()
    assert all(len(line) <= width * 2 for line in lines) and len(lines) > 1
    for whole in ("--min-employment", "county=municipality", "--peers", "1,000", "10%", "36"):
        assert any(whole in line for line in lines), (whole, lines)
    assert "".join(lines).replace(" ", "") == note.replace(" ", "")  # nothing lost, nothing added


@pytest.mark.parametrize("width", [12, 14, 16])
def test_a_span_of_years_is_not_broken_at_its_dash(width):
    """The map summary's years (``2015–2020``, main's years_text) stay whole in English and Japanese lines alike."""
    for text in ("years 2015–2020, 2022", "年: 2015–2020、州 6"):
        assert any("2015–2020" in line for line in i18n.wrap(text, width)), i18n.wrap(text, width)
