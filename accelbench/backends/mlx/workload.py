"""The MLX workload base: each MLX workload mirrors a PyTorch one, its "twin".

Same network, same sizes, same names and variants, and the same numbers to start from: the
twin is built on the PyTorch CPU from the suite's fixed seed, and its weights and batch are
converted (NCHW -> NHWC, convolution kernels OIHW -> OHWI). So the parity check can hold
every MLX device, the CPU included, to the PyTorch CPU result of the same case in fp32.

MLX is lazy: an operation only records a graph node, and nothing runs until arrays are
evaluated. ``step`` therefore ends in ``mx.async_eval`` of everything the step produced --
the output or loss, and in training the updated parameters, the BatchNorm statistics and
the optimizer state -- so every step's work is queued on the device's stream, and the
device's ``synchronize`` (``mx.synchronize``) waits for it. A round of k steps thus runs as
in the PyTorch workloads: the host builds step i+1 while the device runs step i, and the
clock is read after the block's synchronize. A step that were not evaluated would measure
graph building only.

``make_step`` returns the step as a plain function of no arguments, and ``state`` lists the
arrays it reads and replaces: what ``mx.compile(fn, inputs=state, outputs=state)`` needs,
so the compile mode (``compile_step``) wraps that one function: a training step with
``state = [model.state, optimizer.state]`` (the optimizer's state initialized first, so the
compiled step reads and replaces every array of it), an inference step as it is. The
arrays a step only reads (the batch; an inference step's weights) are constants of the
compiled graph. MLX compiles at the first call, and again only for new shapes or dtypes,
which a case never changes; it does not count its compilations, so the runner takes the
first call as the compilation. On the CPU, MLX generates C++ for its fused kernels and
builds it with the system's compiler (cached on disk: the first run of a new kernel takes
seconds, later runs milliseconds).

Precision: MLX has no autocast. fp16 and bf16 run as PyTorch's autocast does: parameters
and optimizer state stay float32, matmuls and convolutions cast their inputs and weights to
the compute dtype (``Linear``, ``Conv2d`` below), BatchNorm computes in float32 and returns
the input's dtype, LayerNorm, softmax inside attention and the loss run in float32.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import abstractmethod
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from accelbench.backends.torch.workload import TorchWorkload
from accelbench.core.compiled import Compilable
from accelbench.core.spec import COMPILE, EAGER, CaseSpec
from accelbench.core.workload import Workload


def torch_twin_spec(spec: CaseSpec) -> CaseSpec:
    """The PyTorch case an MLX case mirrors and is checked against: PyTorch, CPU, fp32,
    eager, default layout (``CaseSpec.reference``)."""
    return dataclasses.replace(spec.reference(), framework="torch")


class MlxWorkload(Compilable, Workload):
    """An MLX workload with a PyTorch twin; subclasses say what one step computes."""

    framework = "mlx"
    modes = (EAGER, COMPILE)
    twin: ClassVar[type[Workload]]
    # Whether the probe layers' slowdown (a linear layer and a convolution) says how much
    # slower than its twin this workload runs (accelbench.backends.mlx.slow_layers).
    estimated_from_twin: ClassVar[bool] = True

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        super().__init__(spec, device)
        from accelbench.backends.mlx.devices import modules, reduced_dtype

        self.mx, self.nn, self.optim = modules()
        self.training = spec.phase == "train"
        self.compute_dtype = reduced_dtype(spec.dtype)
        twin = self.build_twin()
        with device.stream():
            self.setup(twin)
        del twin
        self._step = self.make_step()
        self._last_output_dtype: Any = None

    @classmethod
    def variants(cls, size: str) -> list[str]:
        return cls.twin.variants(size)

    @classmethod
    def batch_sizes(cls, size: str) -> list[int]:
        """The twin's batch sweep (``--sweep batch``): the same points in both frameworks."""
        return cls.twin.batch_sizes(size)

    @classmethod
    def parity_reference(cls, spec: CaseSpec) -> tuple[type[Workload], CaseSpec]:
        """Every MLX device, the CPU too, must reproduce the PyTorch CPU result in fp32."""
        return cls.twin, torch_twin_spec(spec)

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """On a CPU where MLX's layers are far slower than PyTorch's (the Linux wheel's
        reference BLAS), from the PyTorch twin's step (accelbench.backends.mlx.slow_layers)."""
        if not cls.estimated_from_twin:
            return None
        from accelbench.backends.mlx.slow_layers import estimate_from_twin

        return estimate_from_twin(cls, spec, torch_twin_spec(spec))

    def build_twin(self) -> Any:
        """The PyTorch twin of this case on the PyTorch CPU, in fp32, from the fixed seed."""
        from accelbench.backends.torch.devices import get_device

        return self.twin(torch_twin_spec(self.spec), get_device("cpu"))

    # What a subclass writes -------------------------------------------------------------

    @abstractmethod
    def setup(self, twin: Any) -> None:
        """Build arrays (and model) from the twin's; runs on this device's stream."""

    @abstractmethod
    def make_step(self) -> Callable[[], Any]:
        """One step as a function of no arguments returning its result arrays (lazily)."""

    def state(self) -> list[Any]:
        """The arrays a step reads and replaces (parameters, optimizer state); none for ops."""
        return []

    def init_state(self) -> None:
        """Create every array of ``state`` that a first step would create lazily (an
        optimizer's moments), before ``mx.compile`` captures it."""

    # The contract ---------------------------------------------------------------------------

    def compile_step(self) -> None:
        """``mx.compile`` the step: ``inputs`` and ``outputs`` are the state it replaces."""
        self.init_state()
        state = self.state()
        step = self.make_step()
        if state:
            self._step = self.mx.compile(step, inputs=state, outputs=state)
        else:
            self._step = self.mx.compile(step)

    @property
    def compiled(self) -> bool:
        return self.spec.mode != EAGER

    def compile_facts(self) -> dict[str, Any]:
        return {"compile_backend": "mx.compile"}

    @classmethod
    def is_compile_failure(cls, exc: BaseException) -> bool:
        """MLX could not compile the step (its compile errors start with ``[compile]``)."""
        return isinstance(exc, (ValueError, RuntimeError)) and "[compile]" in str(exc)

    def step(self) -> Any:
        """Build one step's graph and queue its evaluation; ``device.synchronize`` waits for it."""
        with self.device.stream():
            result = self._step()
            self.mx.async_eval(result, self.state())
        return result

    def dtype_ran(self) -> str:
        if self._last_output_dtype is None:
            with self.device.stream():
                self._last_output_dtype = self.output_dtype()
        from accelbench.backends.mlx.devices import dtype_name

        return dtype_name(self._last_output_dtype, self.device.float32_mode())

    @abstractmethod
    def output_dtype(self) -> Any:
        """The MLX dtype of the step's main output (the logits, the attention output)."""

    def to_numpy(self, array: Any) -> np.ndarray:
        """``array`` evaluated, as float32 NumPy; call it inside ``device.stream()``."""
        return np.asarray(array.astype(self.mx.float32))


