"""A whole smoke session on the CPU, as a user runs it."""

import json

from conftest import SMOKE, add_benchmarks


def test_smoke_run_saves_timings_and_prints_speedup_table(suite, monkeypatch, fresh_devices):
    from accelbench.backends.torch.devices import MpsDevice

    # The same on every machine, a Mac with a usable MPS included.
    monkeypatch.setattr(MpsDevice, "_probe", lambda self: "MPS not available: planted")
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "--benchmark-json",
        "run.json",
        "-rs",
    )
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "CPU only*",
            "*torch cnn*train*fp32*images/s*",
            "not measured (2 cases; every reason in full: -v):",
            "  cannot run here: mps (2 cases; the plan at the top says why)",
            "saved: run.json*",
            "headline: no accelerator was usable, so no speedup (the plan at the top says why)",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    info = saved["benchmarks"][0]["extra_info"]
    assert info["device"] == "cpu"
    assert info["throughput_per_s"] > 0
    assert "accelbench" in saved["machine_info"]
    assert saved["accelbench"]["speedups"]


def test_summary_orders_lengths_numerically():
    from accelbench.results.record import natural_key

    variants = ["sdpa-L=1024", "naive-L=128", "naive-L=64", "sdpa-L=256"]
    assert sorted(variants, key=natural_key) == [
        "naive-L=64",
        "naive-L=128",
        "sdpa-L=256",
        "sdpa-L=1024",
    ]
