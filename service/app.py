"""The app factory and its lifespan; error handlers that turn every failure into one JSON shape."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from threadpoolctl import threadpool_limits

from models_store import ModelStore
from service.http.admission import AdmissionMiddleware
from service.http.body_limit import BodyLimitMiddleware
from service.http.fast_path import SolveFastPath
from service.http.request_log import REQUEST_ID_HEADER, REQUEST_ID_STATE, RequestLogMiddleware
from service.http.request_metrics import MetricsMiddleware
from service.lifecycle.poller import StorePoller
from service.lifecycle.registry import Registry
from service.lifecycle.reload_signal import ReloadSignal
from service.scheduling.batcher import DynamicBatcher
from service.scheduling.door import Door
from service.scheduling.executor import Executor
from service.telemetry.metrics import Metrics
from service.telemetry.request_context import current_request_id

from .deps import API_KEY_HEADER, Runtime
from .draining import DrainOnSigterm
from .errors import (
    FOREIGN_ERRORS,
    RequestValidationFailed,
    ServiceError,
    StoreUnavailable,
    error_response,
    for_status,
    from_foreign,
    validation_details,
)
from .oip.framing import HEADER_LENGTH as OIP_HEADER
from .routes import ROUTERS, predictions
from .settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Serves Neural ODE and Augmented Neural ODE classifiers from a versioned model store.

Every call may override the ODE solver (`method`, `rtol`, `atol`, `step_size`, `max_steps`); every
answer says which version and solver settings were used and how many function evaluations (NFE)
each input needed. Native methods solve each input with its own step size, so an answer does not
depend on what else was in the request (`batch_invariant: true`).

Errors are JSON: `{"error": {"type", "message", "details"}}` (under `/v2`, the Open Inference Protocol's
`{"error": message}`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the store is opened and models are loaded by the lifespan, not here."""
    settings = settings if settings is not None else Settings()
    app = FastAPI(
        title="odeserve",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,  # served offline by routes.api_docs, not from FastAPI's CDN defaults
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics = Metrics(CollectorRegistry())
    if settings.fast_path:  # innermost: everything below still applies to it
        app.add_middleware(SolveFastPath, routes=predictions.fast_routes())
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware)  # a full queue refuses before the body is read
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # counts 413s too
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", API_KEY_HEADER, REQUEST_ID_HEADER, OIP_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", OIP_HEADER],
            max_age=600,
        )
    app.add_middleware(RequestLogMiddleware)  # outermost: every answer has a request id and a log line
    _install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    torch.set_num_threads(settings.torch_threads)
    # numpy's BLAS (the big-batch solver's matmuls) gets the same count: its default, one thread
    # per core, spins the other core for little gain while the other worker needs it.
    threadpool_limits(settings.torch_threads, user_api="blas")
    metrics: Metrics = app.state.metrics
    registry = Registry(ModelStore(settings.store), metrics, settings.backend)
    reload_signal = ReloadSignal.from_environment()  # several workers: admin reloads reach them all
    generation = reload_signal.join() if reload_signal is not None else 0
    try:
        changes = await anyio.to_thread.run_sync(registry.refresh)
        log.info(
            "store %s: %d versions loaded, %d failed",
            settings.store,
            changes.loaded_versions,
            changes.failed_versions,
        )
    except StoreUnavailable:  # logged by the registry; not ready until a poll can read the store
        pass
    if reload_signal is not None:
        reload_signal.acknowledge(generation)
    # torch, ONNX and the loaded models are hundreds of thousands of long-lived objects: freeze them
    # out of the cyclic GC, or every full collection walks them all (~100 ms stalls in p99).
    gc.collect()
    gc.freeze()
    batcher = DynamicBatcher(
        max_batch_size=settings.max_batch_size,
        max_delay_s=settings.max_batch_delay_ms / 1000,
        max_queue=settings.max_queue,
        inline_max_steps=settings.inline_max_steps,
        admission_wait_s=settings.admission_wait_ms / 1000,
    )
    door = Door(settings.max_inflight, settings.admission_wait_ms / 1000)
    runtime = Runtime(settings, registry, Executor(batcher, metrics, settings.request_timeout_s), door)
    runtime.reload_signal = reload_signal
    app.state.runtime = runtime
    poller = StorePoller(registry, settings.poll_interval_s, reload_signal)
    poller.start()
    drain = DrainOnSigterm(runtime, settings.drain_grace_s)
    drain.install()
    try:
        yield
    finally:
        # uvicorn runs this after the requests in flight have been answered (or timed out).
        runtime.draining = True
        drain.uninstall()
        await poller.stop()
        if reload_signal is not None:
            reload_signal.leave()
        runtime.executor.close()
        metrics.close()


def _install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for foreign in FOREIGN_ERRORS:
        app.add_exception_handler(foreign, _foreign_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc, request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    return error_response(RequestValidationFailed(_validation_message(details), details), request.url.path)


def _validation_message(details: list[dict[str, Any]]) -> str:
    """The first problem in words (where it is, what is wrong), and how many more there are."""
    if not details:
        return "the request is not valid"
    first = details[0]
    if first["type"] == "json_invalid":
        return f"the request body is not valid JSON: {first.get('ctx', {}).get('error', 'cannot parse it')}"
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not decode the JSON body (e.g. not UTF-8): as json_invalid
        problem = {"type": "json_invalid", "loc": ["body"], "msg": "the body cannot be decoded as JSON"}
        return error_response(
            RequestValidationFailed("the request body is not valid JSON: it cannot be decoded", [problem]),
            request.url.path,
        )
    messages = {
        404: f"no route {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(for_status(exc.status_code, message, exc.headers), request.url.path)


async def _foreign_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(from_foreign(exc), request.url.path)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Runs outside RequestLogMiddleware (Starlette's outermost ServerErrorMiddleware calls it), so
    # the request id comes from the request's state, where the middleware left it.
    request_id = getattr(request.state, REQUEST_ID_STATE, None) or current_request_id()
    log.error(
        "unexpected error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    response = error_response(ServiceError("internal server error"), request.url.path)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
