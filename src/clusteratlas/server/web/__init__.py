"""The web observatory: server-rendered pages over the query layer.

Each page is one or a few calls into :mod:`clusteratlas.queries` (the same
calls its JSON twin, the ``/api/v1`` route it links to, makes), rendered with
Jinja2. Tables are plain HTML (readable with JavaScript off); JavaScript only
draws the charts and maps with the vendored Apache ECharts, from data that is
in the page or from the geometry route. Nothing is loaded from another host.

Every interface string goes through the ``web`` gettext catalogue
(``clusteratlas/i18n/locales/<lang>/LC_MESSAGES/web.po``); a string the
catalogue lacks is reported to :data:`clusteratlas.i18n.MISS_HOOKS`, which the
tests use to fail on any untranslated label of a Japanese page.
"""

from __future__ import annotations

import gettext
import json
from functools import cache
from importlib import resources
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from clusteratlas import i18n
from clusteratlas import queries as Q
from clusteratlas.errors import InputError
from clusteratlas.model import REGION_LEVELS
from clusteratlas.queries import answers as A
from clusteratlas.queries._core import Missing, level_counts, to_rows
from clusteratlas.queries.lookup import search, search_variants  # the search box's forgiving match, as the CLI's
from clusteratlas.reference.programmes import programme_name
from clusteratlas.server.answering import answer_object, answer_table
from clusteratlas.server.contract import OBJECT, TABULAR
from clusteratlas.server.formats import accepted, dumps
from clusteratlas.server.language import LANG_COOKIE, language
from clusteratlas.sources.codes import visible

HERE = FilePath(__file__).resolve().parent
DOMAIN = "web"
METRICS = ("lq", "stars", "strong", "employment", "employment_cagr")
MAX_COMPARE = 25
PROGRAMMES_PER_PAGE = 25  # the evaluations page lists programmes a page at a time (143 made a 7,500-pixel table)
router = APIRouter(include_in_schema=False)
api_router = APIRouter()


# ------------------------------------------------------------------ language
@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The pages' catalogue of one language (English: the source text)."""
    if lang == "en":
        return gettext.NullTranslations()
    with resources.as_file(resources.files("clusteratlas.i18n").joinpath("locales")) as folder:
        return gettext.translation(DOMAIN, localedir=str(folder), languages=[lang])


def translate(lang: str, msgid: str) -> str:
    """``msgid`` in ``lang``; a miss is reported to the i18n miss hooks and shows the English text."""
    if lang == "en" or not msgid:
        return msgid
    table = getattr(catalogue(lang), "_catalog", {})
    if msgid not in table:
        for hook in i18n.MISS_HOOKS:
            hook(lang, msgid)
        return msgid
    return table[msgid]


def fmt_number(value: Any, lang: str, digits: int = 0) -> str:
    """A number formatted for the locale (Babel); empty for a missing value."""
    if value is None or value == "":
        return ""
    from babel.numbers import format_decimal

    value = int(value) if isinstance(value, bool) else value  # a yes/no metric (strong) as 1 or 0

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale="ja_JP" if lang == "ja" else "en_US")


def fmt_percent(value: Any, lang: str, digits: int = 1) -> str:
    if value is None:
        return ""
    from babel.numbers import format_percent

    return format_percent(value, format="#,##0." + "0" * digits + "%", locale="ja_JP" if lang == "ja" else "en_US")


