"""The TensorFlow backend: device mapping, the Keras CNN as the PyTorch CNN's twin, parity.

What needs a Mac or an NVIDIA GPU is checked through its decisions (the skip reasons, as
pure functions of the platform facts) and through a fake Metal GPU that computes on the
CPU, so the accelerator path (parity against the CPU, synchronize before every clock read)
runs on any machine.

TensorFlow is imported once in this process, before any in-process pytester run (the
``tf`` fixture): pytester drops modules a run imported, and a second ``import
tensorflow`` in one process aborts it.
"""

from __future__ import annotations

import json
import os
import platform
import sys

import numpy as np
import pytest

from accelbench.backends.tf import devices as tf_devices
from accelbench.backends.tf.devices import (
    cuda_unavailable_reason,
    drop_info_records,
    metal_unavailable_reason,
)
from accelbench.core.device import hosted_runner_reason
from accelbench.core.spec import CaseSpec
from accelbench.workloads.cnn_tf import TfSimpleCNN, cnn_flops

from clocklog import timed_intervals
from conftest import SMOKE, add_benchmarks


def tf_cnn(phase, dtype="fp32", size="smoke", device="cpu"):
    spec = CaseSpec("tf", "cnn", device, phase, dtype=dtype, size=size)
    return TfSimpleCNN(spec, tf_devices.get_device(device))


def torch_cnn(phase, size="smoke"):
    from accelbench.backends.torch.devices import get_device
    from accelbench.workloads.cnn import SimpleCNN

    return SimpleCNN(CaseSpec("torch", "cnn", "cpu", phase, size=size), get_device("cpu"))


# Skip reasons, as functions of the platform --------------------------------------------------


def test_metal_needs_macos_on_apple_silicon():
    assert metal_unavailable_reason("linux", "x86_64", (3, 12), None, 0, "2.21.0") == (
        "TensorFlow Metal GPU not available: linux is not macOS"
    )
    reason = metal_unavailable_reason("darwin", "x86_64", (3, 12), "1.2.0", 1, "2.18.1")
    assert reason == "TensorFlow Metal GPU not available: needs Apple Silicon, this Mac is x86_64"


def test_metal_without_the_plugin_says_so_and_why_on_new_pythons():
    reason = metal_unavailable_reason("darwin", "arm64", (3, 12), None, 0, "2.18.1")
    assert reason.startswith(
        "TensorFlow Metal GPU not available: tensorflow-metal is not installed"
    )
    assert "Python" not in reason
    reason = metal_unavailable_reason("darwin", "arm64", (3, 13), None, 0, "2.21.0")
    assert "tensorflow-metal is not installed" in reason
    assert "no wheels for Python 3.13" in reason
    assert "Python 3.9-3.12" in reason


def test_metal_plugin_without_a_gpu_and_with_one():
    reason = metal_unavailable_reason("darwin", "arm64", (3, 12), "1.2.0", 0, "2.18.1")
    assert reason == (
        "TensorFlow Metal GPU not available: tensorflow-metal 1.2.0 is installed "
        "but TensorFlow 2.18.1 lists no GPU"
    )
    assert metal_unavailable_reason("darwin", "arm64", (3, 12), "1.2.0", 1, "2.18.1") is None


def test_cuda_needs_a_cuda_build_and_an_nvidia_gpu():
    h200 = {"device_name": "NVIDIA H200", "compute_capability": (9, 0)}
    assert "no CUDA on macOS" in cuda_unavailable_reason("darwin", False, [], "2.18.1")
    assert "built without CUDA" in cuda_unavailable_reason("linux", False, [h200], "2.21.0")
    assert "sees no NVIDIA GPU" in cuda_unavailable_reason("linux", True, [], "2.21.0")
    assert "METAL" in cuda_unavailable_reason("linux", True, [{"device_name": "METAL"}], "2.21")
    assert cuda_unavailable_reason("linux", True, [h200], "2.21.0") is None


