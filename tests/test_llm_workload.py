"""Language-model inference: the model's size and arithmetic, the KV cache against a full
recompute, rounds that decode the same positions, parity on generated tokens, and whole
pp/tg sessions.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from fixtures.runs import LABELS, ceiling, record, saved_run, write
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from accelbench.__main__ import main
from accelbench.backends.torch.devices import MpsDevice, get_device
from accelbench.core.measure import SynchronizedBlocks, plan_timing
from accelbench.core.parity import (
    GENERATED_LOGITS,
    GENERATED_TOKENS,
    ParityError,
    check,
    compare,
)
from accelbench.core.sizes import BUDGETS
from accelbench.core.spec import LLM_PHASES, CaseSpec
from accelbench.results import text, views
from accelbench.results.llm import LLM
from accelbench.results.record import parse_entries, parse_entry
from accelbench.results.scaling import SCALING
from accelbench.workloads import llm
from accelbench.workloads.llm import LanguageModel
from accelbench.workloads.llm_model import (
    DecoderLM,
    KVCache,
    attended_positions,
    decode_bytes,
    forward_flops,
    parameter_count,
)

from conftest import SMOKE, add_benchmarks

SMOKE_SIZE = LanguageModel.SIZES["smoke"]
PROMPT = SMOKE_SIZE.contexts[0]  # the shortest: the fastest cases
N = SMOKE_SIZE.generate


def make(phase="tg", dtype="fp32", context=PROMPT, device="cpu"):
    spec = CaseSpec("torch", "llm", device, phase, dtype, "smoke", f"ctx-L={context}")
    return LanguageModel(spec, get_device(device))


class NoDevice:
    def synchronize(self, result=None) -> None: ...

    def sample_memory(self) -> None: ...


def logged_positions(workload, monkeypatch) -> list[int]:
    """Every position a forward pass of ``workload``'s model starts at, in order."""
    positions = []
    honest = workload.model.forward

    def logging(tokens, start, cache, rows=None):
        positions.append(start)
        return honest(tokens, start, cache, rows)

    monkeypatch.setattr(workload.model, "forward", logging)
    return positions


# The model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["smoke", "standard", "full"])
def test_parameter_count_is_the_built_models(size):
    shape = LanguageModel.SIZES[size]
    with torch.device("meta"):
        model = DecoderLM(shape)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(shape)


def test_standard_and_full_have_the_published_shapes_parameter_counts():
    """SmolLM2-135M and Llama-3.2-1B, as their model cards count them (tied heads)."""
    assert parameter_count(LanguageModel.SIZES["standard"]) == 134_515_008
    assert parameter_count(LanguageModel.SIZES["full"]) == 1_235_814_400
    assert parameter_count(SMOKE_SIZE) < 10**6


def test_decode_through_the_cache_equals_a_full_forward_pass():
    """The logits of each generated token, computed one step at a time from the cache, equal
    those of one causal forward pass over the prompt and the generated tokens together.

    The prompt's pass repeats kv head j for query heads j*group ... (j+1)*group - 1, as
    Llama's reference code does; a decode step folds each kv head's query heads into one
    batch of queries instead, so this also proves that the two pair heads alike."""
    workload = make()
    tokens, logits = [workload.first_token], []
    for _ in range(N):
        tokens.append(workload.step())
        logits.append(workload.logits)
    sequence = torch.cat([workload.prompt, *tokens[:-1]], dim=1)
    fresh = KVCache.empty(SMOKE_SIZE, 1, PROMPT + N, torch.float32, "cpu")
    with torch.inference_mode():
        full = workload.model(sequence, 0, fresh, rows=slice(PROMPT, PROMPT + N))
    torch.testing.assert_close(torch.cat(logits, dim=1), full, rtol=1e-5, atol=1e-5)
    assert not torch.equal(logits[0], logits[1])  # each step saw a different position


# Rounds ---------------------------------------------------------------------------------------


