"""The TensorFlow/Keras workload base: a Keras model stepped in a compiled ``tf.function``.

TensorFlow is imported when a case is built, never when this module is imported, so
collecting a TF benchmark costs nothing on a run without TensorFlow.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from accelbench.backends.tf.devices import dtype_name, keras_policy
from accelbench.core.compiled import Compilable
from accelbench.core.workload import SEED, Workload


class KerasWorkload(Compilable, Workload):
    """A Keras model trained with a loss and an optimizer in a compiled ``tf.function``.

    Weights and inputs come from NumPy generators with fixed seeds, so the same case built
    on two devices starts from identical numbers. Reduced precision is a Keras dtype policy
    given to the model's layers only; the global policy is left alone. As in the PyTorch
    workloads, fp16 training runs without loss scaling.

    Modes: "eager" is TensorFlow's usual graph execution (a ``tf.function`` without XLA,
    what Keras runs on Metal and by default elsewhere); "compile" is the same function with
    ``jit_compile=True``: XLA compiles the whole step (forward, loss, gradients and the
    optimizer update) into fused kernels. Metal has no XLA.
    """

    framework = "tf"
    modes = ("eager", "compile")

    def __init__(self, spec: Any, device: Any) -> None:
        super().__init__(spec, device)
        from accelbench.backends.tf.devices import modules

        tf, keras = self.tf, self.keras = modules()
        self.training = spec.phase == "train"
        self._last_output_dtype: str | None = None
        with device.scope():
            self.model = self.build_model(keras_policy(spec.dtype))
            self.model.set_weights(self.initial_weights(np.random.RandomState(SEED)))
            inputs, targets = self.make_batch(np.random.RandomState(SEED + 1))
            self.inputs = tf.identity(tf.constant(inputs))
            self.targets = tf.identity(tf.constant(targets))
            self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            self.optimizer = self.make_optimizer() if self.training else None
            if self.optimizer is not None:
                self.optimizer.build(self.model.trainable_variables)
        self._check_placement()
        self._jit_compile = False
        self._compiled = self._function(self._train_step if self.training else self._infer_step)

    def _function(self, python_function: Any) -> Any:
        return self.tf.function(python_function, jit_compile=self._jit_compile)

    # What a subclass writes -------------------------------------------------------------

    @abstractmethod
    def build_model(self, dtype_policy: str) -> Any:
        """The keras.Model, every layer given ``dtype_policy``, layers named stably."""

    @abstractmethod
    def make_batch(self, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` as NumPy arrays drawn from ``rng``."""

    def make_optimizer(self) -> Any:
        return self.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)

    def initial_weights(self, rng: np.random.RandomState) -> list[np.ndarray]:
        """PyTorch's default initialization: kernel and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        fan_in being the product of the kernel's shape but its last (output) axis."""
        weights = []
        for layer in self.model.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None:
                continue
            bound = 1.0 / np.sqrt(np.prod(kernel.shape[:-1]))
            for variable in layer.weights:
                weights.append(rng.uniform(-bound, bound, variable.shape).astype(np.float32))
        return weights

    # The contract ---------------------------------------------------------------------------

    def _forward(self, training: bool) -> Any:
        return self.model(self.inputs, training=training)

    def _loss(self, logits: Any) -> Any:
        return self.loss_fn(self.targets, self.tf.cast(logits, self.tf.float32))

    def _infer_step(self) -> Any:
        return self._forward(training=False)

    def _train_step(self) -> Any:
        variables = self.model.trainable_variables
        with self.tf.GradientTape() as tape:
            loss = self._loss(self._forward(training=True))
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return loss

    def step(self) -> Any:
        with self.device.scope():
            return self._compiled()

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The forward output, the loss and the gradients of the last layer's kernel and bias;
        compiled with XLA in compile mode.

        As in the PyTorch workloads, early-layer gradients are left out: they sum over the
        whole batch and image, so their rounding error measures conditioning, not whether
        the device computes correctly (the first kernel's gradient in fp16 on the CPU is
        4e-2 apart from fp32, the head's 2e-4).
        """
        compute = self._function(self._parity_values) if self._jit_compile else self._parity_values
        with self.device.scope():
            values = compute()
        return {name: _to_numpy(value) for name, value in values.items()}

    def _parity_values(self) -> dict[str, Any]:
        if not self.training:
            return {"output": self._forward(training=False)}
        variables = self.model.trainable_variables
        with self.tf.GradientTape() as tape:
            output = self._forward(training=True)
            loss = self._loss(output)
        gradients = tape.gradient(loss, variables)
        values = {"output": output, "loss": loss}
        for variable, gradient in list(zip(variables, gradients))[-2:]:
            values[f"grad[{_stable_name(variable)}]"] = gradient
        return values

    def dtype_ran(self) -> str:
        if self._last_output_dtype is None:
            with self.device.scope():
                self._last_output_dtype = self._forward(training=False).dtype.name
        return dtype_name(self._last_output_dtype, self.device.float32_mode())

    def threads(self) -> int | None:
        from accelbench.backends.tf.devices import intra_op_threads

        return intra_op_threads()

    # Compiled execution: XLA ------------------------------------------------------------

    @classmethod
    def mode_unsupported_reason(cls, spec: Any, device: Any) -> str | None:
        reason = super().mode_unsupported_reason(spec, device)
        if reason is None and spec.mode == "compile" and spec.device == "mps":
            return "Metal has no XLA: TensorFlow's jit_compile=True cannot run on the Apple GPU"
        return reason

    def compile_step(self) -> None:
        self._jit_compile = True
        self._compiled = self._function(self._train_step if self.training else self._infer_step)

    def compilations(self) -> int | None:
        """Traces of the step function; XLA compiles each trace at its first call."""
        return int(self._compiled.experimental_get_tracing_count())

    def compile_facts(self) -> dict[str, Any]:
        return {"compile_backend": "xla"}

    @classmethod
    def is_compile_failure(cls, exc: BaseException) -> bool:
        """XLA could not compile the step on this device (TensorFlow names XLA or the JIT)."""
        from accelbench.backends.tf.devices import modules

        errors = modules()[0].errors
        text = str(exc)
        return isinstance(exc, (errors.UnimplementedError, errors.InvalidArgumentError)) and (
            "XLA" in text or "jit" in text.lower()
        )

    def _check_placement(self) -> None:
        """Variables must live on the device asked for: TensorFlow would otherwise quietly
        run the work on the CPU (soft device placement) and the timing would lie."""
        expected = self.device.tf_name.strip("/").upper()
        for variable in self.model.weights:
            where = variable.value.device
            if not where.upper().endswith(expected):
                raise RuntimeError(
                    f"{_stable_name(variable)} was placed on {where}, not on {self.device.label}"
                )


def _stable_name(variable: Any) -> str:
    """``conv1.kernel``: the same on every build (Keras numbers model names per process)."""
    return ".".join(variable.path.split("/")[-2:])


def _to_numpy(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.numpy(), dtype=np.float32)
