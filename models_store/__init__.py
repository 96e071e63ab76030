"""The stored-model contract shared by ``training`` (writer) and ``service`` (reader).

Everything public is re-exported here; the modules behind it are small and one concept each.
"""

from pathlib import Path

from .architecture import (
    ArchitectureSpec,
    ConvEncoderSpec,
    FieldSpec,
    FlattenEncoderSpec,
    OdeClassifier,
    build_network,
)
from .checkpoint import load_golden, load_network, load_weights, weights_to_bytes
from .errors import IntegrityError, InvalidName, ModelNotFound, PublishError, StoreError, VersionNotFound
from .integrity import sha256_file, verify_folder
from .manifest import (
    ENCODER_ONNX,
    FIELD_ONNX,
    GOLDEN_FILE,
    HEAD_ONNX,
    MANIFEST_FILE,
    MAX_HISTORY,
    ONNX_FILES,
    SCHEMA_VERSION,
    WEIGHTS_FILE,
    EpochRecord,
    Golden,
    InputSpec,
    Manifest,
    NfeStats,
    SolverDefaults,
    SplitMetrics,
    TrainingRecord,
)
from .methods import METHODS, REFUSED_METHODS, SERVED_METHODS, SolverMethod, served_method
from .naming import LATEST, parse_version_ref, validate_alias, validate_name
from .reports import REPORT_FIGURES, REPORT_FILES, REPORT_PAGE
from .store import ModelStore
from .toy_data import DEFAULT_NOISE, SPLIT_FRACTIONS, TOY_GENERATORS, split_rows, toy_points

DEFAULT_STORE_ROOT = Path(__file__).resolve().parent / "demo"
"""The shipped demo store, committed with the repository."""

__all__ = [
    "DEFAULT_NOISE",
    "DEFAULT_STORE_ROOT",
    "ENCODER_ONNX",
    "FIELD_ONNX",
    "GOLDEN_FILE",
    "HEAD_ONNX",
    "LATEST",
    "MANIFEST_FILE",
    "MAX_HISTORY",
    "ONNX_FILES",
    "REPORT_FIGURES",
    "REPORT_FILES",
    "REPORT_PAGE",
    "SCHEMA_VERSION",
    "SPLIT_FRACTIONS",
    "WEIGHTS_FILE",
    "ArchitectureSpec",
    "ConvEncoderSpec",
    "EpochRecord",
    "FieldSpec",
    "FlattenEncoderSpec",
    "Golden",
    "InputSpec",
    "IntegrityError",
    "InvalidName",
    "METHODS",
    "Manifest",
    "ModelNotFound",
    "ModelStore",
    "NfeStats",
    "OdeClassifier",
    "PublishError",
    "REFUSED_METHODS",
    "SERVED_METHODS",
    "SolverDefaults",
    "SolverMethod",
    "TOY_GENERATORS",
    "SplitMetrics",
    "StoreError",
    "TrainingRecord",
    "VersionNotFound",
    "build_network",
    "load_golden",
    "load_network",
    "load_weights",
    "parse_version_ref",
    "served_method",
    "sha256_file",
    "split_rows",
    "toy_points",
    "validate_alias",
    "validate_name",
    "verify_folder",
    "weights_to_bytes",
]
