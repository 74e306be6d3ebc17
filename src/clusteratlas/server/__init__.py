"""The observatory as a service: a FastAPI app over an atlas (``clusteratlas serve``).

See docs/api.md for the routes, authentication, provenance and errors.
"""

from clusteratlas.server.app import Settings, create_app

__all__ = ["Settings", "create_app"]