@cache
def environment(lang: str) -> jinja2.Environment:
    """One Jinja2 environment per language (the i18n extension bound to that language's catalogue)."""
    # every value written into a page is HTML-escaped (autoescape) and shows invisible or direction-changing
    # characters as <U+XXXX> (finalize: names come from imported files); JSON for the scripts is escaped for a
    # <script> element by tojson_safe and left to app.js's own shown()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=jinja2.select_autoescape(["html"]), extensions=["jinja2.ext.i18n"],
                             trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda value: visible(value) if type(value) is str else value)
    env.install_gettext_callables(gettext=lambda m: translate(lang, m),
                                  ngettext=lambda s, p, n: translate(lang, s if n == 1 else p), newstyle=True)
    env.filters["num"] = lambda v, d=0: fmt_number(v, lang, d)
    env.filters["pct"] = lambda v, d=1: fmt_percent(v, lang, d)
    env.filters["stars"] = lambda v: "★" * int(v or 0)
    env.filters["tojson_safe"] = lambda v: jinja2.utils.markupsafe.Markup(
        dumps(v).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    # a name shows its invisible characters even inside a translated sentence ("LQ of {name}"), which finalize
    # does not see (the sentence is Markup, not str)
    env.globals["name"] = lambda en, ja, fallback="": visible(
        ((ja or en or fallback) if lang == "ja" else (en or ja or fallback)) or "")
    env.filters["level"] = lambda v: translate(lang, v) if v in REGION_LEVELS else (v or "")  # county → 郡
    env.globals["reference_economy"] = lambda run: reference_economy(run, lang)
    env.globals["map_labels"] = lambda: map_labels(lang)
    env.globals["level_names"] = lambda: {lv: translate(lang, lv) for lv in REGION_LEVELS}
    return env


def map_labels(lang: str) -> dict[str, str]:
    """The words app.js writes on a map (legend, tooltip, notes) in ``lang``."""
    words = {"employment": "Employment", "nodata": "no data", "missing": "Regions without a shape in the map file",
             "hot": "hot spot (high-high)", "cold": "cold spot (low-low)", "other": "not a hot spot", "yes": "yes",
             "no": "no", "nostar": "no star", "allregions": "all regions (no classes)",
             "strong": "strong (US Cluster Mapping Project)"}
    return {k: translate(lang, v) for k, v in words.items()}


def reference_economy(run: dict[str, Any], lang: str) -> str:
    """A map run's reference economy (its ``map_run`` in the provenance) in words in ``lang``, as the CLI says
    it (:func:`clusteratlas.report.reference_words`: the label in words, the spec as its ``--reference`` value)."""
    from clusteratlas.report import reference_words

    spec = run.get("spec") or {}
    with i18n.language_for(lang):
        return reference_words(None if spec.get("files") else spec.get("reference"), run.get("reference_label"))


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one): page state lives in the URL."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def render(request: Request, template: str, *, twin: str | None, downloads: dict[str, str] | None = None,
           **context: Any) -> Response:
    """A page in the visitor's language, with its JSON twin, downloads and the provenance footer."""
    lang = language(request)
    service = request.app.state.service
    provenance = service.provenance().as_dict()
    # a page's CSV opens in Excel, Japanese Windows included: UTF-8 with a byte-order mark
    downloads = {k: v + "&bom=true" if "format=csv" in v else v for k, v in (downloads or {}).items()}
    html = environment(lang).get_template(template).render(
        request=request, lang=lang, twin=twin, downloads=downloads, provenance=provenance,
        url_with=lambda **kw: url_with(request, **kw), other_lang="en" if lang == "ja" else "ja", **context)
    response = HTMLResponse(html)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="lax")
    return response


def _con(request: Request):
    return request.app.state.service.reader()


def _maybe(call, *args, **kwargs):
    """A query's answer, or None when the atlas has not computed it (the page then says so)."""
    try:
        return call(*args, **kwargs)
    except Missing:
        return None


# --------------------------------------------------------------------- pages
@router.get("/", response_class=HTMLResponse)
def home(request: Request, colour: str = Query("strong", max_length=200)) -> Response:
    """The home page: a map of the atlas' top level with shapes (:func:`~clusteratlas.queries.home_level`)
    coloured by the number of strong clusters or by one cluster's LQ (``colour``), the finder, and the
    regions by level and the clusters by type."""
    con = _con(request)
    overview = _maybe(Q.overview, con)
    view = overview.as_dict() if overview else None
    top = view["clusters"] if view else []  # largest first
    level = Q.home_level(con) if view else None
    layer = None
    if level:
        known = {c["cluster"] for c in top}
        colour = colour if colour in known else "strong"
        layer = Q.strong_map(con, level=level) if colour == "strong" else Q.map_layer(con, colour, level=level)
    by_type: dict[str, list[dict]] = {}
    for c in sorted(top, key=lambda r: (r.get("cluster_name") or r["cluster"])):
        by_type.setdefault(c.get("type") or "", []).append(c)
    lang = language(request)
    return render(request, "home.html", twin="/api/v1/overview", clusters=top, overview=view,
                  downloads={"CSV": "/api/v1/clusters?format=csv", "Excel": "/api/v1/clusters?format=xlsx"},
                  map_level=level, colour=colour, layer=layer.rows() if layer else [],
                  map_classes=layer.meta["classes"] if layer else None,
                  classes_note=classes_note(layer.meta["classes"], lang) if layer else None,
                  by_type=by_type, regions_by_level=Q.region_index(con) if view else {})


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = Query("", max_length=200)) -> Response:
    regions, clusters = search(_con(request), q) if q.strip() else ([], [])
    if len(regions) + len(clusters) == 1 and request.query_params.get("go"):
        target = f"/regions/{regions[0]['region']}" if regions else f"/clusters/{clusters[0]['cluster']}"
        return RedirectResponse(target, status_code=303)
    return render(request, "search.html", twin=f"/api/v1/regions?{urlencode({'q': q})}", q=q, regions=regions,
                  clusters=clusters)