def test_a_metal_plugin_that_breaks_the_import_gets_a_pointer_to_the_pin(monkeypatch):
    versions = {"tensorflow-metal": "1.2.0", "tensorflow": "2.21.0"}
    monkeypatch.setattr(tf_devices, "dist_version", versions.get)

    class NotFoundError(Exception):
        pass

    error = NotFoundError(
        "dlopen(/venv/site-packages/tensorflow-plugins/libmetal_plugin.dylib, 0x0006): "
        "Symbol not found: __ZN10tensorflow28_AttrValue_default_instance_E\n"
        "  Referenced from: <ABC> /venv/site-packages/tensorflow-plugins/libmetal_plugin.dylib"
    )
    reason = tf_devices._import_reason(error)
    assert reason.startswith("TensorFlow unusable: NotFoundError: dlopen(")
    assert "Symbol not found" in reason and "Referenced from" not in reason
    assert "tensorflow-metal 1.2.0 does not load into tensorflow 2.21.0" in reason
    assert "tensorflow>=2.18,<2.19" in reason


# TensorFlow's C++ log lines -------------------------------------------------------------------


def test_info_records_are_dropped_and_warnings_errors_and_other_text_kept():
    native = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795935033.078521    5990 cpu_feature_guard.cc:227] This TensorFlow "
        "binary is optimized\n"
        "To enable the following instructions: AVX2 FMA, rebuild TensorFlow.\n"
        "W0000 00:00:1795935034.6 5990 plugin.cc:12] plugin is old\n"
        "E0000 00:00:1795935034.7 5990 cuda_platform.cc:52] failed call to cuInit\n"
        "I0000 00:00:1795935034.8 5990 port.cc:153] oneDNN custom operations are on.\n"
        "\n"
        "Metal device set to: Apple M4\n"
    )
    assert drop_info_records(native) == (
        "W0000 00:00:1795935034.6 5990 plugin.cc:12] plugin is old\n"
        "E0000 00:00:1795935034.7 5990 cuda_platform.cc:52] failed call to cuInit\n"
        "\n"
        "Metal device set to: Apple M4\n"
    )


# Devices ----------------------------------------------------------------------------------------


def test_cpu_is_usable_and_gpus_skip_with_the_reason_for_this_machine(tf):
    cpu = tf_devices.get_device("cpu")
    assert cpu.usable, cpu.unusable_reason
    assert cpu.framework == "tf"
    assert "(CPU, TensorFlow," in cpu.label
    gpus = tf.config.list_physical_devices("GPU")
    expected = metal_unavailable_reason(
        sys.platform,
        platform.machine(),
        sys.version_info[:2],
        tf_devices.dist_version("tensorflow-metal"),
        len(gpus),
        tf.__version__,
    )
    if expected is None and hosted_runner_reason():
        expected = f"TensorFlow Metal GPU {hosted_runner_reason()}"
    assert tf_devices.get_device("mps").unusable_reason == expected
    if not gpus:
        assert tf_devices.get_device("cuda").unusable_reason.startswith(
            "TensorFlow CUDA GPU not available: "
        )
        assert tf_devices.get_device("mps").unusable_reason is not None


def test_a_gpu_tensorflow_quietly_replaces_with_the_cpu_is_unusable(tf, monkeypatch):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a real GPU is present: TensorFlow places the ops on it")
    monkeypatch.setattr(tf_devices.TfMetalDevice, "_platform_reason", lambda self: None)
    monkeypatch.setattr(tf_devices.TfMetalDevice, "label", property(lambda self: "M4 GPU"))
    device = tf_devices.TfMetalDevice()
    assert device.unusable_reason.startswith("mps: TensorFlow ran a matmul on ")
    assert device.unusable_reason.endswith("CPU:0, not /GPU:0")
    spec = CaseSpec("tf", "cnn", "mps", "train", size="smoke")
    with pytest.raises(RuntimeError, match=r"conv1.kernel was placed on .*CPU:0, not on M4 GPU"):
        TfSimpleCNN(spec, device)


