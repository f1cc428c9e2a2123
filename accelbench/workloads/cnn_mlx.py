"""The simple CNN in MLX: the PyTorch CNN (accelbench.workloads.cnn) layer for layer.

Conv2d(same)-ReLU-MaxPool twice, flatten, Linear(10), with the PyTorch model's shapes,
parameter count (60,362) and weights; images are NHWC, MLX's layout for convolutions. The
flattened features are ordered (H, W, C) rather than PyTorch's (C, H, W), so the head's
weight columns are permuted when converted: the function computed is the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelbench.backends.mlx.workload import MlxModelWorkload, mixed_layers
from accelbench.workloads.cnn import CHANNELS, CLASSES, CONV_WIDTHS, IMAGE_SIZE, KERNEL, SimpleCNN

FEATURE_SIDE = IMAGE_SIZE // 2 ** len(CONV_WIDTHS)
HEAD = "7"  # the Linear's index in the PyTorch nn.Sequential (and in MLX's)


class MlxSimpleCNN(MlxModelWorkload):
    name = SimpleCNN.name
    SIZES = SimpleCNN.SIZES
    twin = SimpleCNN

    def build_model(self) -> Any:
        nn, layers = self.nn, mixed_layers()
        stack: list[Any] = []
        in_channels = CHANNELS
        for width in CONV_WIDTHS:
            stack += [
                layers.Conv2d(in_channels, width, KERNEL, padding=KERNEL // 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = width
        stack += [flatten, layers.Linear(in_channels * FEATURE_SIDE**2, CLASSES)]
        return nn.Sequential(*stack)

    def convert_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        (images,) = inputs
        return (self.mx.array(images.numpy().transpose(0, 2, 3, 1)),)

    def mlx_name(self, torch_name: str) -> str:
        return f"layers.{torch_name}"

    def to_mlx_layout(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        if torch_name == f"{HEAD}.weight":  # columns (C, H, W) -> (H, W, C)
            shape = (CLASSES, CONV_WIDTHS[-1], FEATURE_SIDE, FEATURE_SIDE)
            return value.reshape(shape).transpose(0, 2, 3, 1).reshape(CLASSES, -1)
        return super().to_mlx_layout(torch_name, value)

    def to_torch_layout(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        if torch_name == f"{HEAD}.weight":
            shape = (CLASSES, FEATURE_SIDE, FEATURE_SIDE, CONV_WIDTHS[-1])
            return value.reshape(shape).transpose(0, 3, 1, 2).reshape(CLASSES, -1)
        return super().to_torch_layout(torch_name, value)


def flatten(x: Any) -> Any:
    return x.reshape(x.shape[0], -1)
