"""Property-based tests driven by the OpenAPI schema (Schemathesis): no 5xx, every answer valid.

Every route gets many generated requests (SCHEMA_EXAMPLES per route, default
150): valid and invalid parameter values, odd strings and numbers. Each answer
must not be a server error and must conform to the schema (status code
documented, content type documented, body valid against its JSON schema).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from clusteratlas import generate_sample
from clusteratlas.server import Settings, create_app
from tests.test_server import build_full_atlas

EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "150"))


def _served_app():
    """The app over a full sample atlas, built when this module is collected (Schemathesis reads the
    schema then); the folder is removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="clusteratlas-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    build_full_atlas(folder / "atlas.duckdb", generate_sample(7).write(folder / "sample"))
    app = create_app(Settings(atlas=str(folder / "atlas.duckdb")))
    atexit.register(app.state.service.close)
    return app


schema = schemathesis.openapi.from_asgi("/api/openapi.json", _served_app())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_every_route_conforms(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
    # Schema-valid values may still name nothing in the atlas (an unknown region, a stale cursor): a 404 or
    # 422 problem is the right answer there, so the "valid data is accepted" check does not apply.
    case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance])
