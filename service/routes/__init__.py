"""Thin routes: decode -> registry/engine -> encode. ``ROUTERS`` is what the app mounts."""

from . import admin, health, models, predictions, prometheus, v2

ROUTERS = (health.router, prometheus.router, models.router, predictions.router, admin.router, v2.router)

__all__ = ["ROUTERS"]
