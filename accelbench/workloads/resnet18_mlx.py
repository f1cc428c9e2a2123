"""ResNet18 in MLX: torchvision's architecture, module for module, with its weights.

The module names are torchvision's (``conv1``, ``layer2.0.downsample.0``, ``fc``), so a
PyTorch state dict maps onto this model entry by entry, BatchNorm running statistics
included; the trainable parameter count is checked against torchvision's (11,689,512 for
1000 classes) when a case is built. BatchNorm normalizes with the batch's statistics and
updates its running ones in training, and uses the running ones in eval, as in PyTorch.
Images are NHWC.
"""

from __future__ import annotations

import functools
from typing import Any

from accelbench.backends.mlx.workload import MlxModelWorkload, mixed_layers
from accelbench.workloads.resnet18 import CLASSES, ResNet18

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (width, stride of the first block)
BLOCKS_PER_STAGE = 2


class MlxResNet18(MlxModelWorkload):
    name = ResNet18.name
    SIZES = ResNet18.SIZES
    twin = ResNet18

    def build_model(self) -> Any:
        return resnet_classes().ResNet(CLASSES)

    def convert_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        (images,) = inputs
        return (self.mx.array(images.numpy().transpose(0, 2, 3, 1)),)


@functools.cache
def resnet_classes() -> Any:
    """The MLX modules, defined on first use so that importing this module never imports MLX."""
    from types import SimpleNamespace

    from accelbench.backends.mlx.devices import modules

    mx, nn, _ = modules()
    layers = mixed_layers()

    def conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> Any:
        return layers.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False
        )

    class BasicBlock(nn.Module):
        """torchvision.models.resnet.BasicBlock: two 3x3 convolutions and a shortcut."""

        def __init__(self, in_channels: int, width: int, stride: int) -> None:
            super().__init__()
            self.conv1 = conv(in_channels, width, 3, stride)
            self.bn1 = layers.BatchNorm(width)
            self.conv2 = conv(width, width, 3)
            self.bn2 = layers.BatchNorm(width)
            if stride != 1 or in_channels != width:
                self.downsample = [conv(in_channels, width, 1, stride), layers.BatchNorm(width)]

        def __call__(self, x: Any) -> Any:
            out = nn.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            shortcut = x
            if "downsample" in self:
                down_conv, down_bn = self.downsample
                shortcut = down_bn(down_conv(x))
            return nn.relu(out + shortcut)

    class ResNet(nn.Module):
        """torchvision.models.resnet18: stem, four stages of two blocks, pooling, fc."""

        def __init__(self, classes: int) -> None:
            super().__init__()
            self.conv1 = conv(3, 64, 7, stride=2)
            self.bn1 = layers.BatchNorm(64)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            in_channels = 64
            for index, (width, stride) in enumerate(STAGES, start=1):
                blocks = []
                for block in range(BLOCKS_PER_STAGE):
                    blocks.append(BasicBlock(in_channels, width, stride if block == 0 else 1))
                    in_channels = width
                setattr(self, f"layer{index}", blocks)
            self.fc = layers.Linear(in_channels, classes)

        def __call__(self, x: Any) -> Any:
            x = self.maxpool(nn.relu(self.bn1(self.conv1(x))))
            for index in range(1, len(STAGES) + 1):
                for block in getattr(self, f"layer{index}"):
                    x = block(x)
            return self.fc(mx.mean(x, axis=(1, 2)))

    return SimpleNamespace(ResNet=ResNet, BasicBlock=BasicBlock)
