"""Read routes: one per query of :mod:`clusteratlas.queries`, each answering with its provenance."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from clusteratlas import queries as Q
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries import answers as A
from clusteratlas.server.answering import answer_object, answer_table, service_of
from clusteratlas.server.auth import require_role
from clusteratlas.server.contract import OBJECT, TABULAR, WRITE_ERRORS, Format
from clusteratlas.server.formats import json_response
from clusteratlas.server.guard import Who

router = APIRouter()
#: The longest id (region, cluster, …) a route accepts, alone or in a comma-separated list.
MAX_ID = 200

Id = Annotated[str, Path(min_length=1, max_length=MAX_ID, description="An id as stored in the atlas")]
Text = Annotated[str | None, Query(max_length=200)]
Year = Annotated[int | None, Query(ge=1800, le=2200, description="Year (default: the latest)")]
Level = Annotated[str | None, Query(max_length=100, description="Region level (default: the largest level whose "
                                   "regions do not overlap)")]
Limit = Annotated[int, Query(ge=1, le=Q.MAX_PAGE, description="Rows per page")]
Top = Annotated[int, Query(ge=1, le=10_000)]
Cursor = Annotated[str | None, Query(max_length=200, description="The 'next' cursor of the previous page")]
Sort = Annotated[str | None, Query(max_length=300, description="Column(s) to sort by, '-col' for descending, "
                                   "comma-separated")]
Fmt = Annotated[Format | None, Query(alias="format", description="json, csv, parquet or xlsx (else the Accept "
                                     "header; default json). In CSV, text cells that begin with = + - @ (or a tab "
                                     "or carriage return) get a leading apostrophe, so that no spreadsheet runs "
                                     "them as formulas; add keep_formulas=true for the cells as stored; bom=true "
                                     "starts a CSV with a UTF-8 byte-order mark, so that Excel (Japanese Windows "
                                     "included) reads it as UTF-8")]
By = Annotated[Literal["cluster", "industry"], Query(description="Clusters or industries")]


def _id_list(text: str, name: str) -> list[str]:
    """Comma-separated ids, each at most :data:`MAX_ID` characters (a long list is fine, a 10,000-character
    id is not: 422 saying so)."""
    ids = [r.strip() for r in text.split(",") if r.strip()]
    for value in ids:
        if len(value) > MAX_ID:
            raise InputError(_("an id in '{name}' is too long").format(name=name), value=value[:40] + "…",
                             expected=_("comma-separated ids of at most {MAX_ID} "
                                        "characters each").format(MAX_ID=MAX_ID))
    return ids


@router.get("/health", tags=["service"], responses={200: {"description": "The server is up"}})
def health(request: Request) -> Response:
    """Liveness, what is served, the answer cache and how far its warm-up is (never cached)."""
    service = service_of(request)
    version, modified = service.stamp()
    service.ping()
    warmer = getattr(request.app.state, "warmer", None)
    return json_response({"status": "ok", "atlas": service.path.name, "version": version,
                          "last_modified": modified.isoformat(), "read_only": service.read_only,
                          "cache": {"answers": len(service.cache), "bytes": service.cache.size,
                                    "max_bytes": service.cache.max_bytes},
                          "warm_up": warmer.status() if warmer is not None else {"state": "off", "text": "off"}})


@router.get("/provenance", tags=["provenance"], responses=OBJECT)
async def provenance(request: Request) -> Response:
    """The atlas, its latest map run (definition, parameters, reference economy, time) and its source files."""
    return await answer_object(request, lambda con: service_of(request).provenance().as_dict())


@router.get("/map-runs", tags=["provenance"], responses=TABULAR)
async def map_runs(request: Request, fmt: Fmt = None) -> Response:
    """Every map run, newest first."""
    return await answer_table(request, fmt, "map-runs", Q.map_runs)


@router.get("/imports", tags=["provenance"], responses=TABULAR)
async def imports(request: Request, fmt: Fmt = None) -> Response:
    """Every imported file with its SHA-256, oldest first."""
    return await answer_table(request, fmt, "imports", Q.imports)


@router.get("/writes", tags=["provenance"], responses={**TABULAR, 401: WRITE_ERRORS[401], 403: WRITE_ERRORS[403]})
async def writes(request: Request, who: Who, fmt: Fmt = None) -> Response:
    """Every write made through the API: who (token ids and names), when, what, checksum (editor or admin)."""
    require_role(who, "editor")
    return await answer_table(request, fmt, "writes", Q.writes)


@router.get("/overview", tags=["regions"], responses=OBJECT)
async def overview(request: Request) -> Response:
    """The home page's figures: one level's regions and jobs in the latest year (``level``, ``year``,
    ``regions``, ``employment``: all industries), the regions of every level, and the clusters at that level."""
    return await answer_object(request, Q.overview)


# ------------------------------------------------------------------- regions
@router.get("/regions", tags=["regions"], responses=TABULAR)
async def regions(request: Request, q: Text = None, level: Level = None, parent: Text = None, limit: Limit = 100,
            cursor: Cursor = None, fmt: Fmt = None) -> Response:
    """Regions by id or name (English or Japanese), level and parent; paged by cursor."""
    return await answer_table(request, fmt, "regions", lambda con: Q.list_regions(con, q=q, level=level, parent=parent,
                                                                                  limit=limit, cursor=cursor))


@router.get("/regions/{region}", tags=["regions"], responses=OBJECT)
async def region(request: Request, region: Id, year: Year = None, level: Level = None,
           include_empty: bool = False, opportunities: Annotated[int, Query(ge=0, le=1000)] = 10) -> Response:
    """A region's profile: summary, every cluster with every metric, time series, related opportunities."""
    params = {"year": year, "level": level, "include_empty": include_empty, "opportunities": opportunities}
    return await answer_object(request, lambda con: A.ask(con, "region", region, **params),
                               held=lambda: A.held("region", region, params))


