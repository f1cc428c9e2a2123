"""The PyTorch workload base: a torch.nn.Module on synthetic data, stepped eagerly."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import Any

import numpy as np

from accelbench.core.spec import CaseSpec
from accelbench.core.workload import SEED, Workload


class TorchWorkload(Workload):
    """A torch.nn.Module trained with a loss and an optimizer, on synthetic data.

    Weights and inputs are created on the CPU from a fixed seed and then moved, so the
    same case built on two devices starts from identical numbers. Reduced precision runs
    through autocast (mixed precision); fp32 runs without it.
    """

    framework = "torch"

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        super().__init__(spec, device)
        import torch

        self.torch = torch
        self.torch_device = device.torch_device()
        torch.manual_seed(SEED)
        self.model = self.build_model().to(self.torch_device)
        generator = torch.Generator().manual_seed(SEED + 1)
        inputs, targets = self.make_batch(generator)
        self.inputs = tuple(t.to(self.torch_device) for t in inputs)
        self.targets = targets.to(self.torch_device) if targets is not None else None
        self.training = spec.phase == "train"
        self.model.train(self.training)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self.make_optimizer(params) if self.training and params else None
        self._last_output_dtype: Any = None

    # What a subclass writes -------------------------------------------------------------

    @abstractmethod
    def build_model(self) -> Any:
        """The torch.nn.Module, built on the CPU."""

    @abstractmethod
    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        """``(inputs, targets)`` on the CPU, drawn from ``generator``."""

    def loss(self, output: Any, targets: Any) -> Any:
        return self.torch.nn.functional.cross_entropy(output.float(), targets)

    def make_optimizer(self, params: list[Any]) -> Any:
        return self.torch.optim.SGD(params, lr=0.01, momentum=0.9)

    # The contract ---------------------------------------------------------------------------

    @property
    def compute_dtype(self) -> Any:
        return {"fp16": self.torch.float16, "bf16": self.torch.bfloat16}.get(self.spec.dtype)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.compute_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(self.torch_device.type, dtype=self.compute_dtype)

    def forward(self) -> Any:
        with self.autocast():
            output = self.model(*self.inputs)
        self._last_output_dtype = output.dtype
        return output

    def step(self) -> Any:
        if not self.training:
            with self.torch.inference_mode():
                return self.forward()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.forward(), self.targets)
        loss.backward()
        self.optimizer.step()
        return loss

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The forward output, the loss and the gradient of the last (head) parameter.

        Early-layer gradients of a randomly initialised network are left out: they are
        dominated by cancellation (BatchNorm's backward subtracts the batch mean), so their
        error measures conditioning, not correctness. Measured on an H200 against the CPU,
        ResNet18 in strict fp32 had logits within 1.5e-6 but bn1.bias's gradient 4.8e-3
        apart; with TF32 convolutions 0.13, with bf16 autocast 0.44.
        """
        if not self.training:
            with self.torch.inference_mode():
                return {"output": to_numpy(self.forward())}
        self.model.zero_grad(set_to_none=True)
        output = self.forward()
        loss = self.loss(output, self.targets)
        loss.backward()
        outputs = {"output": to_numpy(output), "loss": to_numpy(loss)}
        named = [(n, p) for n, p in self.model.named_parameters() if p.grad is not None]
        if named:
            name, param = named[-1]
            outputs[f"grad[{name}]"] = to_numpy(param.grad)
        self.model.zero_grad(set_to_none=True)
        return outputs

    def flops_per_step(self) -> int | None:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            self.step()
        self.device.synchronize()
        return int(counter.get_total_flops()) or None

    def threads(self) -> int | None:
        return self.torch.get_num_threads()

    def dtype_ran(self) -> str:
        if self._last_output_dtype is None:
            self.step()
        names = {self.torch.float32: self.device.float32_mode(), self.torch.float16: "fp16"}
        names[self.torch.bfloat16] = "bf16"
        return names.get(self._last_output_dtype, str(self._last_output_dtype))


def to_numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