def test_cpu_device_synchronizes_and_recognizes_tensorflow_out_of_memory(tf):
    cpu = tf_devices.get_device("cpu")
    cpu.synchronize()
    oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    assert cpu.is_out_of_memory(oom)
    assert not cpu.is_out_of_memory(ValueError("shapes differ"))
    assert cpu.timer() is None
    cpu.reset_memory()
    assert cpu.memory()["rss_peak_sampled_bytes"] > 0


def test_cpu_runs_reduced_precision_but_not_tf32(tf):
    cpu = tf_devices.get_device("cpu")
    assert cpu.dtype_unsupported_reason("fp32") is None
    assert cpu.dtype_unsupported_reason("fp16") is None
    assert cpu.dtype_unsupported_reason("bf16") is None
    assert "tf32 is an NVIDIA tensor-core mode" in cpu.dtype_unsupported_reason("tf32")


def test_fp32_turns_tensorflows_default_tf32_off(tf):
    cpu = tf_devices.get_device("cpu")
    cpu.set_precision("tf32")
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    cpu.set_precision("fp32")
    assert not tf.config.experimental.tensor_float_32_execution_enabled()


def test_environment_reports_versions_and_devices_and_imports_only_when_asked(tf):
    assert tf_devices.environment(load=False) == {
        "tensorflow": tf_devices.dist_version("tensorflow"),
        "keras": tf_devices.dist_version("keras"),
        "tensorflow-metal": tf_devices.dist_version("tensorflow-metal"),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
    }
    info = tf_devices.environment()
    assert info["import_error"] is None
    assert info["tensorflow_runtime"] == tf.__version__
    assert "/physical_device:CPU:0" in info["physical_devices"]
    assert info["devices"]["cpu"]["usable"] is True
    json.dumps(info)


# The network ------------------------------------------------------------------------------------


def test_keras_cnn_has_the_torch_cnns_layers_and_parameter_count(tf):
    keras_model = tf_cnn("infer").model
    torch_model = torch_cnn("infer").model
    assert keras_model.count_params() == sum(p.numel() for p in torch_model.parameters())
    torch_shapes = [tuple(p.shape) for p in torch_model.parameters()]
    keras_shapes = [tuple(w.shape) for w in keras_model.weights]
    conv = [(k[3], k[2], k[0], k[1]) if len(k) == 4 else k for k in keras_shapes]
    dense = [s[::-1] if len(s) == 2 else s for s in conv]  # Dense kernels are (in, out)
    assert dense == torch_shapes