@router.get("/regions/{region}/clusters", tags=["regions"], responses=TABULAR)
async def region_clusters(request: Request, region: Id, year: Year = None, level: Level = None,
                    include_empty: bool = False, fmt: Fmt = None) -> Response:
    """A region's clusters (the profile's table), strongest first."""
    return await answer_table(request, fmt, f"region-{region}", lambda con: Q.region_clusters(
        con, region, year=year, level=level, include_empty=include_empty))


@router.get("/regions/{region}/indicators", tags=["regions"], responses=TABULAR)
async def region_indicators(request: Request, region: Id, fmt: Fmt = None) -> Response:
    """A region's indicators, each at its latest year there (year, value, unit): the region page's indicators."""
    return await answer_table(request, fmt, f"indicators-{region}", lambda con: Q.region_indicators(con, region))


@router.get("/compare", tags=["regions"], responses=TABULAR)
async def compare(request: Request, regions: Annotated[str, Query(min_length=1, max_length=5000,
                                                            description="2 to 25 region ids, comma-separated")],
            year: Year = None, level: Level = None, metric: Annotated[str, Query(max_length=100)] = "lq",
            fmt: Fmt = None) -> Response:
    """Two to 25 regions side by side: one row per region × cluster with every metric; ``meta['differences']``:
    per cluster, the regions where the metric is highest and lowest and the spread, largest first (the compare
    page's largest differences)."""
    ids = _id_list(regions, "regions")
    return await answer_table(request, fmt, "compare", lambda con: Q.compare_regions(con, ids, year=year, level=level,
                                                                                     metric=metric))


# ------------------------------------------------------------------ clusters
@router.get("/clusters", tags=["clusters"], responses=TABULAR)
async def clusters(request: Request, level: Level = None, year: Year = None, fmt: Fmt = None) -> Response:
    """The clusters of the latest map run, with names, type, and their jobs and strong regions at one level."""
    return await answer_table(request, fmt, "clusters", lambda con: Q.list_clusters(con, level=level, year=year))