class MlxModelWorkload(MlxWorkload):
    """A network with its twin's weights, trained with a loss and an optimizer.

    ``weights_from_torch`` maps the twin's state dict (parameters and BatchNorm statistics)
    onto the MLX model and must cover it exactly; the trainable parameter counts must agree.
    ``parity_outputs`` gives what the PyTorch workloads give: the output, the loss and the
    gradient of the twin's last parameter, converted back to PyTorch's name and layout.
    """

    twin: ClassVar[type[TorchWorkload]]

    def setup(self, twin: Any) -> None:
        self.model = self.build_model()
        self.model.load_weights(list(self.weights_from_torch(twin.model)), strict=True)
        self._check_parameter_count(twin.model)
        set_compute_dtype(self.model, self.compute_dtype)
        self.model.train(self.training)
        self.head_name = [n for n, p in twin.model.named_parameters() if p.requires_grad][-1]
        self.inputs = self.convert_inputs(twin.inputs)
        self.targets = self.convert_targets(twin.targets)
        self.optimizer = self.make_optimizer() if self.training else None
        self.mx.eval(self.model.parameters(), self.inputs, self.targets)

    # What a subclass writes -------------------------------------------------------------

    @abstractmethod
    def build_model(self) -> Any:
        """The mlx.nn.Module, with the twin's structure (its weights are loaded after)."""

    @abstractmethod
    def convert_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        """The twin's CPU input tensors as MLX arrays (images NHWC)."""

    def convert_targets(self, targets: Any) -> Any:
        return self.mx.array(targets.numpy().astype(np.int32))

    def mlx_name(self, torch_name: str) -> str:
        """The MLX parameter path of a PyTorch state-dict entry; the same name by default."""
        return torch_name

    def to_mlx_layout(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        """Convolution kernels go from PyTorch's OIHW to MLX's OHWI; the rest is kept."""
        return value.transpose(0, 2, 3, 1) if value.ndim == 4 else value

    def to_torch_layout(self, torch_name: str, value: np.ndarray) -> np.ndarray:
        """The inverse of ``to_mlx_layout``, for gradients compared with PyTorch's."""
        return value.transpose(0, 3, 1, 2) if value.ndim == 4 else value

    def loss(self, output: Any, targets: Any) -> Any:
        losses = self.nn.losses.cross_entropy(output.astype(self.mx.float32), targets)
        return losses.mean()

    def make_optimizer(self) -> Any:
        return self.optim.SGD(learning_rate=0.01, momentum=0.9)

    # The contract ---------------------------------------------------------------------------

    def weights_from_torch(self, torch_model: Any) -> Any:
        for name, tensor in torch_model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            value = tensor.detach().float().numpy()
            yield self.mlx_name(name), self.mx.array(self.to_mlx_layout(name, value))

    def _check_parameter_count(self, torch_model: Any) -> None:
        from mlx.utils import tree_flatten

        mlx_count = sum(v.size for _, v in tree_flatten(self.model.trainable_parameters()))
        torch_count = sum(p.numel() for p in torch_model.parameters() if p.requires_grad)
        if mlx_count != torch_count:
            raise RuntimeError(
                f"MLX {self.name} has {mlx_count:,} trainable parameters, "
                f"its PyTorch twin {torch_count:,}"
            )

    def forward(self) -> Any:
        return self.model(*self.inputs)

    def _loss_and_output(self) -> tuple[Any, Any]:
        output = self.forward()
        return self.loss(output, self.targets), output

    def make_step(self) -> Callable[[], Any]:
        if not self.training:
            return self.forward
        loss_and_grad = self.nn.value_and_grad(self.model, lambda: self._loss_and_output()[0])

        def train_step() -> Any:
            loss, grads = loss_and_grad()
            self.optimizer.update(self.model, grads)
            return loss

        return train_step

    def state(self) -> list[Any]:
        if not self.training:
            return []
        return [self.model.state, self.optimizer.state]

    def init_state(self) -> None:
        if self.optimizer is not None:
            self.optimizer.init(self.model.trainable_parameters())

    def output_dtype(self) -> Any:
        """Known from the graph, unevaluated; built in eval mode, so BatchNorm's running
        statistics stay as they are."""
        self.model.train(False)
        try:
            return self.forward().dtype
        finally:
            self.model.train(self.training)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The output, and in training the loss and the head's gradient, from the fresh state;
        in compile mode computed by ``mx.compile`` of the same function (with the model's
        state, whose BatchNorm statistics a training forward pass updates, as its inputs
        and outputs)."""
        compute = self._parity_arrays
        with self.device.stream():  # the float32 casts for NumPy run on this device too
            if self.compiled:
                state = [self.model.state]
                compute = self.mx.compile(compute, inputs=state, outputs=state)
            arrays = compute()
            outputs = {name: self.to_numpy(array) for name, array in arrays.items()}
        head = f"grad[{self.head_name}]"
        if head in outputs:
            outputs[head] = self.to_torch_layout(self.head_name, outputs[head])
        return outputs

    def _parity_arrays(self) -> dict[str, Any]:
        from mlx.utils import tree_flatten

        if not self.training:
            return {"output": self.forward()}
        grad_fn = self.nn.value_and_grad(self.model, self._loss_and_output)
        (loss, output), grads = grad_fn()
        head = dict(tree_flatten(grads))[self.mlx_name(self.head_name)]
        return {"output": output, "loss": loss, f"grad[{self.head_name}]": head}

    def flops_per_step(self) -> int | None:
        """The twin's count (torch.utils.flop_counter on one PyTorch CPU step): the same
        network and batch, so the same work."""
        return self.build_twin().flops_per_step()

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        return {"batch": self.size.batch, "input": list(self.inputs[0].shape), "layout": "NHWC"}


# Layers that compute in a reduced dtype as autocast does ---------------------------------------


def set_compute_dtype(model: Any, dtype: Any) -> None:
    """Give every mixed-precision layer of ``model`` its compute dtype (None: float32)."""
    for module in model.modules():
        if hasattr(module, "compute_dtype"):
            module.compute_dtype = dtype


@functools.cache
def mixed_layers() -> SimpleNamespace:
    """``Linear``, ``Conv2d`` and ``BatchNorm``: mlx.nn's, computing as autocast does.

    Built on first use, so that importing a workload module never imports MLX.
    """
    from accelbench.backends.mlx.devices import modules

    mx, nn, _ = modules()

    class Linear(nn.Linear):
        """nn.Linear; with a compute dtype, input, weight and bias are cast to it."""

        compute_dtype: Any = None

        def __call__(self, x: Any) -> Any:
            dtype = self.compute_dtype
            if dtype is None:
                return super().__call__(x)
            weight = self.weight.astype(dtype)
            if "bias" in self:
                return mx.addmm(self.bias.astype(dtype), x.astype(dtype), weight.T)
            return x.astype(dtype) @ weight.T

    class Conv2d(nn.Conv2d):
        """nn.Conv2d; with a compute dtype, input, kernel and bias are cast to it."""

        compute_dtype: Any = None

        def __call__(self, x: Any) -> Any:
            dtype = self.compute_dtype
            if dtype is None:
                return super().__call__(x)
            y = mx.conv2d(
                x.astype(dtype),
                self.weight.astype(dtype),
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )
            return y + self.bias.astype(dtype) if "bias" in self else y

    class BatchNorm(nn.BatchNorm):
        """nn.BatchNorm; a reduced-precision input is normalized in float32 and cast back."""

        def __call__(self, x: Any) -> Any:
            if x.dtype == mx.float32:
                return super().__call__(x)
            return super().__call__(x.astype(mx.float32)).astype(x.dtype)

    return SimpleNamespace(Linear=Linear, Conv2d=Conv2d, BatchNorm=BatchNorm)