@router.get("/regions/{region}", response_class=HTMLResponse)
def region_page(request: Request, region: str, year: int | None = None, level: str | None = None) -> Response:
    con = _con(request)
    profile = A.data(A.ask(con, "region", region, year=year, level=level, include_empty=False, opportunities=10))
    largest = Q.region_top_series(con, region, level=profile["level"], year=profile["year"], top=5)
    series: dict[str, list[list[Any]]] = {c: [] for c in largest.meta["clusters"]}  # the chart's shape
    for r in largest.rows():
        series[r["cluster"]].append([r["year"], r["employment"]])
    indicators = Q.region_indicators(con, region).rows()
    assessed = _maybe(Q.assessments, con, subject=region)
    _told, story = _story(con, region, year, level, language(request))
    summary = profile["summary"]
    one_year = len(summary["years"]) == 1
    geo = Q.geometry_levels(con)
    q = urlencode({k: v for k, v in (("year", year), ("level", level)) if v is not None})
    return render(request, "region.html", twin=f"/api/v1/regions/{region}" + (f"?{q}" if q else ""),
                  downloads={"CSV": f"/api/v1/regions/{region}/clusters?format=csv" + (f"&{q}" if q else ""),
                             "Excel": f"/api/v1/regions/{region}/clusters?format=xlsx" + (f"&{q}" if q else "")},
                  p=profile, one_year=one_year, series=series, indicators=indicators,
                  assessments=assessed.rows() if assessed else [], map_level=profile["level"]
                  if profile["level"] in geo else None, story=story, report_query=q)


def _story(con, region: str, year: int | None, level: str | None, lang: str):
    """A region's story (:func:`clusteratlas.queries.story.region_story`) in ``lang``, and its paragraphs as the
    templates read them."""
    from clusteratlas.queries.story import footnotes, paragraphs, region_story

    with i18n.language_for(lang):
        told = region_story(con, region, year=year, level=level)
    notes = footnotes(told)
    story = [[s.as_dict() for s in paragraph] for paragraph in paragraphs(told)]
    for part in (p for paragraph in story for s in paragraph for p in s["parts"]):
        if part.get("href") in notes and not isinstance(part.get("value"), str):
            part["note"] = notes.index(part["href"]) + 1  # printed after the number (the link is lost on paper)
    return told, story


@router.get("/regions/{region}/report", response_class=HTMLResponse)
def region_report(request: Request, region: str, year: int | None = None, level: str | None = None) -> Response:
    """A region's printable one-page report: its story and its largest clusters (print CSS: one A4 page)."""
    con = _con(request)
    told, story = _story(con, region, year, level, language(request))
    profile = Q.region_profile(con, told.region, year=told.year, level=told.level, opportunities=0).as_dict()
    by_id = {c["cluster"]: c for c in profile["clusters"]}
    top = [by_id[c] for c in Q.region_top_series(con, told.region, level=told.level, year=told.year,
                                                  top=8).meta["clusters"]]  # its largest clusters, as the page's
    q = urlencode({"level": told.level, "year": told.year, "lang": language(request)})
    from clusteratlas.queries.story import footnotes

    return render(request, "report.html", twin=f"/api/v1/regions/{region}/story?{q}", p=profile, story=story,
                  top=top, one_year=len(profile["summary"]["years"]) == 1, notes=footnotes(told),
                  site=str(request.base_url).rstrip("/"))


