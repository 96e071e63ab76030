"""Thin routes: decode -> registry/engine -> encode. ``ROUTERS`` is what the app mounts."""

from . import admin, health, inference, metrics, models, v2

ROUTERS = (health.router, metrics.router, models.router, inference.router, admin.router, v2.router)

__all__ = ["ROUTERS"]
