"""Request labels: which route matched and which model version answered.

Routes name the version that answered with :func:`label_served`; the metrics middleware and the
access log read both labels back once the answer is sent, so every record of a request agrees.
"""

from __future__ import annotations

from starlette.routing import Route
from starlette.types import Scope

_SERVED_BY = "odeserve_served_by"
UNMATCHED = "unmatched"
"""The ``endpoint`` label of requests that matched no route."""


def label_served(scope: Scope, model: str, version: str) -> None:
    """Name the model version that answers the request of ``scope`` (once resolved), for the
    metrics middleware and the access log."""
    scope.setdefault("state", {})[_SERVED_BY] = (model, version)


def served_by(scope: Scope) -> tuple[str, str]:
    """The (model, version) a route declared with :func:`label_served`, else ("", "")."""
    served: tuple[str, str] = scope.get("state", {}).get(_SERVED_BY, ("", ""))  # ASGI scopes are untyped
    return served


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/models/{name}/predict``), else ``unmatched``."""
    route = scope.get("route")
    return route.path if isinstance(route, Route) else UNMATCHED
