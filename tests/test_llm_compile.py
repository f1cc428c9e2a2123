"""The language model's compile mode, the ceilings that run beside it, and its cases as
llama-bench reports them.

The compiled decode is tested with dynamo's ``eager`` backend (the graph capture, its guards
and recompiles, without inductor's code generation, which takes minutes on a small CPU);
the settings chosen for inductor are checked as data.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from fixtures.runs import ceiling, record, saved_run, write

from accelbench.__main__ import main
from accelbench.backends.torch.devices import get_device
from accelbench.core import parity
from accelbench.core.spec import CaseSpec
from accelbench.results import llama_bench
from accelbench.results.runs import load_run
from accelbench.workloads import llm_compiled
from accelbench.workloads.llm import LanguageModel

from conftest import SMOKE, add_benchmarks

SMOKE_SIZE = LanguageModel.SIZES["smoke"]
PROMPT = SMOKE_SIZE.contexts[0]
N = SMOKE_SIZE.generate


@pytest.fixture
def dynamo_only(monkeypatch):
    monkeypatch.setattr(LanguageModel, "compile_backend", "eager")
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def make(phase="tg", mode="eager", dtype="fp32"):
    spec = CaseSpec("torch", "llm", "cpu", phase, dtype, "smoke", f"ctx-L={PROMPT}", mode)
    workload = LanguageModel(spec, get_device("cpu"))
    if mode != "eager":
        workload.compile_step()
    return workload


# The decode with its position on the device ---------------------------------------------------


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_position_tensor_decodes_as_the_python_position_does(dtype):
    """Logits and cache alike: the whole cache read with the later positions masked is the
    cache read up to the position."""
    eager, data = make(dtype=dtype), make(dtype=dtype)
    tolerance = {"fp32": 1e-5, "bf16": 2e-2}[dtype]
    token = eager.first_token
    with torch.inference_mode():
        for position in range(PROMPT, PROMPT + N):
            expected = eager.model(token, position, eager.cache)
            actual = data.model.decode(token, torch.tensor([position]), data.cache)
            torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance)
            token = expected.argmax(-1)
    torch.testing.assert_close(data.cache.keys, eager.cache.keys, rtol=tolerance, atol=tolerance)


def test_the_compiled_decode_advances_token_and_position_on_the_device(dynamo_only):
    workload = make(mode="compile")
    decoder = workload.decoder
    assert int(decoder.position) == PROMPT
    token = workload.step()
    assert token is decoder.token and int(decoder.position) == PROMPT + 1
    assert torch.equal(token, workload.logits.argmax(-1))


def test_one_compiled_graph_serves_every_position_of_every_round(dynamo_only):
    workload = make(mode="compile")
    before = workload.compilations()
    workload.step()
    assert workload.compilations() == before + 1
    for _ in range(3 * N):  # three rounds: past the cache's end it starts over
        workload.step()
    assert workload.compilations() == before + 1
    assert workload.compile_facts()["graph_breaks"] == 0


def test_the_compiled_rounds_generate_the_eager_tokens(dynamo_only):
    eager, compiled = make(), make(mode="compile")
    for workload in (eager, compiled):
        workload.round_start()
    eager_tokens = [int(eager.step()) for _ in range(N)]
    compiled_tokens = [int(compiled.step()) for _ in range(N)]
    assert compiled_tokens == eager_tokens
    compiled.round_start()  # a new round decodes the same positions again
    assert int(compiled.step()) == eager_tokens[0]


@pytest.mark.parametrize("phase", ["tg", "pp"])
def test_compiled_parity_against_the_cpu_eager_model(dynamo_only, phase):
    reference = make(phase).parity_outputs()
    result = parity.compare(make(phase, "compile").parity_outputs(), reference, "fp32")
    parity.check(result, "compiled")
    assert result.max_error < 1e-5
    if phase == "tg":
        assert result.tokens.agreed == result.tokens.steps == SMOKE_SIZE.parity_tokens + 1


def test_a_planted_wrong_compiled_token_fails_parity(dynamo_only, monkeypatch):
    reference = make().parity_outputs()
    honest = llm_compiled.DeviceDecode.advance

    def planted(self):
        logits = honest(self)
        self.token.add_(1).remainder_(SMOKE_SIZE.vocab)
        return logits

    monkeypatch.setattr(llm_compiled.DeviceDecode, "advance", planted)
    result = parity.compare(make(mode="compile").parity_outputs(), reference, "fp32")
    with pytest.raises(parity.ParityError, match="generated token 1"):
        parity.check(result, "compiled")


def test_inductor_settings_are_max_autotune_with_cuda_graphs_on_cuda_and_default_elsewhere():
    cuda = llm_compiled.compile_settings("cuda")
    assert cuda.mode == "max-autotune" and cuda.cuda_graphs
    assert cuda.options["coordinate_descent_tuning"] and cuda.options["max_autotune"]
    cpu = llm_compiled.compile_settings("cpu")
    assert (cpu.mode, cpu.options, cpu.cuda_graphs) == ("default", {}, False)
    assert llm_compiled.compile_settings("cuda", backend="eager").options == {}


def test_the_cache_token_and_position_are_static_addresses(dynamo_only, monkeypatch):
    marked = []
    monkeypatch.setattr(torch._dynamo, "mark_static_address", marked.append)
    workload = make(mode="compile")
    decoder = workload.decoder
    expected = (*workload.cache.tensors(), decoder.token, decoder.position)
    assert [id(t) for t in marked] == [id(t) for t in expected]


def test_every_layer_has_a_cache_tensor_of_its_own():
    cache = make().cache
    storages = {t.untyped_storage().data_ptr() for t in cache.tensors()}
    assert len(storages) == 2 * SMOKE_SIZE.layers


@pytest.fixture
def inductor_codegen():
    """Inductor generates code afresh (not from its cache), from a clean dynamo state."""
    from torch._inductor import config

    torch._dynamo.reset()
    with config.patch(fx_graph_cache=False):
        yield
    torch._dynamo.reset()


def test_inductor_writes_each_layers_cache_in_place(inductor_codegen):
    """Real inductor code generation on the CPU: no buffer of the compiled decode is as large
    as one layer's cache. (With the layers' caches as views of one tensor, inductor copied
    that whole tensor at every layer's write.)"""
    from torch._inductor.utils import run_and_get_code

    workload = make(mode="compile")
    with torch.inference_mode():
        _, code = run_and_get_code(workload.step)
    layer_cache = workload.cache.keys[0].numel()
    buffers = re.findall(r"empty_strided_\w+\(\(([\d, ]+)\)", "\n".join(code))
    sizes = [math.prod(int(n) for n in shape.split(",") if n.strip()) for shape in buffers]
    assert buffers and max(sizes) < layer_cache


