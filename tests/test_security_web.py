"""Issue 20, the browser- and response-facing findings: a served atlas whose imported names carry payloads.

The atlas is the full sample atlas with hostile names and codes in regions, clusters, industries, custom regions
and an assessment form (HTML and script injection, a template expression, a spreadsheet formula, a right-to-left
override). A headless Chromium visits every page type in English and Japanese, shows the tooltip of every data
item of every chart and map, and fails if a payload ran or the browser reported a Content-Security-Policy
violation. The other tests replay the other findings: formula injection in CSV and Excel answers and exports,
the security headers, the write log and authentication messages, upload errors, ``Accept`` quality values, and
the header and body timeouts of the served port.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from clusteratlas import Atlas
from clusteratlas.reference.programmes import nistep_profiles_path
from clusteratlas.server import Settings, create_app
from clusteratlas.store.geometry import import_geometry
from tests.test_server import build_full_atlas
from tests.test_web import wait_for

API = "/api/v1"
CHROMIUM = Path("/usr/bin/chromium")
IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = '"><script>window.__pwned=2</script>'
SVG = "<svg onload=window.__pwned=3>"
TEMPLATE = "{{7*7}}"
FORMULA = '=HYPERLINK("http://evil.example/","click")'
BIDI = "Sample\u202etxt.exe"
#: A code that is itself a payload (codes may hold any printable character): a custom region and a cluster.
CODE_REGION = "<img src=x onerror=window.__pwned=4>"
CODE_CLUSTER = "<img src=x onerror=window.__pwned=5>"
REGION_NAMES = {"S1C1": (IMG, SCRIPT), "S1C2": (SCRIPT, IMG), "S2C1": (FORMULA, TEMPLATE), "S2C2": (TEMPLATE, FORMULA),
                "S3C1": (BIDI, BIDI), "S1": (SVG, SVG), "S2": ("-2+3", "@SUM(A1)"),
                "S3": ("https://evil.example/login", "\t=1+1")}
CLUSTER_NAMES = {"C01": (IMG, SCRIPT), "C02": (SCRIPT, IMG), "C03": (FORMULA, SVG), "C04": (BIDI, TEMPLATE)}


def _rewrite(source: Path, target: Path, change) -> Path:
    with open(source, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    rows = [change(dict(r)) for r in rows]
    with open(target, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(r for r in rows if r is not None)
    return target


def hostile_files(sample_files: dict, folder: Path) -> dict:
    """The sample files with payloads in names and codes."""
    def region(r):
        if r["region"] in REGION_NAMES:
            r["name"], r["name_ja"] = REGION_NAMES[r["region"]]
        return r

    def definition(r):
        if r["cluster"] in CLUSTER_NAMES:
            r["cluster_name"], r["cluster_name_ja"] = CLUSTER_NAMES[r["cluster"]]
        if r["cluster"] == "C05":
            r["cluster"], r["subcluster"] = CODE_CLUSTER, r["subcluster"].replace("C05", CODE_CLUSTER)
        return r

    def custom(r):
        r["name"], r["name_ja"] = SVG, IMG
        return r

    files = dict(sample_files)
    files["regions"] = _rewrite(sample_files["regions"], folder / "regions.csv", region)
    files["definitions"] = _rewrite(sample_files["definitions"], folder / "definitions.csv", definition)
    custom_file = _rewrite(sample_files["custom-regions"], folder / "custom.csv", custom)
    with open(custom_file, "a", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        for member in ("S4C1", "S4C2"):
            w.writerow([CODE_REGION, member, TEMPLATE, SCRIPT])
    files["custom-regions"] = custom_file
    return files


def hostile_assessment(folder: Path) -> Path:
    """The NISTEP profiles as a new assessment whose subject, assessor, tags and evidence carry payloads."""
    def change(r):
        if r["assessment"] != "nistep2004-sapporo-it":
            return None
        r.update({"assessment": "hostile", "subject_name": IMG, "subject_name_ja": SCRIPT, "assessor": SVG,
                  "tag:provenance": FORMULA, "evidence": IMG})
        return r

    return _rewrite(Path(nistep_profiles_path()), folder / "hostile-assessment.csv", change)


@pytest.fixture(scope="module")
def hostile_atlas(tmp_path_factory, sample_files):
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "atlas.duckdb"
    build_full_atlas(path, hostile_files(sample_files, folder))
    industries = folder / "industries.csv"
    with open(sample_files["definitions"], encoding="utf-8") as fh:
        codes = sorted({r["industry"] for r in csv.DictReader(fh)})
    with open(industries, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["industry", "name", "name_ja"])
        for i, code in enumerate(codes):
            w.writerow([code, (IMG, SCRIPT, FORMULA, BIDI)[i % 4], (SVG, TEMPLATE, IMG, BIDI)[i % 4]])
    with Atlas(path) as atlas:
        atlas.import_file("industries", industries, name="hostile industries")
        atlas.import_assessments(hostile_assessment(folder))
        for level in ("county", "state"):
            import_geometry(atlas.con, sample_files[f"geometry-{level}"], level=level, tolerance=0)
        import_geometry(atlas.con, "japanmap", level="prefecture", file_format="japanmap")
    return path


# ------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium (.ci/run installs it with apt-get)")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Served:
    """The app served by uvicorn on a free local port, in a thread (with the server options ``serve`` uses)."""

    def __init__(self, path: Path, read_only: bool = True, **limits) -> None:
        import uvicorn

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(Settings(atlas=str(path), read_only=read_only, warm=False)),
                                host="127.0.0.1", port=self.port, log_level="warning", **server_options(**limits))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def server_options(**limits) -> dict:
    """The uvicorn options ``clusteratlas serve`` passes, its defaults unless given (none before they existed)."""
    try:
        from clusteratlas.server.timeouts import ServerLimits
    except ImportError:
        return {}
    defaults = {"header_timeout": 10.0, "body_timeout": 60.0, "keep_alive": 5.0, "max_connections": 500,
                "max_header_kb": 64}
    return ServerLimits(**{**defaults, **limits}).uvicorn_options()


@pytest.fixture(scope="module")
def site(hostile_atlas):
    with Served(hostile_atlas) as served:
        yield served.base


WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
    e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""

#: Show the tooltip of every data item of every chart (what hovering each bubble, region, bar… does), and
#: return the tooltips' text.
HOVER_ALL = """() => {
    const texts = [];
    for (const [id, chart] of Object.entries(window.CA ? CA.charts : {})) {
        const option = chart.getOption();
        (option.series || []).forEach((series, s) => {
            const n = (series.data || []).length;
            for (let i = 0; i < n; i++) {
                chart.dispatchAction({type: 'highlight', seriesIndex: s, dataIndex: i});
                chart.dispatchAction({type: 'showTip', seriesIndex: s, dataIndex: i});
                texts.push(chart.getDom().innerText);
                chart.dispatchAction({type: 'downplay', seriesIndex: s, dataIndex: i});
            }
        });
        chart.dispatchAction({type: 'hideTip'});
    }
    return texts.join('\\n');
}"""

PAGES = {  # page -> (url, charts that must finish drawing)
    "home": ("/", ("home-map",)),
    "search": ("/search?q=img", ()),
    "search-formula": ("/search?q=HYPERLINK", ()),
    "region": ("/regions/S1C1", ("bubble", "series", "locator")),
    "region-state": ("/regions/S1?level=state", ("bubble", "series", "locator")),
    "custom-region": ("/regions/CORRIDOR", ("bubble", "series")),
    "custom-region-code": (f"/regions/{CODE_REGION}", ("bubble", "series")),
    "cluster": ("/clusters/C01?metric=lq&classes=lq", ("map", "series", "graph")),
    "cluster-hotspots": ("/clusters/C02?classes=hotspots", ("map", "series", "graph")),
    "cluster-code": (f"/clusters/{CODE_CLUSTER}?level=state", ("map", "series")),
    "compare": ("/compare?regions=S1C1,S1C2,S2C1,S2C2,S3C1,CORRIDOR", ("m-S1C1", "m-CORRIDOR")),
    "evaluations": ("/evaluations", ("radar-0", "programme-map")),
    "not-found": (f"/regions/{IMG}", ()),
    "unknown-path": (f"/no-such-page/{IMG}", ()),
}


def test_no_payload_runs_and_no_csp_violation_on_any_page_in_either_language(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    context.add_init_script(WATCH)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        tooltips, texts = [], []
        for lang in ("en", "ja"):
            for name, (url, charts) in PAGES.items():
                from urllib.parse import quote

                page.goto(f"{site}{quote(url, safe='/?=&,')}{'&' if '?' in url else '?'}lang={lang}")
                for chart in charts:
                    wait_for(page, f"window.CA && CA.ready[{chart!r}] === true")
                tooltips.append(page.evaluate(HOVER_ALL))
                page.wait_for_timeout(50)
                state = page.evaluate("({pwned: window.__pwned, csp: window.__csp, "
                                      "injected: document.querySelectorAll('img[src=x], svg[onload], "
                                      "img[onerror]').length})")
                assert state["pwned"] is None, (name, lang, state)
                assert state["csp"] == [], (name, lang, state)
                assert state["injected"] == 0, (name, lang, state)
                texts.append(page.inner_text("body"))
        shown = "\n".join(tooltips)
        for payload in (IMG, SCRIPT, SVG):  # the names are shown in the tooltips, as text
            assert payload in shown, payload
        assert TEMPLATE in "\n".join(texts) and FORMULA in "\n".join(texts)  # text, never evaluated
        assert "\u202e" not in shown and "<U+202E>" in shown  # the override is shown, not obeyed
        assert "\u202e" not in "\n".join(texts) and "Sample<U+202E>txt.exe" in "\n".join(texts)  # pages too
        assert [p for p in problems if "404" not in p] == []
    finally:
        context.close()


def test_html_assessment_report_escapes_every_text_and_shows_the_override(hostile_atlas, tmp_path):
    from dataclasses import replace

    from clusteratlas.evaluate.html import report_html

    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(hostile_atlas, copy)
    with Atlas(copy) as a:
        item = next(i for i in a.assessments() if i.assessment == "hostile")
        fw = a.framework(item.framework, item.framework_version)
    text = report_html([(fw, item)])
    assert "<img" not in text and "<svg onload" not in text and "<script" not in text
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in text  # shown as text
    text = report_html([(fw, replace(item, subject_name=BIDI))])
    assert "\u202e" not in text and "Sample&lt;U+202E&gt;txt.exe" in text


# ------------------------------------------------------------- security headers
def test_every_answer_carries_the_security_headers(hostile_atlas):
    from fastapi.testclient import TestClient

    from clusteratlas.server.headers import PAGE_POLICY

    with TestClient(create_app(Settings(atlas=str(hostile_atlas), read_only=True, warm=False, max_body=100)),
                    raise_server_exceptions=False) as c:
        answers = {url: c.get(url) for url in ("/", "/evaluations", "/regions/S1C1", "/regions/NOWHERE",
                                              f"{API}/regions", f"{API}/regions?format=csv", f"{API}/regions/NOWHERE",
                                              "/static/app.js", "/no-such-page", "/api/openapi.json")}
        answers["413"] = c.post(f"{API}/assessments", content=b"x" * 1000)
        answers["cached"] = c.get(f"{API}/regions")
        docs = c.get("/api/docs")
    for url, r in answers.items():
        assert r.headers.get("content-security-policy") == PAGE_POLICY, (url, r.status_code)
        assert r.headers.get("x-content-type-options") == "nosniff", url
        assert r.headers.get("x-frame-options") == "DENY", url
        assert r.headers.get("referrer-policy") == "same-origin", url
    assert answers["413"].status_code == 413
    policy = dict(p.strip().split(" ", 1) for p in PAGE_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy["script-src"] + policy["default-src"]
    docs_policy = dict(p.strip().split(" ", 1) for p in docs.headers["content-security-policy"].split(";"))
    nonce = docs_policy["script-src"].split("'nonce-")[1].rstrip("'")
    assert f'<script nonce="{nonce}">' in docs.text and "<script>" not in docs.text
    assert "unsafe" not in docs_policy["script-src"] and docs_policy["frame-ancestors"] == "'none'"
    assert docs.headers["x-frame-options"] == "DENY"


def test_an_unexpected_error_answer_carries_the_headers_too(hostile_atlas, monkeypatch):
    from fastapi.testclient import TestClient

    from clusteratlas import queries

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "list_regions", broken)
    with TestClient(create_app(Settings(atlas=str(hostile_atlas), read_only=True, warm=False, cache_mb=0)),
                    raise_server_exceptions=False) as c:
        r = c.get(f"{API}/regions")
    assert r.status_code == 500 and r.headers["x-frame-options"] == "DENY" and "boom" not in r.text


def test_swagger_ui_works_under_its_policy(browser, site):
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        answer = page.goto(f"{site}/api/docs")
        assert "'nonce-" in answer.headers["content-security-policy"]  # its own policy, its script by nonce
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() > 20
        page.locator(".opblock-summary").first.click()  # an operation opens
        page.wait_for_selector(".opblock-body", timeout=10_000)
        assert page.evaluate("window.__csp") == [] and errors == []
    finally:
        context.close()


# ------------------------------------------------------------ formula injection
FORMULA_START = tuple("=+-@\t\r")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table_routes(spec: dict) -> list[str]:
    """Every GET route with a format parameter, its path parameters filled with ids of the sample atlas."""
    fill = {"region": "S1C1", "cluster": "C01", "indicator": "patents", "framework": "nistep-jp-15",
            "of": "regions", "assessment": "hostile"}
    urls = []
    for route, ops in spec["paths"].items():
        params = ops.get("get", {}).get("parameters", [])
        if any(p["name"] == "format" for p in params):
            for name, value in fill.items():
                route = route.replace("{" + name + "}", value)
            required = [p["name"] for p in params if p["in"] == "query" and p.get("required")]
            assert set(required) <= {"regions"}, (route, required)
            urls.append(route + ("?regions=S1C1,S1C2,S2C1,S2C2" if required else ""))
    return urls


def test_csv_and_excel_answers_never_hold_a_formula(hostile_atlas):
    import openpyxl
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(atlas=str(hostile_atlas), read_only=True, warm=False))) as c:
        urls = [u for u in _table_routes(c.get("/api/openapi.json").json()) if u != f"{API}/writes"]  # token only
        assert len(urls) > 15
        marked = 0
        for url in urls:
            join = "&" if "?" in url else "?"
            answer = c.get(f"{url}{join}format=csv&limit=10000")
            assert answer.status_code == 200, (url, answer.text[:200])
            rows = list(csv.reader(io.StringIO(answer.text)))
            cells = [cell for row in rows[1:] for cell in row]
            assert not [x for x in cells if x.startswith(FORMULA_START) and not _number(x)], url
            marked += sum(x.startswith(("'=", "'-", "'@", "'\t")) for x in cells)
            book = openpyxl.load_workbook(io.BytesIO(c.get(f"{url}{join}format=xlsx&limit=10000").content))
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (url, cell.coordinate, cell.value)
                        assert cell.hyperlink is None, (url, cell.coordinate, cell.value)
        assert marked > 10  # the payloads were in the answers, marked
        regions = c.get(f"{API}/regions?format=xlsx&limit=10000")
        names = {r[1].value for r in openpyxl.load_workbook(io.BytesIO(regions.content))["data"].iter_rows()}
        assert FORMULA in names and "https://evil.example/login" in names  # text, as stored
        answer = c.get(f"{API}/regions?format=csv&limit=10000")
        listed = {r["region"]: r for r in csv.DictReader(io.StringIO(answer.text))}
        assert listed["S2C1"]["name"] == "'" + FORMULA and listed["S2"]["name"] == "'-2+3"
        assert listed["S2"]["name_ja"] == "'@SUM(A1)" and listed["S3"]["name_ja"] == "'\t=1+1"
        # numbers are untouched: negative shift-share components stay numbers
        shift = list(csv.DictReader(io.StringIO(c.get(f"{API}/shift-share?format=csv&limit=10000").text)))
        negative = [v for r in shift for k, v in r.items() if k not in ("region", "item", "name", "name_ja")
                    and v.startswith("-")]
        assert negative and all(float(v) < 0 for v in negative)
        # switched off: the cells as stored
        kept = {r["region"]: r for r in csv.DictReader(io.StringIO(
            c.get(f"{API}/regions?format=csv&limit=10000&keep_formulas=true").text))}
        assert kept["S2C1"]["name"] == FORMULA and kept["S2"]["name"] == "-2+3"
        bad = c.get(f"{API}/regions?format=csv&keep_formulas=maybe")
        assert bad.status_code == 422 and "keep_formulas" in bad.json()["detail"]


def _read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_exports_keep_text_as_text(hostile_atlas, tmp_path, runner):
    import openpyxl

    from tests.conftest import invoke

    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(hostile_atlas, copy)
    out = tmp_path / "regions.csv"
    assert invoke(runner, "export", "region-list", out, "--atlas", copy).exit_code == 0
    rows = {r["region"]: r for r in _read_csv(out)}
    assert rows["S2C1"]["name"] == "'" + FORMULA and rows["S2"]["name"] == "'-2+3"
    assert rows["S1C1"]["name"] == IMG  # not a formula: as stored
    assert invoke(runner, "export", "region-list", out, "--atlas", copy, "--keep-formulas").exit_code == 0
    assert {r["region"]: r for r in _read_csv(out)}["S2C1"]["name"] == FORMULA
    xlsx = tmp_path / "regions.xlsx"
    assert invoke(runner, "export", "region-list", xlsx, "--atlas", copy).exit_code == 0
    cells = [cell for row in openpyxl.load_workbook(xlsx)["data"].iter_rows() for cell in row]
    assert FORMULA in {c.value for c in cells} and "https://evil.example/login" in {c.value for c in cells}
    assert all(c.data_type != "f" and c.hyperlink is None for c in cells)
    # assess export to CSV marks the hostile evidence, and imports back unchanged
    forms = tmp_path / "assessments.csv"
    assert invoke(runner, "assess", "export", forms, "--atlas", copy).exit_code == 0
    exported = [r for r in _read_csv(forms) if r["assessment"] == "hostile"]
    assert exported and all(r["tag:provenance"] == "'" + FORMULA for r in exported)
    fresh = tmp_path / "fresh.duckdb"
    Atlas(fresh, create=True).close()
    assert invoke(runner, "assess", "import", forms, "--atlas", fresh).exit_code == 0
    with Atlas(fresh) as a:
        item = next(i for i in a.assessments() if i.assessment == "hostile")
    assert item.tags["provenance"] == FORMULA


# ----------------------------------------------------------- Accept quality values
ACCEPT_CASES = [  # Accept header, the format chosen
    ("text/csv;q=0.5, application/json", "json"),
    ("application/json;q=0, text/csv", "csv"),
    ("application/json;q=0, */*", "csv"),
    ("*/*;q=0.1, text/csv;q=0.2", "csv"),
    ("application/vnd.apache.parquet;q=0.9, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "xlsx"),
    ("text/csv;q=0.8, */*;q=0.8", "csv"),  # the same quality: the more specific range
    ("text/csv, application/json", "csv"),  # the same quality and specificity: the first written
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "json"),  # a browser: the default
    ("image/png", "json"),  # none of them: the default
]


def test_accept_quality_values_choose_the_format():
    from clusteratlas.server.formats import negotiate

    assert [negotiate(None, accept) for accept, _ in ACCEPT_CASES] == [expected for _, expected in ACCEPT_CASES]


def test_answers_follow_the_accept_quality_values_and_pages_answer_browsers_in_html(hostile_atlas):
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(atlas=str(hostile_atlas), read_only=True, warm=False))) as c:
        url = f"{API}/clusters/C01/map?metric=lq"
        parquet = "application/vnd.apache.parquet"
        for accept, media in (("application/json;q=0.4, text/csv;q=0.6", "text/csv"),
                              ("text/csv;q=0.4, application/json;q=0.6", "application/json"),  # not the cached CSV
                              (f"application/json;q=0, {parquet}", parquet)):
            assert c.get(url, headers={"Accept": accept}).headers["content-type"].startswith(media), accept
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        page = c.get("/no-such-page?lang=ja", headers={"Accept": browser})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "このアドレスのページはありません" in page.text
        for accept in ("application/json", "*/*", "text/html;q=0.5, application/json"):
            r = c.get("/no-such-page", headers={"Accept": accept})
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", accept
        assert c.get(f"{API}/no-such-route", headers={"Accept": browser}).headers["content-type"] == \
            "application/problem+json"


# ------------------------------------------------- the write log, tokens and uploads
@pytest.fixture
def writable(hostile_atlas, tmp_path):
    """A copy of the hostile atlas with tokens: admin, editor, revoked editor, expired editor."""
    from clusteratlas.server.auth import create_token, revoke_token

    path = tmp_path / "writable.duckdb"
    shutil.copyfile(hostile_atlas, path)
    tokens = {}
    with Atlas(path) as a:
        for key, role in (("admin", "admin"), ("editor", "editor"), ("revoked", "editor"), ("expired", "editor")):
            tokens[key] = create_token(a.con, role, name=key)
        revoke_token(a.con, tokens["revoked"][0])
        a.con.execute("UPDATE api_tokens SET expires_at = now()::TIMESTAMP - INTERVAL 1 DAY WHERE name = 'expired'")
    return path, {k: v[1] for k, v in tokens.items()}


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_write_log_is_for_editors_and_every_failed_authentication_reads_the_same(writable):
    from fastapi.testclient import TestClient

    path, tokens = writable
    known_id = tokens["editor"].split("_")[1]
    failures = {"none": {}, "basic": {"Authorization": "Basic eDp5"}, "malformed": _bearer("nonsense"),
                "unknown id": _bearer("ca_000000000000_secret"), "wrong secret": _bearer(f"ca_{known_id}_wrong"),
                "revoked": _bearer(tokens["revoked"]), "expired": _bearer(tokens["expired"])}
    # 24 failed checks from one address: the throttle (its 429s are tested in test_security_input) is raised
    with TestClient(create_app(Settings(atlas=str(path), warm=False, auth_failures="1000/minute"))) as c:
        r = c.post(f"{API}/custom-regions", headers=_bearer(tokens["editor"]),
                   files={"file": ("c.csv", b"region,member,name\nNEWREG,S1C1,New\n", "text/csv")})
        assert r.status_code == 201, r.text
        log = c.get(f"{API}/writes", headers=_bearer(tokens["editor"]))
        assert log.status_code == 200 and log.json()["data"][0]["action"] == "custom-regions"
        for fmt in ("csv", "xlsx", "parquet"):
            assert c.get(f"{API}/writes?format={fmt}", headers=_bearer(tokens["editor"])).status_code == 200
        assert c.get(f"{API}/writes", headers=_bearer(tokens["admin"])).status_code == 200
        answers = {}
        for case, headers in failures.items():
            for url in (f"{API}/writes", f"{API}/writes?format=csv", f"{API}/tokens"):  # not the cached log
                r = c.get(url, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (case, url, r.text)
                assert known_id not in r.text, case
                answers[case, url] = (r.json()["title"], r.json()["detail"])
            r = c.post(f"{API}/assessments", headers=headers, files={"file": ("a.csv", b"x", "text/csv")})
            answers[case, "upload"] = (r.json()["title"], r.json()["detail"])
        assert len(set(answers.values())) == 1, answers
        assert c.get(f"{API}/tokens", headers=_bearer(tokens["editor"])).status_code == 403  # known, too low


def test_upload_errors_name_the_file_sent_never_the_servers_path(writable):
    from fastapi.testclient import TestClient

    path, tokens = writable
    bad = {"assessments": [("my form.csv", b"assessment,framework\nx,y\n"), ("form.xlsx", b"not a zip"),
                           ("empty.csv", b"")],
           "custom-regions": [("regions.csv", b"region,member\nZZ,NOT-A-REGION\n"), ("r.parquet", b"PAR1xx")]}
    with TestClient(create_app(Settings(atlas=str(path), warm=False))) as c:
        for route, files in bad.items():
            for name, body in files:
                r = c.post(f"{API}/{route}", headers=_bearer(tokens["editor"]),
                           files={"file": (name, body, "application/octet-stream")})
                assert r.status_code == 422, (route, name, r.text)
                detail = r.json()["detail"]
                assert detail.startswith(name), (route, name, detail)
                for secret in (str(path.parent), ".uploads", "/tmp"):
                    assert secret not in r.text, (route, name, detail)


# ------------------------------------------------------------ slow clients
def _read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and Content-Length body) from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _trickler(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    sock.send(head)
    return sock


def test_the_server_answers_while_slow_clients_trickle_and_cuts_them_at_the_timeouts(hostile_atlas, tmp_path):
    """200 connections send their headers a byte at a time, 20 their body, 10 the next request after a first
    answer: the server keeps answering others at once, and closes each slow one with 408 at its timeout."""
    import httpx

    from clusteratlas.server.auth import create_token

    path = tmp_path / "slow.duckdb"  # the body tricklers carry a valid token: without one the guard answers
    shutil.copyfile(hostile_atlas, path)  # 401 before it reads a byte of the body
    with Atlas(path) as a:
        token = create_token(a.con, "admin", name="slow")[1]
    header_timeout, body_timeout = 2.0, 3.0
    with Served(path, header_timeout=header_timeout, body_timeout=body_timeout) as served:
        port = served.port
        kept = []  # a first request answered, then the next one trickled on the same connection
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_answer(sock).startswith(b"HTTP/1.1 200 ")
            sock.setblocking(False)
            sock.send(b"GET /api/v1/health HTTP/1.1\r\n")
            kept.append(sock)
        started = time.monotonic()
        slow = {"headers": [_trickler(port, b"GET /api/v1/health HTTP/1.1\r\n") for _ in range(200)] + kept,
                "body": [_trickler(port, b"POST /api/v1/map" + (b"?lang=ja" if i % 2 else b"")
                                         + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                         b"Authorization: Bearer " + token.encode() + b"\r\n"
                                         b"Content-Length: 1000\r\n\r\n{") for i in range(20)]}
        closed: dict[socket.socket, tuple[float, bytes]] = {}
        answered, answer_times = 0, []
        with httpx.Client(base_url=served.base, timeout=5) as client:
            while time.monotonic() - started < body_timeout + 2.5:
                for what, socks in slow.items():
                    for sock in socks:
                        if sock in closed:
                            continue
                        try:
                            received = sock.recv(65536)
                        except BlockingIOError:
                            received = None
                        except OSError:
                            received = b""
                        if received is not None:  # the server answered (408) and closed, or just closed
                            closed[sock] = (time.monotonic() - started, received)
                            continue
                        try:
                            sock.send(b"x-slow: 1\r\n"[:1] if what == "headers" else b" ")  # one byte more
                        except OSError:
                            closed[sock] = (time.monotonic() - started, b"")
                t0 = time.monotonic()
                assert client.get("/api/v1/health").status_code == 200
                answer_times.append(time.monotonic() - t0)
                answered += 1
                time.sleep(0.2)
        for socks in slow.values():
            for sock in socks:
                sock.close()
    assert answered > 15 and max(answer_times) < 1.5, (answered, max(answer_times))
    for what, limit in (("headers", header_timeout), ("body", body_timeout)):
        cut = [closed.get(sock) for sock in slow[what]]
        assert all(c is not None for c in cut), f"{sum(c is None for c in cut)} slow {what} never cut"
        assert all(limit - 0.5 < when < limit + 1.5 for when, _ in cut), (what, sorted(w for w, _ in cut)[::20])
        assert all(answer.startswith(b"HTTP/1.1 408 ") for _, answer in cut), (what, cut[0])
    # a head that never arrived names no language: both; a body's request asked for one (odd ones: ?lang=ja)
    titles = {what: [json.loads(closed[sock][1].partition(b"\r\n\r\n")[2])["title"] for sock in slow[what]]
              for what in slow}
    assert set(titles["headers"]) == {"Request timeout / リクエストのタイムアウト"}, set(titles["headers"])
    assert titles["body"] == ["Request timeout", "リクエストのタイムアウト"] * 10, titles["body"]


def test_serve_passes_its_limits_to_uvicorn(monkeypatch, hostile_atlas, runner):
    import uvicorn

    from clusteratlas.server.timeouts import TimedH11Protocol
    from tests.conftest import invoke

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    copy = hostile_atlas.parent / "serve-copy.duckdb"
    shutil.copyfile(hostile_atlas, copy)
    res = invoke(runner, "serve", "--atlas", copy, "--header-timeout", "7", "--body-timeout", "90",
                 "--keep-alive", "3", "--max-connections", "250", "--max-header-kb", "48", "--no-warm")
    assert res.exit_code == 0, res.output
    assert seen["http"].func is TimedH11Protocol
    assert seen["http"].keywords == {"header_timeout": 7.0, "body_timeout": 90.0}
    assert (seen["timeout_keep_alive"], seen["limit_concurrency"], seen["h11_max_incomplete_event_size"]) == \
        (3.0, 250, 48 * 1024)
    seen.clear()
    assert invoke(runner, "serve", "--atlas", copy, "--no-warm").exit_code == 0
    assert seen["http"].keywords == {"header_timeout": 10.0, "body_timeout": 60.0}  # the defaults
    assert seen["limit_concurrency"] == 500