def test_every_timed_round_decodes_the_same_positions_and_tokens(monkeypatch):
    workload = make()
    positions = logged_positions(workload, monkeypatch)
    for _ in range(5):  # warm-up leaves the position mid-round
        workload.step()
    blocks = SynchronizedBlocks(
        workload.step, NoDevice(), workload.steps_per_round(), round_start=workload.round_start
    )
    tokens = []
    for _ in range(3):
        for _ in range(N):
            blocks()
        tokens.append(workload.token.item())
    rounds = [positions[5 + i * N : 5 + (i + 1) * N] for i in range(3)]
    assert rounds == [list(range(PROMPT, PROMPT + N))] * 3
    assert tokens[0] == tokens[1] == tokens[2]


def test_steps_beyond_a_round_start_over_instead_of_overrunning_the_cache(monkeypatch):
    workload = make()
    positions = logged_positions(workload, monkeypatch)
    for _ in range(2 * N + 3):
        workload.step()
    assert max(positions) == PROMPT + N - 1 == workload.cache.capacity - 1
    assert positions[N : N + 3] == [PROMPT, PROMPT + 1, PROMPT + 2]


def test_round_start_runs_before_the_first_step_of_each_round_and_timer():
    events = []

    class Timer:
        def start(self):
            events.append("timer")

        def stop(self): ...

    blocks = SynchronizedBlocks(
        lambda: events.append("step"), NoDevice(), 3, Timer(), lambda: events.append("start")
    )
    for _ in range(6):
        blocks()
    assert events == ["start", "timer", "step", "step", "step"] * 2


def test_a_tg_round_is_the_workloads_fixed_number_of_tokens_whatever_the_step_time():
    assert make("tg").steps_per_round() == N
    assert make("pp").steps_per_round() is None
    for step_s in (1e-6, 1e-3, 10.0):
        plan = plan_timing(3, step_s, BUDGETS["standard"], steps_per_round=128)
        assert plan.steps_per_round == 128
        assert plan.rounds >= 2
    assert plan_timing(3, 1e-3, BUDGETS["standard"]).steps_per_round == 20


def test_a_tg_case_whose_two_rounds_would_overrun_its_budget_is_skipped_with_the_estimate(
    suite, monkeypatch
):
    from accelbench.core import runner

    honest = runner.warm_up

    def planted(step, device, budget, **kw):  # as if the warm-up had measured 5 s per step
        return honest(step, device, budget, **kw)[0], 5.0

    monkeypatch.setattr(runner, "warm_up", planted)
    add_benchmarks(suite, "test_llm.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", f"tg and {PROMPT}", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"*llm tg ctx-L={PROMPT}: {N} steps per round at 5 s each (warm-up estimate) need "
            "about 80 s for two rounds; this size allows 10 s*"
        ]
    )


# Figures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_bytes_per_generated_token_are_the_weights_once_and_the_cache_at_its_positions(dtype):
    workload = make(dtype=dtype)
    model, itemsize = workload.model, 2 if dtype == "bf16" else 4
    weights = sum(p.numel() * p.element_size() for n, p in model.named_parameters())
    weights -= model.embed.weight.numel() * itemsize - SMOKE_SIZE.d_model * itemsize
    position = sum(t[:, :, 0].numel() for t in workload.cache.tensors()) * itemsize  # k and v
    attended = sum(t + 1 for t in range(PROMPT, PROMPT + N)) / N
    expected = weights + position * (attended + 1)  # read every attended, write the new one
    assert workload.bytes_per_step() == round(expected)
    assert make("pp").bytes_per_step() is None


def test_a_tied_head_reads_as_many_bytes_per_token_as_an_untied_one():
    """Fewer parameters, the same traffic: the head reads its table whole either way, and
    the embedding one row of it."""
    tied = dataclasses.replace(SMOKE_SIZE, tied=True)
    table = SMOKE_SIZE.vocab * SMOKE_SIZE.d_model
    assert parameter_count(SMOKE_SIZE) - parameter_count(tied) == table
    assert decode_bytes(SMOKE_SIZE, 2, 16, 8) == decode_bytes(tied, 2, 16, 8)