@router.get("/clusters/{cluster}", response_class=HTMLResponse)
def cluster_page(request: Request, cluster: str, level: str | None = None, year: int | None = None,
                 metric: str = "lq", classes: str = "auto") -> Response:
    con = _con(request)
    lang = language(request)
    profile = A.data(A.ask(con, "cluster", cluster, metric="employment", level=level, year=year, top=20))
    level, year = profile["level"], profile["year"]
    classes = "lisa" if classes == "hotspots" else classes  # the name of the hot-spot classes before issue 22
    layer = Q.map_layer(con, cluster, metric="employment_cagr" if metric == "growth" else metric,
                        level=level, year=year, classes=classes)
    related = _maybe(lambda: Q.related_clusters(con, cluster, top=10, level=level))
    levels = sorted(level_counts(con))  # the levels with results, as the static edition lists them
    q = urlencode({"metric": layer.meta["metric"], "level": level, "year": year, "classes": classes})
    one_year = len(profile["series"]) == 1
    shown = layer.meta["classes"]
    return render(request, "cluster.html", one_year=one_year,
                  twin=f"/api/v1/clusters/{cluster}?level={level}&year={year}",
                  map_twin=f"/api/v1/clusters/{cluster}/map?{q}",
                  downloads={"CSV": f"/api/v1/clusters/{cluster}/ranking?format=csv&top=10000&level={level}",
                             "Excel": f"/api/v1/clusters/{cluster}/ranking?format=xlsx&top=10000&level={level}"},
                  p=profile, layer=layer.rows(), metric=layer.meta["metric"], metrics=METRICS, classes=classes,
                  map_classes=shown, classes_note=classes_note(shown, lang, {
                      cluster: (profile["name_ja"] if lang == "ja" else profile["name"]) or cluster}),
                  level=level, levels=levels, has_geometry=level in Q.geometry_levels(con),
                  related=related.rows() if related else None)


def classes_note(classes: dict[str, Any], lang: str, names: dict[str, str] | None = None) -> str | None:
    """Why a map has no classes or no hot spot, in ``lang`` (the reason's English text is the catalogue's
    msgid; a cluster's code is replaced by its name and a level by its name in ``lang``)."""
    if not classes.get("reason_template"):
        return None
    values = dict(classes["reason_values"])
    if "cluster" in values:
        values["cluster"] = (names or {}).get(values["cluster"], values["cluster"])
    if "value" in values:
        values["value"] = fmt_number(values["value"], lang, 2)
    if "n" in values:
        values["n"] = fmt_number(values["n"], lang)
    if "level" in values:
        values["level_name"] = translate(lang, values["level"]) if values["level"] in REGION_LEVELS \
            else values["level"]
    return translate(lang, classes["reason_template"]).format(**values)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, regions: str = Query("", max_length=5000), metric: str = "lq",
                 peers: str | None = Query(None, max_length=200), year: int | None = None) -> Response:
    con = _con(request)
    ids = [r.strip() for r in regions.split(",") if r.strip()][:MAX_COMPARE]
    peer_rows = Q.peer_regions(con, peers, n=9).rows() if peers else []
    if peers and not ids:
        ids = [peers, *[r["region"] for r in peer_rows]]
    table, meta = [], {}
    if len(set(ids)) >= 2:
        answer = Q.compare_regions(con, ids, metric=metric, year=year)
        table, meta = answer.rows(), answer.meta
    clusters: dict[str, dict] = {}
    for row in table:
        entry = clusters.setdefault(row["cluster"], {"cluster": row["cluster"], "name": row.get("cluster_name"),
                                                     "name_ja": row.get("cluster_name_ja"), "cells": {}})
        entry["cells"][row["region"]] = row
    names = {s["region"]: s for s in meta.get("summaries", [])}
    # the small multiples need one figure per cell and the regions' names; the table above has the rest
    chart_rows = [{**{k: entry[k] for k in ("cluster", "name", "name_ja")},
                   "cells": {r: c.get(metric) for r, c in entry["cells"].items()}} for entry in clusters.values()]
    chart_names = {r: {"name": s.get("name"), "name_ja": s.get("name_ja")} for r, s in names.items()}
    q = urlencode({"regions": ",".join(ids), "metric": metric})
    return render(request, "compare.html", twin=f"/api/v1/compare?{q}" if len(ids) >= 2 else None,
                  downloads={"CSV": f"/api/v1/compare?{q}&format=csv", "Excel": f"/api/v1/compare?{q}&format=xlsx"}
                  if len(ids) >= 2 else {}, ids=ids, rows=list(clusters.values()), names=names, metric=metric,
                  chart_rows=chart_rows, chart_names=chart_names,
                  differences=meta.get("differences", [])[:10], peer_rows=peer_rows, peers=peers, regions=regions,
                  levels=list(level_counts(con)),
                  pick_level=(meta.get("summaries") or [{}])[0].get("level") if meta else None,
                  max_compare=MAX_COMPARE)


