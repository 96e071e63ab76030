"""Thin routes: decode -> registry/engine -> encode. ``ROUTERS`` is what the app mounts."""

from . import admin, health, inference, models

ROUTERS = (health.router, models.router, inference.router, admin.router)

__all__ = ["ROUTERS"]