def test_flop_formula_matches_torchs_flop_counter():
    """Counted through the math backend, which computes causal attention's masked half too:
    the formula counts the causal half only."""
    workload, s = make("pp"), SMOKE_SIZE
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        workload.step()
    masked = 4 * s.layers * s.heads * s.head_dim * (PROMPT * PROMPT - attended_positions(0, PROMPT))
    assert counter.get_total_flops() == workload.flops_per_step() + masked
    assert workload.flops_per_step() == forward_flops(s, 0, PROMPT)

    decode = make("tg")
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        decode.step()  # at position PROMPT: no mask, every cached position counts
    assert counter.get_total_flops() == forward_flops(s, PROMPT, 1)
    mean = sum(forward_flops(s, PROMPT + i, 1) for i in range(N)) / N
    assert decode.flops_per_step() == round(mean)


def test_a_model_that_cannot_fit_is_refused_before_it_is_built(monkeypatch):
    monkeypatch.setattr(llm, "host_memory_available_bytes", lambda: 2**10)
    monkeypatch.setattr(llm, "build", lambda *a: pytest.fail("built"))
    with pytest.raises(
        MemoryError,
        match=rf"llm ctx-L={PROMPT} \(0\.164M parameters, bf16\) needs about 0\.0 GiB; "
        r"0\.0 GiB of host memory",
    ):
        make(dtype="bf16")


def test_a_variant_must_name_a_context_length():
    with pytest.raises(ValueError, match="ctx-L=<length>"):
        LanguageModel(CaseSpec("torch", "llm", "cpu", "tg", size="smoke"), get_device("cpu"))


# Parity on generated tokens ------------------------------------------------------------------


def generation(tokens, logits):
    return {GENERATED_TOKENS: np.array(tokens), GENERATED_LOGITS: np.array(logits, float)}


def test_generated_tokens_that_agree_pass_and_are_recorded():
    logits = [[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]]
    result = compare(generation([1, 0], logits), generation([1, 0], logits), "fp32")
    assert result.passed and result.tokens.agreed == result.tokens.steps == 2


def test_generations_parting_at_a_near_tie_pass_and_later_steps_are_not_compared():
    """The CPU's top two tokens 0.001 apart: the accelerator's rounding picks the other.
    From there the two decode different sequences, so their later logits differ freely."""
    cpu = generation([1, 2, 0], [[0, 2.0, 1], [0, 1.0005, 1.0015], [5, 0, 0]])
    accelerator = generation([1, 1, 2], [[0, 2.0, 1], [0, 1.0011, 1.0009], [0, 0, 5]])
    result = compare(accelerator, cpu, "bf16")
    assert result.passed
    assert (result.tokens.agreed, result.tokens.cpu_margin) == (1, pytest.approx(0.001))
    assert result.errors[GENERATED_LOGITS] < 1e-3


def test_a_generated_token_that_is_not_the_argmax_of_its_own_logits_fails():
    logits = [[0, 2.0, 1], [0, 1.0, 3.0]]
    with pytest.raises(ParityError, match=r"GPU: generated token 1 is 0 where the CPU generated 2"):
        check(compare(generation([1, 0], logits), generation([1, 2], logits), "fp32"), "GPU")


def test_logits_beyond_tolerance_fail_even_when_the_tokens_agree():
    cpu = generation([1], [[0, 2.0, 1]])
    accelerator = generation([1], [[0, 2.2, 1]])
    with pytest.raises(ParityError, match="output 'generated logits' differs"):
        check(compare(accelerator, cpu, "fp32"), "GPU")