def test_a_compile_session_times_tokens_with_the_compile_time_apart(suite, monkeypatch):
    monkeypatch.setattr(LanguageModel, "compile_backend", "eager")
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py")
    args = (*SMOKE, "--devices", "cpu", "--mode", "compile", "-k", f"tg and {PROMPT}")
    result = suite.runpytest(*args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2)  # the copy ceiling runs beside it, eagerly
    saved = json.loads((suite.path / "run.json").read_text())
    (tg,) = [b["extra_info"] for b in saved["benchmarks"] if b["extra_info"]["workload"] == "llm"]
    compiled = (tg["mode"], tg["compile_backend"], tg["compile_mode"])
    assert compiled == ("compile", "eager", "default")
    assert tg["compile_time_s"] > 0 and tg["recompiles_timed"] == 0
    assert tg["steps_per_round"] == N and tg["items_per_step"] == 1
    (row,) = saved["accelbench"]["llm"]
    assert row["copy_share"] is not None or row["copy_share_mark"] is not None


# The ceilings beside the language model -------------------------------------------------------


def collected(result) -> list[str]:
    return [line.split("::")[-1] for line in result.outlines if "::" in line]


def test_selecting_a_language_model_case_brings_its_ceiling(suite):
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py")
    args = (*SMOKE, "--devices", "cpu", "--frameworks", "torch", "--collect-only", "-q")
    tg = suite.runpytest(*args, "-k", f"tg and {PROMPT}")
    assert collected(tg) == ["test_ceiling[cpu-peak-copy]", f"test_llm[cpu-tg-ctx-L={PROMPT}]"]
    both = suite.runpytest(*args, "-k", f"llm and {PROMPT}")
    assert collected(both)[:2] == ["test_ceiling[cpu-peak-matmul]", "test_ceiling[cpu-peak-copy]"]
    off = suite.runpytest(*args, "-k", f"tg and {PROMPT}", "--no-yardsticks")
    assert collected(off) == [f"test_llm[cpu-tg-ctx-L={PROMPT}]"]


def test_naming_only_the_language_models_file_collects_the_ceiling_beside_it(suite):
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py")
    args = ("benchmarks/test_llm.py", *SMOKE, "--devices", "cpu", "--frameworks", "torch")
    result = suite.runpytest(*args, "-k", f"tg and {PROMPT}", "--collect-only", "-q")
    assert collected(result) == ["test_ceiling[cpu-peak-copy]", f"test_llm[cpu-tg-ctx-L={PROMPT}]"]


