"""Thin routes: decode -> registry/engine -> encode. ``ROUTERS`` is what the app mounts."""

from . import admin, api_docs, explore, health, models, predictions, prometheus, reports, ui, v2

ROUTERS = (
    health.router,
    prometheus.router,
    models.router,
    predictions.router,
    explore.router,
    admin.router,
    v2.router,
    api_docs.router,
    ui.router,
    reports.router,
)

__all__ = ["ROUTERS"]
