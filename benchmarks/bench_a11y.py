"""Accessibility figures of every page type, both languages, on the demo atlas (docs/web.md's table).

For each page: the axe-core violations (WCAG 2.0/2.1 A and AA rules and axe's best practices; all, and serious or
critical), the rules passed, the checks axe leaves for review, and what axe does not see: the charts that are
images with a name (``role="img"``, not ECharts' English value list) and those pointing to their figures in text
(``aria-describedby``), and script errors. Run it on a branch and on an older commit (``PYTHONPATH`` at that
commit's ``src``) to compare.

    PYTHONPATH=src python benchmarks/bench_a11y.py [--atlas demo.duckdb]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_accessibility import PAGES, TAGS  # noqa: E402
from tests.test_web import CHROMIUM, live_server  # noqa: E402

CHARTS = """() => Array.from(document.querySelectorAll('.chart')).map(e => [e.getAttribute('role') === 'img'
    && !!e.getAttribute('aria-label') && !e.getAttribute('aria-label').startsWith('This is a chart'),
    !!e.getAttribute('aria-describedby')])"""


def measure(atlas: Path) -> list[dict]:
    """One row per page type and language."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    rows = []
    with live_server(atlas) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 1200})
        for lang in ("en", "ja"):
            for kind, path in PAGES.items():
                page, errors = context.new_page(), []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                status = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}").status
                page.wait_for_timeout(1500)  # the charts drawn, or failed
                found = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}}).response
                charts = page.evaluate(CHARTS)
                rows.append({"page": kind, "lang": lang, "status": status,
                             "serious": sum(len(v["nodes"]) for v in found["violations"]
                                            if v["impact"] in ("serious", "critical")),
                             "violations": sum(len(v["nodes"]) for v in found["violations"]),
                             "passed": len(found["passes"]), "review": len(found["incomplete"]),
                             "charts": len(charts), "named": sum(c[0] for c in charts),
                             "described": sum(c[1] for c in charts), "errors": len(errors),
                             "axe": found["testEngine"]["version"]})
                page.close()
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atlas", type=Path, help="an atlas to serve (default: a new demo atlas)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        atlas = args.atlas
        if atlas is None:
            from clusteratlas.api import build_demo_atlas

            atlas = Path(tmp) / "demo.duckdb"
            build_demo_atlas(atlas, permutations=99)
        rows = measure(atlas)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
