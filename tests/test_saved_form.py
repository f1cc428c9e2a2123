"""The saved form of a case: one identity (CaseSpec), one registry of saved figures."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from accelbench.core import saved_form
from accelbench.core.saved_form import (
    FIGURES,
    Unusable,
    case_info,
    figures,
    format_saved,
    read_identity,
)
from accelbench.core.spec import (
    IDENTITY_FIELDS,
    NCHW,
    REQUIRED_FIELDS,
    CaseSpec,
    layout_value,
)
from accelbench.report.build import write_report
from accelbench.results.runs import load_run
from accelbench.results.text import render_all
from accelbench.results.views import compute_all

from conftest import SMOKE, add_benchmarks

GOLDEN_SMOKE = Path(__file__).parent / "golden/runs/cpu_smoke_everything.json"
GOLDEN_MODES = Path(__file__).parent / "golden/runs/cpu_smoke_modes_batch_sweep.json"

# What a CPU case of the PyTorch CNN saves, eager in the default layout (no parity: the CPU
# is its own reference), as runs saved by main before the one-identity refactor hold it.
CPU_CASE_KEYS = {
    *IDENTITY_FIELDS,
    "device_label",
    "dtype_ran",
    "item_unit",
    "items_per_step",
    "throughput_per_s",
    "flops_per_step",
    "tflops_per_s",
    "bytes_per_step",
    "timing_mode",
    "steps_per_round",
    "rounds",
    "warmup_steps",
    "warmup_rounds",
    "device_time_median_s",
    "harness_overhead_per_step_s",
    "memory",
    "threads",
    "shapes",
    "first_step_s",
    "energy",
    "conditions",
    "flags",
    "case_wall_s",
    "stability",
    "omp_wait_policy",
}


def test_the_identity_fields_are_the_fields_of_case_spec():
    declared = [f.name for f in dataclasses.fields(CaseSpec)]
    assert sorted(IDENTITY_FIELDS) == sorted(declared)
    assert IDENTITY_FIELDS[:4] == ("framework", "workload", "phase", "variant")  # as read
    assert REQUIRED_FIELDS == ("framework", "workload", "device", "phase")  # no default


def test_every_identity_field_and_figure_is_declared_once_in_the_registry():
    assert set(IDENTITY_FIELDS) <= set(FIGURES)
    assert FIGURES["throughput_per_s"].unit == "items/s"
    assert FIGURES["compile_time_s"].format(1.23456) == "1.23 s"
    assert FIGURES["timing_mode"].check is None  # a fact kept as saved, not read back


def test_a_saved_figure_prints_as_its_declaration_says():
    assert format_saved("throughput_per_s", 128_000.0, "images") == "128k images/s"
    assert format_saved("throughput_per_s", 4.22e12, "bytes") == "4.22 TB/s"
    assert format_saved("throughput_per_s", 3.0, "matmuls", 765.4) == "765 TFLOP/s"
    assert format_saved("tflops_per_s", 0.107) == "0.107"
    assert format_saved("bytes_per_step", 512 * 2**20) == "512 MiB"
    assert format_saved("allreduce_exposed_share", -0.004) == "-0.4%"
    assert format_saved("energy.items_per_joule", 69_700.0) == "69.7k"  # a part of a figure
    assert format_saved("matmul_n", 4096) == "4096^3"  # a workload's own figure
    assert format_saved("latency_batch1_s", None) == "-"


def test_the_summary_and_the_report_print_a_saved_figure_through_its_declaration(
    monkeypatch, tmp_path
):
    declared = FIGURES["compile_time_s"]
    shown = dataclasses.replace(
        declared, format=lambda value: "-" if value is None else f"<{value:.1f} s to compile>"
    )
    monkeypatch.setattr(saved_form, "FIGURES", {**FIGURES, "compile_time_s": shown})
    run = load_run(GOLDEN_MODES)
    assert any(r.compile_time_s for r in run.records)
    summary = render_all(compute_all(run.records))
    report = write_report([run], tmp_path / "report").markdown.read_text()
    for text in (summary, report):
        assert re.search(r"<\d+\.\d s to compile>", text)


def test_a_case_saves_its_identity_in_declaration_order_and_reads_it_back():
    spec = CaseSpec("torch", "cnn", "cuda", "train", "bf16", "smoke", "batch=8", "compile")
    info = case_info(spec, device_label="NVIDIA H200 (CUDA)")
    assert list(info)[:9] == [f.name for f in dataclasses.fields(CaseSpec)]
    assert read_identity(info) == spec


def test_a_figure_not_in_the_registry_cannot_be_written():
    assert figures(throughput_per_s=1.0) == {"throughput_per_s": 1.0}
    with pytest.raises(ValueError, match="tokens_per_watt: not a saved figure; declare it"):
        figures(throughput_per_s=1.0, tokens_per_watt=3.0)


def test_runs_saved_before_mode_and_layout_existed_read_as_eager_in_the_default_layout():
    old = {"framework": "torch", "workload": "cnn", "phase": "train", "device": "cpu"}
    spec = read_identity(old)
    assert (spec.mode, spec.memory_format, spec.variant, spec.dtype) == ("eager", "", "", "")
    assert read_identity({**old, "memory_format": "nchw"}) == spec
    assert read_identity({**old, "mode": "compile"}).execution == "compile"


def test_the_default_layout_is_the_empty_string_everywhere():
    assert layout_value(NCHW) == "" and layout_value("channels_last") == "channels_last"


def test_a_case_without_a_required_identity_field_is_unusable():
    with pytest.raises(Unusable, match=r"extra_info\.phase is empty"):
        read_identity({"framework": "torch", "workload": "cnn", "phase": "", "device": "cpu"})


def test_a_read_side_key_across_devices_is_a_case_spec_with_no_device():
    spec = CaseSpec("torch", "cnn", "cuda", "train")
    assert spec.case == CaseSpec("torch", "cnn", "", "train")
    assert spec.case.label == "torch cnn train"
    assert spec.differences(spec.replace(device="mps", size="smoke")) == [
        "device cuda -> mps",
        "size standard -> smoke",
    ]


def test_a_workload_figure_reads_into_the_records_own_namespace():
    info = {"framework": "torch", "workload": "ceiling", "phase": "peak", "device": "cpu"}
    saved = saved_form.read_case({**info, "variant": "matmul", "shapes": {"n": 256, "m": 3}})
    assert saved.workload_figures == {"matmul_n": 256}
    with pytest.raises(Unusable, match=r"extra_info\.shapes\.n is a string"):
        saved_form.read_case({**info, "shapes": {"n": "256"}})


def test_a_smoke_session_saves_the_extra_info_keys_main_saved(suite, monkeypatch, fresh_devices):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2)
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    assert [set(b["extra_info"]) for b in saved] == [CPU_CASE_KEYS, CPU_CASE_KEYS]
    assert set(CPU_CASE_KEYS) <= set(FIGURES)
    golden = json.loads(GOLDEN_SMOKE.read_text())["benchmarks"]
    same_case = [
        b["extra_info"]
        for b in golden
        if (b["extra_info"]["framework"], b["extra_info"]["workload"]) == ("torch", "cnn")
    ]
    assert same_case and all(set(info) == CPU_CASE_KEYS for info in same_case)
    identities = [{k: b["extra_info"][k] for k in IDENTITY_FIELDS} for b in saved]
    assert [list(b["extra_info"])[:9] for b in saved] == [list(same_case[0])[:9]] * 2
    assert {i["framework"] for i in identities} == {"torch"} and identities[0]["mode"] == "eager"