def test_bf16_against_the_cpu_passes_parity_on_tokens_and_logits():
    for phase in ("pp", "tg"):
        expected = make(phase).parity_outputs()
        result = compare(make(phase, "bf16").parity_outputs(), expected, "bf16")
        assert result.passed, result
    assert set(expected) == {"teacher-forced logits", GENERATED_LOGITS, GENERATED_TOKENS}
    assert expected[GENERATED_TOKENS].shape == (SMOKE_SIZE.parity_tokens + 1,)


# Views --------------------------------------------------------------------------------------


def llm_run() -> list[dict]:
    """A cuda ceiling of 50 TFLOP/s and 4000 GB/s; tg moving 2 GB per 1 ms token (2000 GB/s),
    pp doing 1 TFLOP per 0.1 s step (10 TFLOP/s)."""
    entries = [
        *ceiling("cuda", 50.0, 4000.0),
        record(
            "llm",
            "cuda",
            "tg",
            1e-3,
            variant="ctx-L=512",
            items=1,
            item_unit="tokens",
            bytes_moved=2 * 10**9,
        ),
        record(
            "llm",
            "cuda",
            "pp",
            0.1,
            variant="ctx-L=512",
            items=512,
            item_unit="tokens",
            flops=10**12,
        ),
    ]
    for entry, generate in zip(entries[2:], (128, 0)):
        entry["extra_info"]["shapes"] = {"batch": 1, "context": 512, "generate": generate}
    return entries


def test_tg_bandwidth_and_pp_flops_are_shown_as_shares_of_the_same_runs_ceilings():
    records, problems = parse_entries(llm_run())
    assert problems == []
    rows = {r["phase"]: r for r in LLM.saved(LLM.rows(records))}
    assert rows["tg"]["test"] == "tg128 @ d512" and rows["pp"]["test"] == "pp512"
    assert rows["tg"]["gb_per_s"] == pytest.approx(2000.0)
    assert rows["tg"]["copy_share"] == pytest.approx(0.5)
    assert rows["pp"]["matmul_share"] == pytest.approx(10.0 / 50.0)
    assert rows["tg"]["matmul_share"] is None and rows["pp"]["copy_share"] is None
    shares = {r.key.phase: r.copy_share.value for r in views.case_rows(records)}
    assert shares["tg"] == pytest.approx(0.5) and shares["pp"] is None
    assert shares["peak"] is None  # a copy ceiling is not a share of itself
    rendered = LLM.text(LLM.load(list(rows.values())))
    assert "tg128 @ d512" in rendered and "50%" in rendered and "20%" in rendered
    assert "add benchmarks/test_ceiling.py" not in rendered


def test_without_a_ceiling_in_the_run_the_llm_view_says_what_to_add():
    records, _ = parse_entries(llm_run()[2:])
    rows = LLM.rows(records)
    assert [r.copy_share for r in rows] == [None, None]
    assert "add benchmarks/test_ceiling.py to the run" in LLM.text(rows)


def test_the_llm_view_is_a_saved_section_of_the_workloads_phases():
    assert set(LanguageModel.phases) == set(LLM_PHASES)
    records, _ = parse_entries(llm_run())
    computed = views.compute_all(records)
    assert {r["test"] for r in computed["llm"]} == {"pp512", "tg128 @ d512"}
    assert "language model at batch 1" in text.render_all(computed)


def test_a_saved_tg_case_reads_as_a_record_with_its_phase_and_token_parity():
    entry = llm_run()[2]
    entry["extra_info"]["parity_tokens"] = {"steps": 33, "agreed": 33, "cpu_token": None}
    tg = parse_entry(entry)
    assert (tg.key.phase, tg.key.variant) == ("tg", "ctx-L=512")
    assert tg.workload_figures == {"generated_per_round": 128}
    assert tg.extra["parity_tokens"]["agreed"] == 33
    assert parse_entry(llm_run()[3]).workload_figures == {}  # pp generates nothing