@router.get("/clusters/{cluster}", tags=["clusters"], responses=OBJECT)
async def cluster(request: Request, cluster: Id, metric: Annotated[str, Query(max_length=100)] = "employment",
            level: Level = None, year: Year = None, top: Top = 20) -> Response:
    """A cluster's profile: definition, subclusters, industries, top regions by a metric, time series."""
    params = {"metric": metric, "level": level, "year": year, "top": top}
    return await answer_object(request, lambda con: A.ask(con, "cluster", cluster, **params),
                               held=lambda: A.held("cluster", cluster, params))


@router.get("/clusters/{cluster}/ranking", tags=["clusters"], responses=TABULAR)
async def cluster_ranking(request: Request, cluster: Id, metric: Annotated[str, Query(max_length=100)] = "employment",
                    level: Level = None, year: Year = None, top: Top = 20,
                    min_employment: Annotated[float | None, Query(ge=0, le=1e12)] = None,
                    fmt: Fmt = None) -> Response:
    """The regions of one level ranked by any metric of a cluster."""
    return await answer_table(request, fmt, f"ranking-{cluster}", lambda con: A.ask(
        con, "ranking", cluster, metric=metric, level=level, year=year, top=top, min_employment=min_employment))


@router.get("/clusters/{cluster}/map", tags=["clusters"], responses=TABULAR)
async def cluster_map(request: Request, cluster: Id, metric: Annotated[str, Query(max_length=100)] = "lq",
                level: Level = None, year: Year = None, fmt: Fmt = None,
                classes: Annotated[str, Query(max_length=20, description="auto (by metric: fixed LQ breaks around "
                                              "1, quantiles, diverging around 0 for growth), lq, quantiles or "
                                              "lisa (hot spots)")] = "auto") -> Response:
    """A map layer: every region's value of one metric of a cluster at one level, and its classes (``meta``)."""
    return await answer_table(request, fmt, f"map-{cluster}", lambda con: A.ask(
        con, "map", cluster, metric=metric, level=level, year=year, classes=classes))


@router.get("/clusters/{cluster}/related", tags=["clusters"], responses=TABULAR)
async def related(request: Request, cluster: Id, top: Annotated[int, Query(ge=1, le=1000)] = 10,
            fmt: Fmt = None) -> Response:
    """The most related clusters (or industries) by proximity, co-location and co-agglomeration."""
    return await answer_table(request, fmt, f"related-{cluster}", lambda con: Q.related_clusters(con, cluster, top=top))


# ------------------------------------------------------------------- results
@router.get("/results", tags=["results"], responses=TABULAR)
async def results(request: Request, level: Level = None, year: Year = None, cluster: Text = None,
            type: Annotated[Literal["traded", "local"] | None, Query()] = None,
            stars_min: Annotated[int | None, Query(ge=0, le=10)] = None, strong: bool | None = None,
            regions: Annotated[str | None, Query(max_length=20_000, description="Region ids, comma-separated")]
            = None, sort: Sort = None, limit: Limit = 1000, cursor: Cursor = None, fmt: Fmt = None) -> Response:
    """Region × cluster results: filters, sort by any column, cursor pagination."""
    filters = Q.ResultFilters(level=level, year=year, cluster=cluster, type=type, stars_min=stars_min,
                              strong=strong, regions=_id_list(regions, "regions") if regions is not None else None)
    return await answer_table(request, fmt, "results", lambda con: Q.results(con, filters, sort=sort, limit=limit,
                                                                             cursor=cursor))


# ------------------------------------------------------------------ analyses
@router.get("/complexity/{of}", tags=["analyses"], responses=TABULAR)
async def complexity(request: Request, of: Literal["regions", "items"], by: By = "cluster", level: Level = None,
               year: Year = None, sort: Sort = None, limit: Limit = 1000, fmt: Fmt = None) -> Response:
    """Complexity rankings: regions (ECI, COI, diversity…) or clusters/industries (PCI, ubiquity…)."""
    return await answer_table(request, fmt, f"complexity-{of}", lambda con: Q.complexity(
        con, of=of, by=by, level=level, year=year, sort=sort, limit=limit))


