"""Weights and golden files: serialise and load them without unpickling anything.

Weights are safetensors (a JSON header plus raw tensor bytes); a pickle renamed to
``weights.safetensors`` fails to parse and is refused before any byte of it is interpreted.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .architecture import OdeClassifier, build_network
from .errors import IntegrityError
from .manifest import GOLDEN_FILE, WEIGHTS_FILE, Golden, Manifest


def weights_to_bytes(network: torch.nn.Module) -> bytes:
    """The network's parameters as safetensors bytes (contiguous CPU copies)."""
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    return save_safetensors(state)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Parse a safetensors file; anything else raises IntegrityError."""
    try:
        return load_safetensors(path.read_bytes())
    except (SafetensorError, ValueError, OSError) as exc:
        raise IntegrityError(f"{path.name} is not a valid safetensors file: {exc}", path.name) from exc


def load_network(folder: Path, manifest: Manifest) -> OdeClassifier:
    """Rebuild the network from the manifest's spec and load its stored weights (eval mode)."""
    network = build_network(manifest.architecture)
    state = load_weights(folder / WEIGHTS_FILE)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise IntegrityError(f"{WEIGHTS_FILE} does not fit the architecture: {exc}", WEIGHTS_FILE) from exc
    return network.eval()


def load_golden(folder: Path) -> Golden:
    path = folder / GOLDEN_FILE
    try:
        return Golden.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise IntegrityError(f"{GOLDEN_FILE} is not valid: {exc}", GOLDEN_FILE) from exc
