"""The simple CNN in TensorFlow/Keras: the PyTorch CNN (accelbench.workloads.cnn) layer for layer.

Conv2D(same)-ReLU-MaxPool twice, Flatten, Dense(10), with the PyTorch model's shapes and
parameter count; images are NHWC (TensorFlow's CPU convolutions need channels-last), so
only the order of the flattened features differs. Steps are ``tf.function``s with
``jit_compile=False`` (Metal has no XLA; Keras 3 would otherwise choose "auto"), built and
run under the device's scope. TensorFlow is imported when a case is built, never when this
module is imported, so collecting it costs nothing on a PyTorch-only run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelbench.backends.tf.workload import KerasWorkload
from accelbench.workloads.cnn import (
    CHANNELS,
    CLASSES,
    CONV_WIDTHS,
    IMAGE_SIZE,
    KERNEL,
    SimpleCNN,
)


class TfSimpleCNN(KerasWorkload):
    name = "cnn"
    SIZES = SimpleCNN.SIZES
    MAX_SWEEP_BATCH = SimpleCNN.MAX_SWEEP_BATCH

    def build_model(self, dtype_policy: str) -> Any:
        layers = self.keras.layers
        stack: list[Any] = [self.keras.Input((IMAGE_SIZE, IMAGE_SIZE, CHANNELS))]
        for i, width in enumerate(CONV_WIDTHS, start=1):
            stack += [
                layers.Conv2D(width, KERNEL, padding="same", name=f"conv{i}", dtype=dtype_policy),
                layers.ReLU(name=f"relu{i}", dtype=dtype_policy),
                layers.MaxPooling2D(2, name=f"pool{i}", dtype=dtype_policy),
            ]
        stack += [
            layers.Flatten(name="flatten", dtype=dtype_policy),
            layers.Dense(CLASSES, name="head", dtype=dtype_policy),
        ]
        return self.keras.Sequential(stack, name="cnn")

    def make_batch(self, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        b = self.size.batch
        images = rng.standard_normal((b, IMAGE_SIZE, IMAGE_SIZE, CHANNELS)).astype(np.float32)
        labels = rng.randint(0, CLASSES, size=(b,)).astype(np.int64)
        return images, labels

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        b = self.size.batch
        return {"batch": b, "input": [b, IMAGE_SIZE, IMAGE_SIZE, CHANNELS], "layout": "NHWC"}

    def flops_per_step(self) -> int:
        return cnn_flops(self.size.batch, self.spec.phase)


def cnn_flops(batch: int, phase: str) -> int:
    """FLOPs of one CNN step, counted as torch.utils.flop_counter counts the PyTorch CNN.

    A multiply-add is 2 FLOPs; convolutions and matmuls count, biases, ReLU, pooling and
    the loss do not. Training adds the backward pass: weight gradients for every layer,
    input gradients for every layer but the first (the images need none).
    """
    side, channels, convs = IMAGE_SIZE, CHANNELS, []
    for width in CONV_WIDTHS:
        convs.append(2 * batch * side * side * width * channels * KERNEL * KERNEL)
        side, channels = side // 2, width
    forward = sum(convs) + 2 * batch * channels * side * side * CLASSES
    if phase == "infer":
        return forward
    return forward + forward + (forward - convs[0])
