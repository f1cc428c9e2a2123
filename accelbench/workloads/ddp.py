"""The single-device training workloads, data-parallel: DistributedDataParallel, one process
per device, the same model and the same per-worker batch as the single-device case (weak
scaling: k workers process k batches per step).

Every worker builds the model from the same seed; worker r draws its own batch from seed
``SEED + 1 + 1000 r``, so worker 0 holds the single-device case's batch and the workers'
gradients differ (an all-reduce of equal gradients would prove nothing). Gradients are
averaged over the workers by DDP's bucketed all-reduce, overlapped with the backward pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, ClassVar

import numpy as np

from accelbench.backends.torch.ddp_runner import DataParallelRun
from accelbench.backends.torch.dtypes import dtype_name
from accelbench.backends.torch.workload import TorchWorkload, to_numpy
from accelbench.core.launch import current, worker_counts, workers_variant
from accelbench.core.spec import CaseSpec
from accelbench.core.workload import SEED, Workload
from accelbench.workloads.resnet18 import ResNet18
from accelbench.workloads.transformer import TransformerEncoderWorkload

BATCH_SEED_STRIDE = 1000
# DistributedDataParallel runs with its defaults, as people run it; these settings are
# read back from it and recorded with every case.
DDP_SETTINGS = (
    "bucket_bytes_cap",
    "broadcast_buffers",
    "gradient_as_bucket_view",
    "find_unused_parameters",
    "static_graph",
)


def worker_batch(workload: TorchWorkload, rank: int) -> tuple[tuple[Any, ...], Any]:
    """Worker ``rank``'s batch for ``workload``, on its device."""
    import torch

    generator = torch.Generator().manual_seed(SEED + 1 + BATCH_SEED_STRIDE * rank)
    inputs, targets = workload.make_batch(generator)
    device = workload.torch_device
    return tuple(t.to(device) for t in inputs), targets.to(device)


def flat_parameters(model: Any) -> Any:
    """Every parameter of ``model`` in one float32 vector (a copy)."""
    import torch

    return torch.cat([p.detach().float().reshape(-1) for p in model.parameters()])


class DataParallel(Workload):
    """A ``base`` workload trained with DistributedDataParallel on one case's group of ranks."""

    framework = "torch"
    phases = ("train",)
    base: ClassVar[type[TorchWorkload]]
    strategy = DataParallelRun
    # No batch sweep (MAX_SWEEP_BATCH stays None): data-parallel cases sweep the worker
    # count, each worker on its model's batch; ``--sweep batch`` leaves them as they are.

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not issubclass(cls.base, TorchWorkload):
            raise TypeError(
                f"{cls.__name__}: DistributedDataParallel trains PyTorch models, and "
                f"{cls.base.__name__} is a {cls.base.framework} workload"
            )
        # Not in the quick profile: one worker of a plain run says nothing of scaling.
        cls.SIZES = {name: size for name, size in cls.base.SIZES.items() if name != "quick"}
        cls.item_unit = cls.base.item_unit

    @classmethod
    def variants(cls, size: str) -> list[str]:
        return [workers_variant(k) for k in worker_counts(current().world_size)]

    @classmethod
    def base_spec(cls, spec: CaseSpec) -> CaseSpec:
        """The single-device case of the same model, device, dtype and size."""
        return dataclasses.replace(spec, workload=cls.base.name, variant="")

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """One worker's step as its model's single-device case estimates it (the gradient
        all-reduce comes on top)."""
        return cls.base.estimated_step_s(cls.base_spec(spec), device)

    @classmethod
    def local(cls, spec: CaseSpec, device: Any, rank: int) -> TorchWorkload:
        """The single-device workload holding worker ``rank``'s batch."""
        workload = cls.base(cls.base_spec(spec), device)
        if rank:
            workload.inputs, workload.targets = worker_batch(workload, rank)
        return workload

    def __init__(self, spec: CaseSpec, device: Any, group: Any) -> None:
        from torch.nn.parallel import DistributedDataParallel

        super().__init__(spec, device)
        self.workers = group.size
        self.worker = self.local(spec, device, group.rank)
        cuda = self.worker.torch_device.type == "cuda"
        device_ids = [self.worker.torch.cuda.current_device()] if cuda else None
        self.model = DistributedDataParallel(
            self.worker.model, device_ids=device_ids, process_group=group.data
        )
        self._output_dtype: Any = None

    def ddp_settings(self) -> dict[str, Any]:
        """How DistributedDataParallel was configured (its defaults): bucket size, buffer
        broadcast, gradient views, unused-parameter search, static graph."""
        return {name: getattr(self.model, name, None) for name in DDP_SETTINGS}

    def step(self) -> Any:
        return self._step(sync=True)

    def step_without_sync(self) -> Any:
        """The same step with DDP's gradient all-reduce switched off (``no_sync``): the
        workers' parameters drift apart, so only for timing what the all-reduce costs."""
        return self._step(sync=False)

    def _step(self, sync: bool) -> Any:
        worker = self.worker
        worker.optimizer.zero_grad(set_to_none=True)
        with contextlib.nullcontext() if sync else self.model.no_sync():
            with worker.autocast():
                output = self.model(*worker.inputs)
            self._output_dtype = output.dtype
            loss = worker.loss(output, worker.targets)
            loss.backward()
        worker.optimizer.step()
        return loss

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The parameter update of one synchronized step from the freshly built state."""
        before = flat_parameters(self.worker.model)
        self.step()
        self.device.synchronize()
        return {"update": to_numpy(flat_parameters(self.worker.model) - before)}

    @classmethod
    def single_device(cls, spec: CaseSpec, device: Any) -> TorchWorkload:
        """The single-device workload of the same model, freshly built (worker 0's batch)."""
        return cls.base(cls.base_spec(spec), device)

    @staticmethod
    def reference_outputs(reference: TorchWorkload, workers: int) -> dict[str, np.ndarray]:
        """The update of one step of ``reference`` (freshly built, see ``single_device``), in
        one process without DDP, over every worker's batch.

        The loss is the mean of the workers' losses, each worker's slice going through the
        model on its own: that is what averaging the workers' gradients computes, with
        BatchNorm normalizing each slice by its own statistics as it does on each worker.
        """
        before = flat_parameters(reference.model)
        reference.optimizer.zero_grad(set_to_none=True)
        for rank in range(workers):
            inputs, targets = worker_batch(reference, rank)
            with reference.autocast():
                output = reference.model(*inputs)
            (reference.loss(output, targets) / workers).backward()
        reference.optimizer.step()
        reference.device.synchronize()
        return {"update": to_numpy(flat_parameters(reference.model) - before)}

    @property
    def items_per_step(self) -> int:
        """Items of this worker's batch (the group's are the sum over the workers)."""
        return self.worker.items_per_step

    def gradient_bytes(self) -> int:
        """Bytes of gradient all-reduced per step (every trainable parameter's gradient)."""
        return sum(
            p.numel() * p.element_size() for p in self.worker.model.parameters() if p.requires_grad
        )

    def shapes(self) -> dict[str, Any]:
        return {**self.worker.shapes(), "workers": self.workers}

    def threads(self) -> int | None:
        return self.worker.threads()

    def dtype_ran(self) -> str:
        if self._output_dtype is None:
            raise RuntimeError("dtype_ran is known after the first step")
        return dtype_name(self._output_dtype, self.device.float32_mode())


class DdpResNet18(DataParallel):
    name = "ddp-resnet18"
    base = ResNet18


class DdpTransformer(DataParallel):
    name = "ddp-transformer"
    base = TransformerEncoderWorkload