def _tag_value_name(value: str) -> tuple[str | None, str | None]:
    """(English, Japanese) name of a categorical value of a built-in framework (``growth``: 成長・安定期), else
    the value itself; how an assessment's tags (phase, creation type) are shown."""
    from clusteratlas.evaluate.frameworks import builtin_frameworks

    for fw in builtin_frameworks().values():
        for scale in fw.scales.values():
            for v in getattr(scale, "values", None) or []:
                if getattr(v, "value", None) == value:
                    return v.name or value, v.name_ja or v.name or value
    return value, value


@cache
def _place_names() -> dict[str, tuple[str | None, str | None]]:
    """Names of the places programmes lie in: Japan's prefectures and METI bureaus (built in)."""
    from clusteratlas.reference.japan import prefectures

    table = prefectures()
    return {r: (en, ja) for r, en, ja in zip(table["region"].to_pylist(), table["name"].to_pylist(),
                                             table["name_ja"].to_pylist(), strict=True)}


def _default_grouping(framework: str) -> str | None:
    """NISTEP published its averages by formation base: group nistep-jp-15 that way unless asked otherwise."""
    from clusteratlas.reference.programmes import NISTEP_FRAMEWORK, NISTEP_GROUPING

    return NISTEP_GROUPING if framework == NISTEP_FRAMEWORK else None


def _averages_view(result: Q.TableResult, document: dict | None = None) -> dict:
    """The query's long rows (group × column × factor) laid out as the page's table: a row per factor, a column
    per group × framework column, and the published figure beside each when there is one.

    Each head has the group's and the column's names (NISTEP's published groups and the framework's columns in
    English and Japanese), and ``empty`` says whether some group has no assessment (the page says why)."""
    from clusteratlas.reference.programmes import published_group_name

    columns = {c.get("id"): (c.get("name"), c.get("name_ja")) for c in (document or {}).get("columns", [])}
    rows = result.rows()
    heads = list(dict.fromkeys((r["group"], r["column"], r["assessments"]) for r in rows))
    published = any(r["published"] is not None for r in rows)
    cells = {(r["group"], r["column"], r["factor"]): r for r in rows}
    factors = list(dict.fromkeys((r["factor"], r["number"], r["name"], r["name_ja"]) for r in rows))
    table = [{"factor": f, "number": n, "name": en, "name_ja": ja,
              "values": [v for g, c, _ in heads for v in ((cells.get((g, c, f)) or {}).get("mean"),
                                                            *(((cells.get((g, c, f)) or {}).get("published"),)
                                                              if published else ()))]}
             for f, n, en, ja in factors]
    return {"framework": result.meta["framework"], "by": result.meta["by"], "published": published,
            "heads": [{"group": g, "column": c, "n": n, "group_name": published_group_name(g),
                       "column_name": columns.get(c, (None, None))} for g, c, n in heads], "rows": table,
            "empty": any(n == 0 for _g, _c, n in heads),
            "notes": result.meta["notes"]}


