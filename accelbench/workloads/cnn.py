"""The simple CNN in PyTorch: two conv-ReLU-maxpool blocks and a linear head.

The layer list is spelled out in ``CNN_LAYERS`` so that the TensorFlow version builds the
same network layer for layer (same shapes, same parameter count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accelbench.backends.torch.workload import TorchWorkload
from accelbench.core.spec import MEMORY_FORMATS, NCHW

IMAGE_SIZE = 32
CHANNELS = 3
CLASSES = 10
CONV_WIDTHS = (32, 64)
KERNEL = 3


@dataclass(frozen=True)
class CnnSize:
    batch: int


class SimpleCNN(TorchWorkload):
    name = "cnn"
    memory_formats = MEMORY_FORMATS
    SIZES = {
        "quick": CnnSize(batch=64),
        "smoke": CnnSize(batch=16),
        "standard": CnnSize(batch=64),
        "full": CnnSize(batch=256),
    }
    MAX_SWEEP_BATCH = {"smoke": 4, "standard": 64, "full": 256}

    def build_model(self) -> Any:
        nn = self.torch.nn
        layers: list[Any] = []
        in_channels = CHANNELS
        for width in CONV_WIDTHS:
            layers += [
                nn.Conv2d(in_channels, width, KERNEL, padding="same"),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = width
        side = IMAGE_SIZE // 2 ** len(CONV_WIDTHS)
        layers += [nn.Flatten(), nn.Linear(in_channels * side * side, CLASSES)]
        return nn.Sequential(*layers)

    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        b = self.size.batch
        images = self.torch.randn(b, CHANNELS, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
        labels = self.torch.randint(0, CLASSES, (b,), generator=generator)
        return (images,), labels

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        return {
            "batch": self.size.batch,
            "input": [self.size.batch, CHANNELS, IMAGE_SIZE, IMAGE_SIZE],
            "memory_format": self.spec.memory_format or NCHW,  # "input" is the logical shape
        }