@router.get("/hotspots", tags=["analyses"], responses=TABULAR)
async def hotspots(request: Request, item: Text = None, by: By = "cluster", level: Level = None, year: Year = None,
             value: Literal["lq", "employment", "share"] = "lq", significant: bool = True, limit: Limit = 1000,
             fmt: Fmt = None) -> Response:
    """Spatial hot spots (LISA high-high, Gi*) of the stored run; global Moran's I in meta."""
    return await answer_table(request, fmt, "hotspots", lambda con: Q.hotspots(
        con, item=item, by=by, level=level, year=year, value=value, significant=significant, limit=limit))


@router.get("/shift-share", tags=["analyses"], responses=TABULAR)
async def shift_share(request: Request, start: Year = None, end: Year = None, region: Text = None, item: Text = None,
                by: By = "cluster", sort: Sort = None, limit: Limit = 1000, fmt: Fmt = None) -> Response:
    """Stored shift-share components per region × item (default: the latest stored period)."""
    return await answer_table(request, fmt, "shift-share", lambda con: Q.shift_share(
        con, start=start, end=end, region=region, item=item, by=by, sort=sort, limit=limit))


@router.get("/indicators", tags=["analyses"], responses=TABULAR)
async def indicators(request: Request, fmt: Fmt = None) -> Response:
    """The indicators in the atlas (units, years, regions)."""
    return await answer_table(request, fmt, "indicators", Q.indicator_names)


@router.get("/indicators/{indicator}", tags=["analyses"], responses=TABULAR)
async def indicator(request: Request, indicator: Id, per: Text = None,
              scale: Annotated[float, Query(gt=0, lt=1e12)] = 1000.0, year: Year = None,
              fmt: Fmt = None) -> Response:
    """An indicator by region and year; with ``per`` (employment or another indicator), a rate."""
    return await answer_table(request, fmt, f"indicator-{indicator}", lambda con: Q.indicator(con, indicator, per=per,
                                                                                              scale=scale, year=year))


# ---------------------------------------------------------------- evaluation
@router.get("/frameworks", tags=["evaluation"], responses=TABULAR)
async def frameworks(request: Request, fmt: Fmt = None) -> Response:
    """Evaluation frameworks: built in and stored in the atlas."""
    return await answer_table(request, fmt, "frameworks", Q.frameworks)


@router.get("/frameworks/{framework}", tags=["evaluation"], responses=OBJECT)
async def framework(request: Request, framework: Id, version: Text = None) -> Response:
    """One framework's document (factors, columns, scales)."""
    return await answer_object(request, lambda con: Q.framework(con, framework, version))


@router.get("/frameworks/{framework}/averages", tags=["evaluation"], responses=TABULAR)
async def framework_averages(request: Request, framework: Id, by: Text = None,
                             reference: Annotated[bool | None, Query(description="NISTEP's published averages "
                                                                     "beside (default: on for nistep-jp-15)")]
                             = None, fmt: Fmt = None) -> Response:
    """Mean points per group × column × factor of a framework's assessments, grouped by a tag or field
    (e.g. formation_base), with NISTEP's published table beside for nistep-jp-15."""
    return await answer_table(request, fmt, f"averages-{framework}", lambda con: Q.group_averages(
        con, framework, by=by, reference=reference))


@router.get("/assessments", tags=["evaluation"], responses=TABULAR)
async def assessments(request: Request, framework: Text = None, subject: Text = None, all_revisions: bool = False,
                fmt: Fmt = None) -> Response:
    """Assessments: the current revision of each (or every revision)."""
    return await answer_table(request, fmt, "assessments", lambda con: Q.assessments(
        con, framework=framework, subject=subject, all_revisions=all_revisions))


@router.get("/assessments/{assessment}", tags=["evaluation"], responses=OBJECT)
async def assessment(request: Request, assessment: Id) -> Response:
    """One assessment with its full revision history, scores and evidence."""
    return await answer_object(request, lambda con: Q.assessment(con, assessment))


@router.get("/programmes", tags=["evaluation"], responses=TABULAR)
async def programmes(request: Request, programme: Text = None, fmt: Fmt = None) -> Response:
    """Japan's cluster programme registry."""
    return await answer_table(request, fmt, "programmes", lambda con: Q.programmes(con, programme=programme))
