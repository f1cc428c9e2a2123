"""torchvision ResNet18 with random weights (nothing downloaded) on synthetic images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accelbench.backends.torch.workload import TorchWorkload
from accelbench.core.spec import MEMORY_FORMATS, NCHW

CLASSES = 1000


@dataclass(frozen=True)
class ResNetSize:
    batch: int
    image: int = 224


class ResNet18(TorchWorkload):
    name = "resnet18"
    memory_formats = MEMORY_FORMATS
    # smoke: 64x64 images (ResNet18's stride leaves 2x2 at its last stage), so that every
    # framework's CPU, MLX's Linux build with its reference BLAS too, runs it in seconds.
    SIZES = {
        "quick": ResNetSize(batch=16),
        "smoke": ResNetSize(batch=2, image=64),
        "standard": ResNetSize(batch=32),
        "full": ResNetSize(batch=64),
    }
    MAX_SWEEP_BATCH = {"smoke": 2, "standard": 64, "full": 256}

    def build_model(self) -> Any:
        import torchvision

        return torchvision.models.resnet18(weights=None, num_classes=CLASSES)

    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        b, side = self.size.batch, self.size.image
        images = self.torch.randn(b, 3, side, side, generator=generator)
        labels = self.torch.randint(0, CLASSES, (b,), generator=generator)
        return (images,), labels

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        b, side = self.size.batch, self.size.image
        # "input" is the logical (N, C, H, W) shape; memory_format the order in memory
        return {
            "batch": b,
            "input": [b, 3, side, side],
            "memory_format": self.spec.memory_format or NCHW,
        }