@router.get("/evaluations", response_class=HTMLResponse)
def evaluations_page(request: Request, programme: str | None = Query(None, max_length=100),
                     phase: str | None = Query(None, max_length=100), region: str | None = Query(None, max_length=200),
                     q: str | None = Query(None, max_length=200), page: int = Query(1, ge=1, le=10_000)
                     ) -> Response:
    """Assessments and programmes, filtered by programme, phase, region and text (the filters' state is in the
    URL), with the programmes' map; the programme list in pages of :data:`PROGRAMMES_PER_PAGE`."""
    from clusteratlas.queries.evaluation import filter_assessments, filter_programmes

    con = _con(request)
    listed = _maybe(Q.assessments, con)
    every = listed.rows() if listed else []
    rows = filter_assessments(every, phase=phase, region=region, text=q)
    radars = []
    for row in rows[:48]:
        points = Q.assessment_points(con, row["assessment"])
        tags = points["tags"]
        radars.append({"assessment": row["assessment"], "name": row.get("subject_name"),
                       "tag_names": {k: _tag_value_name(v) for k, v in tags.items()},
                       "name_ja": row.get("subject_name_ja"), "framework": row["framework"], "tags": tags,
                       "axes": [{"name": f["name"], "name_ja": f["name_ja"], "id": f["id"]} for f in points["factors"]],
                       "columns": points["column_names"], "series": points["points"]})
    by = request.query_params.get("by") or None
    averages = []
    for key in dict.fromkeys(r["framework"] for r in rows):
        try:
            averages.append(_averages_view(Q.group_averages(con, key, by=by or _default_grouping(key)),
                                           Q.framework(con, key)["document"]))
        except InputError as exc:  # categories only, or nothing to group by: say so instead of a table
            averages.append({"framework": key, "by": by, "heads": [], "rows": [], "published": False,
                             "notes": [" ".join(x for x in (exc.problem, exc.hint) if x)]})
    frameworks = Q.frameworks(con).rows()
    programmes = _maybe(Q.programmes, con)
    all_programmes = programmes.rows() if programmes else []
    programmes = filter_programmes(all_programmes, programme=programme, region=region, text=q)
    places = _place_names()
    for p in programmes:  # the programme and its places by name (a METI bureau's id is no name)
        p["programme_name"] = programme_name(p["programme"])
        p["places"] = [places.get(r, (r, r)) for r in (p.get("regions") or "").split()]
    phases = sorted({json.loads(r["tags"]).get("phase") if isinstance(r.get("tags"), str) else None
                     for r in every} - {None})
    kinds = list(dict.fromkeys(r["programme"] for r in all_programmes))
    in_regions = sorted({x for r in all_programmes for x in (r.get("regions") or "").split()}
                        | {r.get("region") for r in every if r.get("region")})
    filters = {"programme": programme, "phase": phase, "region": region, "q": q}
    return render(request, "evaluations.html", twin="/api/v1/assessments",
                  downloads={"CSV": "/api/v1/assessments?format=csv", "Excel": "/api/v1/assessments?format=xlsx"},
                  assessments=rows, radars=radars, averages=averages, by=by, frameworks=frameworks,
                  programmes=programmes, all_programmes=len(all_programmes), all_assessments=len(every),
                  listed=programmes[(page - 1) * PROGRAMMES_PER_PAGE:page * PROGRAMMES_PER_PAGE], page=page,
                  first=(page - 1) * PROGRAMMES_PER_PAGE + 1,
                  last=min(page * PROGRAMMES_PER_PAGE, len(programmes)),
                  pages=max(1, -(-len(programmes) // PROGRAMMES_PER_PAGE)),
                  filters=filters, phases=[(v, _tag_value_name(v)) for v in phases],
                  kinds=[(k, programme_name(k)) for k in kinds],
                  places=[(r, places.get(r, (None, None))) for r in in_regions],
                  has_prefectures="prefecture" in Q.geometry_levels(con))


# --------------------------------------------------------- geometry (JSON twin)
@api_router.get("/geometry", tags=["geometry"], responses=OBJECT)
async def geometry_levels(request: Request) -> Response:
    """The region levels that have shapes for the maps."""
    return await answer_object(request, lambda con: {"levels": Q.geometry_levels(con)})


@api_router.get("/geometry/{level}", tags=["geometry"], responses=OBJECT)
async def geometry(request: Request, level: Annotated[str, Path(min_length=1, max_length=100,
                                                               description="A region level with shapes")]) -> Response:
    """Simplified shapes of every region of a level, as a GeoJSON FeatureCollection (in ``data``)."""
    return await answer_object(request, lambda con: Q.geometry(con, level))


@api_router.get("/regions/{region}/story", tags=["regions"], responses=OBJECT)
async def region_story(request: Request, region: Annotated[str, Path(min_length=1, max_length=200)],
                       year: int | None = None, level: Annotated[str | None, Query(max_length=100)] = None,
                       lang: Annotated[str, Query(pattern="^(en|ja)$")] = "en") -> Response:
    """A region told in words: sentences of text and figures, each figure with its value and the address of the
    answer it comes from (the region page's story, ``show region --story``)."""
    from clusteratlas.queries.story import region_story as told
    def build(con):
        with i18n.language_for(lang):
            return told(con, region, year=year, level=level)

    return await answer_object(request, build)


@api_router.get("/suggest", tags=["regions"], responses=OBJECT)
async def suggestions(request: Request, q: Annotated[str, Query(max_length=200, description="What is typed")] = "",
                      level: Annotated[str | None, Query(max_length=100, description="Regions of this level only")]
                      = None,
                      kind: Annotated[str, Query(pattern="^(region|cluster|all)$", description="region, cluster, all")]
                      = "all",
                      limit: Annotated[int, Query(ge=1, le=50)] = 8) -> Response:
    """Suggestions for a search box: regions and clusters whose code or name (English or Japanese, folded for
    case, width and kana, as the search page and the CLI fold them) contains ``q``, those starting with it first."""
    kinds = ("region", "cluster") if kind == "all" else (kind,)
    return await answer_object(request, lambda con: {"suggestions": Q.suggest(con, q, limit=limit, level=level,
                                                                              kinds=kinds)})


@api_router.get("/regions/{region}/peers", tags=["regions"], responses=TABULAR)
async def peers(request: Request, region: Annotated[str, Path(min_length=1, max_length=200)],
                n: Annotated[int, Query(ge=1, le=50)] = 9, fmt: Annotated[str | None, Query(alias="format")] = None
                ) -> Response:
    """The ``n`` regions of the same level closest in size (total employment, log scale) to ``region``: the
    compare page's peers."""
    return await answer_table(request, fmt, f"peers-{region}", lambda con: Q.peer_regions(con, region, n=n))


def mount(app: FastAPI) -> None:
    """Add the pages, their static assets and the geometry route to the API app.

    Errors on a page (an unknown region, a bad parameter) answer an HTML page that says what was wrong;
    the API's routes keep their problem documents. Outside the API an HTTP error (an unknown path, a wrong
    method) is an HTML page when the ``Accept`` header prefers HTML to JSON (a browser), else a problem
    document (a script, curl).
    """
    api_handler = app.exception_handlers[InputError]
    http_handler = app.exception_handlers[StarletteHTTPException]

    def input_error(request: Request, exc: InputError) -> Response:
        if request.url.path.startswith("/api/"):
            return api_handler(request, exc)
        status = 404 if isinstance(exc, Q.NotFound | Missing) else 422
        with i18n.language_for(language(request)):  # the message in the page's language
            message = str(exc)
        response = render(request, "error.html", twin=None, status=status, message=message,
                          value=getattr(exc, "value", None), expected=getattr(exc, "expected", None),
                          hint=getattr(exc, "hint", None))
        response.status_code = status
        return response

    api_validation = app.exception_handlers[RequestValidationError]

    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        """A page's bad query parameter (a search text too long, a year that is no number): the error page, not
        the API's problem document, which a browser would show as raw JSON."""
        if request.url.path.startswith("/api/"):
            return api_validation(request, exc)
        lang = language(request)
        wrong = [str(e.get("loc", ("", ""))[-1]) for e in exc.errors()]
        limits = [e.get("ctx", {}).get("max_length") for e in exc.errors() if e.get("type") == "string_too_long"]
        expected = (translate(lang, "at most {n} characters").format(n=limits[0]) if limits
                    else translate(lang, "a valid value"))
        response = render(request, "error.html", twin=None, status=422,
                          message=translate(lang, "A parameter of this address is not valid"),
                          value=", ".join(wrong), expected=expected, hint=None)
        response.status_code = 422
        return response

    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wanted = accepted(request.headers.get("accept"), ("application/problem+json", "application/json",
                                                          "text/html"))
        if request.url.path.startswith("/api/") or wanted != "text/html":
            return http_handler(request, exc)
        message = translate(language(request), "No page at this address") if exc.status_code == 404 \
            else str(exc.detail)
        response = render(request, "error.html", twin=None, status=exc.status_code, message=message,
                          value=request.url.path, expected=None, hint=None)
        response.status_code = exc.status_code
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="web-static")
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(router)


__all__ = ["json", "language", "mount", "render", "search", "search_variants", "to_rows"]
