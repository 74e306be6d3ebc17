"""One interface to an observatory, local or remote: the same questions, the same answers.

:class:`LocalObservatory` asks :mod:`clusteratlas.queries` on an atlas file;
:class:`RemoteObservatory` asks a ``clusteratlas serve`` over HTTP. Both answer
``table(name, ...)`` with a :class:`pyarrow.Table` (the rows of the API route;
remote answers travel as Parquet, so types survive) and ``region(...)`` /
``cluster(...)`` with the profile as a plain dict (the ``data`` of the JSON
route), so code written against one runs against the other::

    obs = RemoteObservatory("http://localhost:8000")   # or LocalObservatory("atlas.duckdb")
    obs.table("ranking", cluster="C01", metric="lq", top=10)
    obs.region("S1C1")["summary"]["employment"]
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from clusteratlas import queries as Q
from clusteratlas._sql import plain_connect
from clusteratlas.errors import InputError
from clusteratlas.i18n import _

#: Tabular questions: name -> (API path, the path's parameters, the query function).
TABLES: dict[str, tuple[str, tuple[str, ...], Callable[..., Q.TableResult]]] = {
    "regions": ("/regions", (), Q.list_regions),
    "clusters": ("/clusters", (), Q.list_clusters),
    "region-clusters": ("/regions/{region}/clusters", ("region",), Q.region_clusters),
    "region-indicators": ("/regions/{region}/indicators", ("region",), Q.region_indicators),
    "ranking": ("/clusters/{cluster}/ranking", ("cluster",), Q.cluster_ranking),
    "map": ("/clusters/{cluster}/map", ("cluster",), Q.map_layer),
    "related": ("/clusters/{cluster}/related", ("cluster",), Q.related_clusters),
    "compare": ("/compare", (), Q.compare_regions),
    "map-runs": ("/map-runs", (), Q.map_runs),
}


def _split(name: str, params: dict[str, Any]) -> tuple[str, tuple[str, ...], Callable, list, dict]:
    if name not in TABLES:
        raise InputError(_("unknown table"), value=name, expected=", ".join(TABLES))
    path, keys, fn = TABLES[name]
    missing = [k for k in keys if k not in params]
    if missing:
        raise InputError(_("table {name!r} needs {value}").format(name=name, value=', '.join(missing)))
    positional = [params.pop(k) for k in keys]
    return path, keys, fn, positional, params


class LocalObservatory:
    """The questions of :mod:`clusteratlas.queries` on an atlas file (opened read-only)."""

    def __init__(self, atlas: str | os.PathLike[str]) -> None:
        self.con = plain_connect(str(atlas), read_only=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> LocalObservatory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, name: str, **params: Any) -> pa.Table:
        """The rows of one tabular question (see :data:`TABLES`)."""
        _, _, fn, positional, rest = _split(name, dict(params))
        if isinstance(rest.get("regions"), str):  # compare: "A,B,C" as over HTTP
            rest["regions"] = [r.strip() for r in rest["regions"].split(",") if r.strip()]
        return fn(self.con, *positional, **rest).table

    def region(self, region: str, **params: Any) -> dict[str, Any]:
        """A region's profile as a plain dict."""
        return Q.region_profile(self.con, region, **params).as_dict()

    def cluster(self, cluster: str, **params: Any) -> dict[str, Any]:
        """A cluster's profile as a plain dict."""
        return Q.cluster_profile(self.con, cluster, **params).as_dict()


class RemoteObservatory:
    """The same questions asked of ``clusteratlas serve`` (``base_url`` without ``/api/v1``).

    ``client``: an ``httpx.Client`` to use instead of a new one (e.g. a test client).
    Errors come back as :class:`~clusteratlas.errors.InputError` with the
    problem document's title and detail.
    """

    def __init__(self, base_url: str = "http://localhost:8000", *, token: str | None = None,
                 client: Any = None, timeout: float = 60.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = client if client is not None else httpx.Client(base_url=base_url, timeout=timeout)
        self.headers = headers

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteObservatory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        plain = {k: (",".join(v) if isinstance(v, list | tuple) else v) for k, v in params.items() if v is not None}
        response = self.http.get("/api/v1" + path, params=plain, headers=self.headers)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except json.JSONDecodeError:
                problem = {"title": response.reason_phrase, "detail": response.text[:200]}
            raise InputError(_("{value} ({status_code}): {value2}").format(
                value=problem.get('title', 'error'), status_code=response.status_code, value2=problem.get('detail',
                                                                                                          '')))
        return response

    def table(self, name: str, **params: Any) -> pa.Table:
        """The rows of one tabular question, as the server computed them (sent as Parquet)."""
        import pyarrow.parquet as pq

        path, keys, _, positional, rest = _split(name, dict(params))
        path = path.format(**dict(zip(keys, positional, strict=True)))
        table = pq.read_table(io.BytesIO(self._get(path, {**rest, "format": "parquet"}).content))
        return table.replace_schema_metadata(None)

    def region(self, region: str, **params: Any) -> dict[str, Any]:
        """A region's profile as a plain dict (the JSON route's ``data``)."""
        return self._get(f"/regions/{region}", params).json()["data"]

    def cluster(self, cluster: str, **params: Any) -> dict[str, Any]:
        """A cluster's profile as a plain dict (the JSON route's ``data``)."""
        return self._get(f"/clusters/{cluster}", params).json()["data"]
