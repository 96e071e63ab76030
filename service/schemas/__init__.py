"""The API's request and response models (kept separate) and their OpenAPI examples."""

from .requests import PredictRequest, SolverRequest, TrajectoryRequest
from .responses import (
    ErrorBody,
    FailureInfo,
    GoldenBaseline,
    InputInfo,
    Liveness,
    ManifestSummary,
    ModelDetail,
    ModelList,
    ModelSummary,
    PredictResponse,
    Readiness,
    ReloadReport,
    SolverSettings,
    TrainingSummary,
    TrajectoryResponse,
    VersionDetail,
    VersionSummary,
)

__all__ = [
    "ErrorBody", "FailureInfo", "GoldenBaseline", "InputInfo", "Liveness", "ManifestSummary", "ModelDetail",
    "ModelList", "ModelSummary", "PredictRequest", "PredictResponse", "Readiness", "ReloadReport",
    "SolverRequest", "SolverSettings", "TrainingSummary", "TrajectoryRequest", "TrajectoryResponse",
    "VersionDetail", "VersionSummary",
]