def test_the_attention_plot_leaves_out_the_language_models_context_sweep():
    """ctx-L=<n> parses as a length sweep (the scaling section shows it), but it is no
    attention implementation."""
    entries = llm_run()
    entries.append(record("llm", "cuda", "pp", 0.4, variant="ctx-L=2048", items=2048, flops=10**12))
    entries += [
        record("attention", "cuda", "infer", 1e-3 * n, variant=f"sdpa-L={n}", items=n)
        for n in (128, 256)
    ]
    records, _ = parse_entries(entries)
    assert {r.key.workload for r in SCALING.rows(records)} == {"llm", "attention"}
    assert [s.label.split(" on ")[0] for s in views.attention_series(records)] == ["sdpa"]


def test_the_report_shows_tg_gb_per_s_as_a_share_of_the_copy_ceiling(tmp_path):
    run = write(tmp_path / "run.json", saved_run(llm_run()))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    table = markdown.split("\n### torch llm\n", 1)[1].strip().split("\n\n")[0].splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    rows = [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in table[2:]
    ]
    tg = next(r for r in rows if r["phase"] == "tg")
    assert (tg["device"], tg["GB/s"], tg["of copy ceiling"]) == (LABELS["cuda"], "2000", "50%")
    assert next(r for r in rows if r["phase"] == "pp")["of copy ceiling"] == "-"
    assert "tg128 @ d512" in markdown  # the llm section, among the other summary sections
    assert not (tmp_path / "out" / "attention.png").exists()


# Sessions -----------------------------------------------------------------------------------


def test_smoke_session_measures_pp_and_tg_with_their_figures(suite):
    add_benchmarks(suite, "test_llm.py", "test_ceiling.py")
    selected = ("-k", f"{PROMPT} or ceiling")
    result = suite.runpytest(*SMOKE, *selected, "--devices", "cpu", "--benchmark-json", "run.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*language model at batch 1*", f"tg{N} @ d{PROMPT} *fp32*%*"])
    saved = json.loads((suite.path / "run.json").read_text())
    cases = {(b["extra_info"]["phase"], b["extra_info"]["variant"]): b for b in saved["benchmarks"]}
    tg = cases[("tg", f"ctx-L={PROMPT}")]
    assert tg["extra_info"]["steps_per_round"] == tg["stats"]["iterations"] == N
    assert tg["extra_info"]["bytes_per_step"] == make().bytes_per_step()
    pp = cases[("pp", f"ctx-L={PROMPT}")]
    assert pp["extra_info"]["items_per_step"] == PROMPT
    assert pp["extra_info"]["flops_per_step"] == forward_flops(SMOKE_SIZE, 0, PROMPT)
    assert {r["test"] for r in saved["accelbench"]["llm"]} >= {f"pp{PROMPT}", f"tg{N} @ d{PROMPT}"}


def test_accelerator_tokens_are_checked_against_the_cpus(suite, fake_mps, monkeypatch):
    add_benchmarks(suite, "test_llm.py")
    args = (*SMOKE, "--devices", "cpu,mps", "-k", f"tg and {PROMPT}")
    result = suite.runpytest(*args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2)
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    mps = next(b["extra_info"] for b in saved if b["extra_info"]["device"] == "mps")
    steps = SMOKE_SIZE.parity_tokens + 1
    assert mps["parity_tokens"]["steps"] == mps["parity_tokens"]["agreed"] == steps

    honest = LanguageModel.generate_token

    def planted(self):  # the device's argmax is off by one from the second token on
        token = honest(self)
        if isinstance(self.device, MpsDevice):
            self.token = (token + 1) % self.size.vocab
        return self.token

    monkeypatch.setattr(LanguageModel, "generate_token", planted)
    result = suite.runpytest(*SMOKE, "--devices", "mps", "-k", f"tg and {PROMPT}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ParityError: Fake M4 GPU (MPS): generated token 1 is * where the CPU generated *"]
    )
