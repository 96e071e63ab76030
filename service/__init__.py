"""odeserve's inference service: a FastAPI app serving the model store over REST.

    from service import Settings, create_app
    app = create_app(Settings(store="models_store/demo"))

``python -m service --help`` runs it under uvicorn. Nothing is built at import time, and the two
names above are imported lazily so that ``import service.engine`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'service' has no attribute {name!r}")