def test_a_graph_run_measures_the_ceilings_eagerly_and_a_run_without_one_adds_nothing(suite):
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py", "test_cnn_torch.py")
    args = (*SMOKE, "--devices", "cpu", "--frameworks", "torch", "--collect-only", "-q")
    graph = suite.runpytest(*args, "--mode", "graph", "-k", f"tg and {PROMPT}")
    assert collected(graph) == [
        "test_ceiling[cpu-peak-copy]",
        f"test_llm[cpu-tg-ctx-L={PROMPT}-graph]",
    ]
    cnn = suite.runpytest(*args, "-k", "cnn")
    assert all("ceiling" not in name for name in collected(cnn))


def test_a_ceiling_already_selected_is_not_added_twice(suite):
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py")
    args = (*SMOKE, "--devices", "cpu", "--frameworks", "torch", "--collect-only", "-q")
    result = suite.runpytest(*args, "-k", f"(tg and {PROMPT}) or copy")
    assert collected(result).count("test_ceiling[cpu-peak-copy]") == 1


def test_the_quick_profile_measures_a_devices_ceilings_once_whatever_the_frameworks(suite, mlx):
    add_benchmarks(
        suite, "test_llm.py", "test_llm_mlx.py", "test_ceiling.py", "test_ceiling_mlx.py"
    )
    result = suite.runpytest("--benchmark-only", "--devices", "cpu", "--collect-only", "-q")
    ceilings = [name for name in collected(result) if "ceiling" in name]
    assert ceilings == ["test_ceiling[cpu-peak-matmul]", "test_ceiling[cpu-peak-copy]"]
    alone = suite.runpytest(
        "--benchmark-only", "--devices", "cpu", "--collect-only", "-q", "-k", "mlx"
    )
    assert [n for n in collected(alone) if "ceiling" in n] == [
        "test_ceiling_mlx[cpu-peak-matmul]",
        "test_ceiling_mlx[cpu-peak-copy]",
    ]


# llama-bench's rows ---------------------------------------------------------------------------


def llm_entries(variant="ctx-L=512"):
    tg = record("llm", "cuda", "tg", 1.6e-3, variant=variant, items=1, item_unit="tokens")
    tg["extra_info"]["bytes_per_step"] = 2_490_000_000
    pp = record("llm", "cuda", "pp", 0.01, variant=variant, items=512, item_unit="tokens")
    shapes = {"context": 512, "parameters": 1_235_814_400, "shape_of": "Llama-3.2-1B"}
    tg["extra_info"]["shapes"] = {**shapes, "generate": 128}
    pp["extra_info"]["shapes"] = {**shapes, "generate": 0}
    for entry in (tg, pp):
        entry["extra_info"]["dtype"] = "bf16"
    return [*ceiling("cuda", 700, 3000), tg, pp]


def test_a_row_per_language_model_test_named_and_measured_as_llama_bench_does(tmp_path):
    run = load_run(write(tmp_path / "run.json", saved_run(llm_entries())))
    rows = {r["test"]: r for r in llama_bench.rows(run)}
    assert set(rows) == {"pp512", "tg128 @ d512"}  # the ceilings are no language model
    tg, pp = rows["tg128 @ d512"], rows["pp512"]
    assert (tg["n_prompt"], tg["n_gen"], tg["n_depth"]) == (0, 128, 512)
    assert (pp["n_prompt"], pp["n_gen"], pp["n_depth"]) == (512, 0, 0)
    assert tg["model_type"] == "Llama-3.2-1B BF16" and tg["weights"] == "BF16"
    assert tg["model_size"] == 1_235_814_400 * 2
    mean, stddev = 1.6e-3, 1.6e-3 * 0.02 / 1.35  # the fixture's per-step statistics
    assert tg["avg_ts"] == pytest.approx(1 / mean)
    assert tg["stddev_ts"] == pytest.approx(stddev / mean**2)
    assert tg["avg_ns"] == round(mean * 128 * 1e9)  # one test: 128 tokens
    assert pp["avg_ts"] == pytest.approx(512 / 0.01)
    assert tg["gb_per_s"] == pytest.approx(2.49 / 1.6e-3) and pp["gb_per_s"] is None
    assert tg["identity"]["device"] == "cuda" and tg["run_id"] and "build_commit" in tg


def test_export_writes_llama_bench_jsonl_with_quantized_weights_from_the_variant(tmp_path, capsys):
    entries = llm_entries("ctx-L=512-w4")
    path = write(tmp_path / "run.json", saved_run(entries))
    assert main(["export", str(path), "--format", "llama-bench"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["test"] for r in rows] == ["tg128 @ d512", "pp512"]
    assert [r["model_type"] for r in rows] == ["Llama-3.2-1B w4"] * 2
    # A quantized model's size is never guessed from its parameters and the dtype.
    assert [r["model_size"] for r in rows] == [None, None]
