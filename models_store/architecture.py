"""Architecture specs and the torch modules they describe.

A stored model is self-describing: its manifest holds an :class:`ArchitectureSpec`, and
:func:`build_network` turns that spec back into modules whose state dict matches the stored
safetensors weights. Training and serving both build networks only through this function.

The network is split into the parts a solver needs separately::

    x --encoder--> h --augment (zeros)--> z(0) --ODE f(t, z)--> z(T) --head--> logits
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

Activation = Literal["tanh", "relu", "softplus", "elu", "silu", "sigmoid"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlattenEncoderSpec(_Spec):
    """The input itself (flattened) is the initial state."""

    kind: Literal["flatten"] = "flatten"


class ConvEncoderSpec(_Spec):
    """3x3 convolutions (the first keeps the size, the others halve it), then a linear map."""

    kind: Literal["conv"] = "conv"
    channels: list[Annotated[int, Field(ge=1, le=512)]] = Field(default=[8, 16], min_length=1, max_length=6)
    latent_dim: int = Field(default=16, ge=1, le=4096)
    activation: Activation = "relu"


EncoderSpec = Annotated[FlattenEncoderSpec | ConvEncoderSpec, Field(discriminator="kind")]


class FieldSpec(_Spec):
    """The vector field f(t, z): an MLP over z (and t, when ``time_input``)."""

    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(default=[64], min_length=1, max_length=8)
    activation: Activation = "tanh"
    time_input: bool = False


class ArchitectureSpec(_Spec):
    """Everything needed to rebuild the network; stored in every manifest."""

    input_shape: list[Annotated[int, Field(ge=1, le=4096)]] = Field(min_length=1, max_length=3)
    encoder: EncoderSpec = FlattenEncoderSpec()
    augment_dim: int = Field(default=0, ge=0, le=1024)
    field: FieldSpec = FieldSpec()
    num_classes: int = Field(ge=2, le=10_000)

    @model_validator(mode="after")
    def _conv_needs_image(self) -> ArchitectureSpec:
        if isinstance(self.encoder, ConvEncoderSpec) and len(self.input_shape) != 3:
            raise ValueError("a conv encoder needs input_shape [channels, height, width]")
        return self

    @property
    def input_size(self) -> int:
        """Number of scalars in one input sample."""
        return math.prod(self.input_shape)

    @property
    def encoded_dim(self) -> int:
        """Size of the encoder's output, before augmentation."""
        if isinstance(self.encoder, ConvEncoderSpec):
            return self.encoder.latent_dim
        return self.input_size

    @property
    def state_dim(self) -> int:
        """Size of z(t), augmented dimensions included."""
        return self.encoded_dim + self.augment_dim


class ConvEncoder(nn.Module):
    """Conv downsampler for small images, ending in a linear map to the latent state."""

    def __init__(self, spec: ConvEncoderSpec, input_shape: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, height, width = input_shape
        for i, out in enumerate(spec.channels):
            stride = 1 if i == 0 else 2
            layers += [nn.Conv2d(channels, out, 3, stride=stride, padding=1), _ACTIVATIONS[spec.activation]()]
            channels = out
            if stride == 2:
                height, width = (height + 1) // 2, (width + 1) // 2
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(channels * height * width, spec.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        latent: torch.Tensor = self.proj(self.convs(x).flatten(1))  # torch types Module calls as Any
        return latent


class FlattenEncoder(nn.Module):
    """Flatten each sample to a vector."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class ZeroAugmenter(nn.Module):
    """Append ``augment_dim`` zeros to each state (Dupont et al. 2019)."""

    def __init__(self, augment_dim: int) -> None:
        super().__init__()
        self.augment_dim = augment_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.augment_dim == 0:
            return h
        return torch.cat([h, h.new_zeros(h.shape[0], self.augment_dim)], dim=1)


class ODEField(nn.Module):
    """f(t, z) as an MLP. ``t`` may be a scalar or one time per sample (shape [B] or [B, 1])."""

    def __init__(self, spec: FieldSpec, state_dim: int) -> None:
        super().__init__()
        self.time_input = spec.time_input
        widths = [state_dim + int(spec.time_input), *spec.hidden]
        layers: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            layers += [nn.Linear(fan_in, fan_out), _ACTIVATIONS[spec.activation]()]
        layers.append(nn.Linear(widths[-1], state_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.time_input:
            tt = torch.as_tensor(t, dtype=z.dtype, device=z.device).reshape(-1, 1)
            z = torch.cat([tt.expand(z.shape[0], 1), z], dim=1)
        dz: torch.Tensor = self.net(z)  # torch types Module calls as Any
        return dz


class OdeClassifier(nn.Module):
    """The parts of a continuous-depth classifier; the ODE solve itself lives outside."""

    def __init__(self, spec: ArchitectureSpec) -> None:
        super().__init__()
        self.spec = spec
        if isinstance(spec.encoder, ConvEncoderSpec):
            self.encoder: nn.Module = ConvEncoder(spec.encoder, spec.input_shape)
        else:
            self.encoder = FlattenEncoder()
        self.augmenter = ZeroAugmenter(spec.augment_dim)
        self.field = ODEField(spec.field, spec.state_dim)
        self.head = nn.Linear(spec.state_dim, spec.num_classes)

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """z(0) for a batch of inputs shaped [B, *input_shape]."""
        z0: torch.Tensor = self.augmenter(self.encoder(x))  # torch types Module calls as Any
        return z0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`initial_state`; logits need a solve, done by the caller."""
        return self.initial_state(x)


def build_network(spec: ArchitectureSpec) -> OdeClassifier:
    """Build the modules a spec describes (freshly initialised)."""
    return OdeClassifier(spec)
