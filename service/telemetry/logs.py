"""Log output: one JSON object per line (or uvicorn's text lines), the request id on every record.

``python -m service --log-format json|text`` hands :func:`log_config` to uvicorn, which applies it
in every worker. Records may carry structured fields in ``extra={"fields": {...}}``; the JSON
formatter writes them as top-level keys, the text formatter leaves them out (the message says it).
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from uvicorn.config import LOGGING_CONFIG

from service.telemetry.request_context import current_request_id

LogFormat = Literal["json", "text"]


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id"?, **fields, "exception"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            out["request_id"] = request_id
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps the id of the request being handled (if any) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def log_config(level: str, fmt: LogFormat = "json") -> dict[str, Any]:
    """uvicorn's logging setup with the service's loggers on the same handlers, in ``fmt``.

    ``service.access`` gets a handler of its own on stdout (where uvicorn's access log went):
    uvicorn's access formatter reads its own five-value message (client, method, path, version,
    status) out of every record it formats, and our access record is not that.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    config["formatters"]["service_access"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(message)s",
        "use_colors": None,
    }
    config["handlers"]["service_access"] = {
        "formatter": "service_access",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    if fmt == "json":
        config["formatters"] = {"json": {"()": JsonFormatter}}
        for handler in config["handlers"].values():
            handler["formatter"] = "json"
    config["loggers"]["service"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    config["loggers"]["service.access"] = {
        "handlers": ["service_access"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