def test_keras_cnn_computes_the_torch_cnns_function_on_the_same_weights(tf):
    import torch

    torch_workload, keras_workload = torch_cnn("infer"), tf_cnn("infer")
    params = [p.detach().numpy() for p in torch_workload.model.parameters()]
    conv1_w, conv1_b, conv2_w, conv2_b, head_w, head_b = params
    channels = conv2_w.shape[0]
    side = int(np.sqrt(head_w.shape[1] // channels))
    head_nhwc = head_w.reshape(-1, channels, side, side).transpose(2, 3, 1, 0).reshape(-1, 10)
    keras_workload.model.set_weights(
        [
            conv1_w.transpose(2, 3, 1, 0),
            conv1_b,
            conv2_w.transpose(2, 3, 1, 0),
            conv2_b,
            head_nhwc,
            head_b,
        ]
    )
    images = torch_workload.inputs[0]
    with torch.inference_mode():
        expected = torch_workload.model(images).numpy()
    actual = keras_workload.model(images.numpy().transpose(0, 2, 3, 1), training=False).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("phase", ["train", "infer"])
def test_flops_are_counted_as_torch_counts_the_torch_cnn(phase):
    torch_flops = torch_cnn(phase).flops_per_step()
    assert cnn_flops(TfSimpleCNN.SIZES["smoke"].batch, phase) == torch_flops
    assert cnn_flops(TfSimpleCNN.SIZES["standard"].batch, phase) == torch_flops * (
        TfSimpleCNN.SIZES["standard"].batch // TfSimpleCNN.SIZES["smoke"].batch
    )


def test_workload_describes_its_step(tf):
    workload = tf_cnn("train")
    batch = TfSimpleCNN.SIZES["smoke"].batch
    assert workload.items_per_step == batch
    assert workload.shapes() == {"batch": batch, "input": [batch, 32, 32, 3], "layout": "NHWC"}
    assert workload.flops_per_step() == cnn_flops(batch, "train")
    assert workload.threads() >= 1
    assert workload.dtype_ran() == "fp32"


def test_a_train_step_lowers_the_loss(tf):
    workload = tf_cnn("train")
    first = float(workload.step())
    for _ in range(5):
        last = float(workload.step())
    assert last < first


@pytest.mark.parametrize("phase", ["train", "infer"])
def test_parity_outputs_are_the_same_on_every_build(tf, phase):
    first, second = tf_cnn(phase).parity_outputs(), tf_cnn(phase).parity_outputs()
    expected = {"output"}
    if phase == "train":
        expected |= {"loss", "grad[head.kernel]", "grad[head.bias]"}
    assert set(first) == set(second) == expected
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert first["output"].shape == (TfSimpleCNN.SIZES["smoke"].batch, 10)


def test_mixed_precision_is_scoped_to_the_model(tf):
    import keras

    workload = tf_cnn("infer", dtype="fp16")
    assert workload.dtype_ran() == "fp16"
    assert {w.dtype for w in workload.model.weights} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"
    assert tf_cnn("infer", dtype="bf16").dtype_ran() == "bf16"


# The accelerator path, on a fake Metal GPU that computes on the CPU ------------------------------


@pytest.fixture
def fake_metal(tf, monkeypatch):
    """TensorFlow's "mps" device made usable anywhere: its ops run on /CPU:0, and every
    ``sync_devices`` call is logged into ``clocklog.EVENTS``."""
    import clocklog

    clocklog.EVENTS.clear()
    sync = tf.test.experimental.sync_devices

    def logged_sync():
        clocklog.EVENTS.append("sync")
        sync()

    monkeypatch.setattr(tf_devices.TfMetalDevice, "_platform_reason", lambda self: None)
    monkeypatch.setattr(tf_devices.TfMetalDevice, "tf_name", "/CPU:0")
    monkeypatch.setattr(
        tf_devices.TfMetalDevice, "label", property(lambda self: "Fake M4 GPU (Metal, TensorFlow)")
    )
    monkeypatch.setattr(tf.test.experimental, "sync_devices", logged_sync)
    tf_devices.get_device.cache_clear()
    tf_devices._dtype_probe.cache_clear()
    yield clocklog.EVENTS
    tf_devices.get_device.cache_clear()
    tf_devices._dtype_probe.cache_clear()


def test_tf_on_an_accelerator_checks_parity_and_synchronizes_every_round(suite, fake_metal):
    add_benchmarks(suite, "test_cnn_tf.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "mps",
        "--benchmark-timer",
        "clocklog.clock",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2)
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    for bench in saved:
        info = bench["extra_info"]
        assert info["device_label"] == "Fake M4 GPU (Metal, TensorFlow)"
        assert info["parity_max_rel_error"] <= info["parity_tolerance"]
        assert info["framework"] == "tf" and info["dtype_ran"] == "fp32"
    intervals = timed_intervals(fake_metal)
    assert len(intervals) == sum(
        b["stats"]["rounds"] + b["extra_info"]["warmup_rounds"] for b in saved
    )
    assert all(interval == ["sync"] for interval in intervals), intervals
