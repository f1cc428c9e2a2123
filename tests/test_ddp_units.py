"""Data-parallel pieces without processes: the launch environment, barrier-synchronized
rounds and agreed warm-up with simulated ranks, the parity verdict, the scaling figures."""

import itertools

import pytest
from fixtures.runs import record, saved_run, write

from accelbench.backends.torch.distributed import (
    GroupSynchronized,
    agreed_warm_up,
    paired_rounds,
)
from accelbench.core import ddp_parity
from accelbench.core.launch import (
    Launch,
    LaunchError,
    parse_workers_variant,
    worker_counts,
    workers_variant,
)
from accelbench.core.measure import SynchronizedBlocks
from accelbench.core.numbers import format_signed_share
from accelbench.core.parity import ParityError
from accelbench.core.sizes import TimingBudget
from accelbench.results import text, views
from accelbench.results.data_parallel import DATA_PARALLEL, data_parallel_rows
from accelbench.results.record import Unusable, parse_entries, parse_entry
from accelbench.results.speedups import speedup_rows

# Launch -----------------------------------------------------------------------------------


def test_without_a_launcher_the_process_is_a_world_of_one():
    assert Launch.from_env({}) == Launch(rank=0, world_size=1, launcher="none")
    assert not Launch.from_env({}).launched


def test_torchrun_environment_gives_rank_world_and_local_rank():
    env = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    launch = Launch.from_env({**env, "TORCHELASTIC_RUN_ID": "x"})
    assert (launch.rank, launch.world_size, launch.local_rank, launch.local_world_size) == (
        3,
        8,
        1,
        2,
    )
    assert launch.launcher == "torchrun" and not launch.is_leader


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "0"}, "WORLD_SIZE is not set but RANK is"),
        ({"RANK": "two", "WORLD_SIZE": "2"}, "RANK='two' is not an integer"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is not a rank of WORLD_SIZE=2"),
    ],
)
def test_an_inconsistent_launch_environment_is_one_line(env, message):
    with pytest.raises(LaunchError, match=message):
        Launch.from_env(env)


def test_one_launch_measures_powers_of_two_and_its_own_size():
    assert worker_counts(1) == [1]
    assert worker_counts(2) == [1, 2]
    assert worker_counts(8) == [1, 2, 4, 8]
    assert worker_counts(6) == [1, 2, 4, 6]


def test_worker_count_is_the_variant():
    assert workers_variant(4) == "workers=4"
    assert parse_workers_variant("workers=4") == 4
    assert parse_workers_variant("sdpa-L=128") is None
    assert parse_workers_variant("workers=0") is None
    assert parse_workers_variant("workers=2-batch=16") == 2  # core.spec's grammar
    assert parse_workers_variant("workers=two") is None


def test_data_parallel_cases_need_a_collective_backend(monkeypatch):
    import torch

    from accelbench.backends.torch.distributed import unavailable_reason

    assert "MPS has no collective backend" in unavailable_reason("mps")
    assert unavailable_reason("cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert unavailable_reason("cuda").startswith("CUDA not available")


# Barrier-synchronized timing, with simulated ranks -----------------------------------------


class ScriptedGroup:
    """One rank's view of a group: barriers are logged; rank 0's broadcasts are recorded in
    ``script`` and the other ranks receive them from it, as torch.distributed would."""

    def __init__(self, rank, log, script):
        self.rank, self.log, self.script = rank, log, script
        self.received = 0

    def barrier(self):
        self.log.append("barrier")

    def broadcast(self, value):
        if self.rank == 0:
            self.script.append(value)
            return value
        value = self.script[self.received]
        self.received += 1
        return value


class LoggingDevice:
    def __init__(self, log):
        self.log = log

    def synchronize(self, result=None):
        self.log.append("sync")

    def sample_memory(self):
        pass


def timed_rounds(blocks, rounds, iterations, log):
    """What pytest-benchmark's pedantic does: a clock read, k calls, a clock read."""
    for _ in range(rounds):
        log.append("clock")
        for _ in range(iterations):
            blocks()
        log.append("clock")


@pytest.mark.parametrize("rank", [0, 1])
def test_every_timed_round_ends_in_the_devices_sync_and_a_barrier_on_every_rank(rank):
    log = []
    synced = GroupSynchronized(LoggingDevice(log), ScriptedGroup(rank, log, [0]))
    blocks = SynchronizedBlocks(lambda: log.append("step"), synced, steps_per_round=3)
    timed_rounds(blocks, rounds=2, iterations=3, log=log)
    rounds = "".join(log).split("clock")[1::2]  # the events between a start and an end read
    assert rounds == ["stepstepstepsyncbarrier"] * 2


def test_every_rank_warms_up_as_many_steps_as_rank_0_decides():
    """Rank 1's clock runs 100 times faster: alone it would stop after the minimum, and one
    rank stepping less than another deadlocks the group. It follows rank 0's decisions."""
    budget = TimingBudget(
        warmup_s=1.0,
        min_warmup_steps=1,
        measure_s=1.0,
        min_rounds=3,
        max_rounds=10,
        block_target_s=0.01,
    )
    script = []
    steps = {0: 0, 1: 0}
    results = {}
    for rank, tick in ((0, 0.1), (1, 10.0)):
        log = []
        synced = GroupSynchronized(LoggingDevice(log), ScriptedGroup(rank, log, script))
        clock = itertools.count(0.0, tick).__next__

        def step(rank=rank):
            steps[rank] += 1

        results[rank] = agreed_warm_up(step, synced, budget, clock=clock)
        assert log.count("barrier") == steps[rank]
    assert steps[0] == steps[1] > 1
    assert results[1] == results[0]  # the step time that sizes the rounds is rank 0's too


def test_slow_steps_warm_up_for_two_steps_on_every_rank_not_the_minimum():
    budget = TimingBudget(
        warmup_s=0.5, min_warmup_steps=5, measure_s=1.5, min_rounds=3, max_rounds=10,
        block_target_s=0.01,
    )  # fmt: skip
    log = []
    synced = GroupSynchronized(LoggingDevice(log), ScriptedGroup(0, log, []))
    clock = itertools.count(0.0, 2.0).__next__  # every clock read moves 2 s: slow steps
    steps, step_s = agreed_warm_up(lambda: log.append("step"), synced, budget, clock=clock)
    assert steps == 2 == log.count("step")
    assert step_s == 2.0


def test_paired_rounds_alternate_the_modes_and_end_each_round_with_a_barrier():
    log = []
    synced = GroupSynchronized(LoggingDevice(log), ScriptedGroup(0, log, []))
    times = paired_rounds(
        {"sync": lambda: log.append("s"), "no_sync": lambda: log.append("n")},
        synced,
        steps_per_round=2,
        pairs=2,
        clock=itertools.count(0.0, 1.0).__next__,
    )
    assert "".join(log) == "sssyncbarriernnsyncbarrier" * 2
    assert len(times["sync"]) == len(times["no_sync"]) == 2


# Parity across ranks -----------------------------------------------------------------------


def test_ranks_that_agree_with_each_other_and_with_one_process_pass():
    result = ddp_parity.verdict({0: 0.0, 1: 0.0, 2: 1e-7}, reference_error=2e-7, dtype="fp32")
    assert result.passed
    ddp_parity.check(result, "ddp-resnet18 workers=3")


def test_a_divergent_rank_fails_the_check_and_is_named():
    result = ddp_parity.verdict({0: 0.0, 1: 0.0, 2: 0.5}, reference_error=0.0, dtype="bf16")
    with pytest.raises(ParityError, match=r"rank 2's parameter update differs from rank 0's"):
        ddp_parity.check(result, "ddp-resnet18 workers=3")


def test_ranks_equal_to_each_other_but_not_to_one_process_fail_the_check():
    result = ddp_parity.verdict({0: 0.0, 1: 0.0}, reference_error=0.02, dtype="fp32")
    with pytest.raises(ParityError, match="differs from one process's step"):
        ddp_parity.check(result, "ddp-transformer workers=2")


# Scaling figures, from typed records ------------------------------------------------------


def ddp_record(model, workers, median, *, device="cpu", share=0.1, items=64):
    """A saved data-parallel entry, as the runner writes it (raw: read with ``rows``)."""
    entry = record(
        f"ddp-{model}",
        device,
        "train",
        median,
        variant=f"workers={workers}",
        items=items * workers,
        test=f"test_ddp_{model}",
    )
    entry["extra_info"].update(
        model=model,
        workers=workers,
        hosts=1,
        communication={"backend": "gloo" if device == "cpu" else "nccl"},
        throughput_per_worker_per_s=items / median,
        allreduce_exposed_share=share,
    )
    return entry


def records(entries):
    """Saved entries read as the results layer reads them: typed, validated records."""
    found, problems = parse_entries(entries)
    assert not problems
    return found


def rows(entries, others=()):
    """The data-parallel section's rows as the run's ``accelbench`` block saves them."""
    return DATA_PARALLEL.saved(data_parallel_rows(records(entries), [records(o) for o in others]))


def test_efficiency_is_the_one_worker_median_over_the_k_worker_median():
    found = rows([ddp_record("resnet18", 1, 0.10), ddp_record("resnet18", 2, 0.125)])
    assert [(r["workers"], r["baseline"]) for r in found] == [(1, "1 worker"), (2, "1 worker")]
    assert found[1]["efficiency"] == pytest.approx(0.8)
    assert found[1]["throughput_per_s"] == pytest.approx(128 / 0.125)


def test_without_a_one_worker_case_the_baseline_is_another_runs_then_the_single_device():
    two = [ddp_record("resnet18", 2, 0.125)]
    elsewhere = rows(two, others=[[ddp_record("resnet18", 1, 0.1)]])
    assert elsewhere[0]["baseline"] == "1 worker, another run"
    assert elsewhere[0]["efficiency"] == pytest.approx(0.8)
    single = rows([*two, record("resnet18", "cpu", "train", 0.05)])
    assert single[0]["baseline"] == "single device"
    assert single[0]["efficiency"] == pytest.approx(0.4)
    assert rows(two)[0]["efficiency"] is None


def test_at_one_worker_the_cost_of_ddp_is_measured_against_the_single_device_case():
    found = rows([ddp_record("resnet18", 1, 0.11), record("resnet18", "cpu", "train", 0.10)])
    assert found[0]["vs_single_device"] == pytest.approx(0.10)


def test_models_and_devices_scale_separately():
    found = rows(
        [
            ddp_record("resnet18", 1, 0.1, device="cuda"),
            ddp_record("resnet18", 2, 0.2, device="cuda"),
            ddp_record("transformer", 1, 0.1, device="cuda"),
            ddp_record("transformer", 2, 0.1, device="cuda"),
        ]
    )
    assert [(r["workload"], r["workers"], r["efficiency"]) for r in found] == [
        ("ddp-resnet18", 1, 1.0),
        ("ddp-resnet18", 2, 0.5),
        ("ddp-transformer", 1, 1.0),
        ("ddp-transformer", 2, 1.0),
    ]


def test_the_worker_count_is_part_of_the_identity(tmp_path):
    """The 1-worker and the 2-worker case are two results: in the record's key, in the
    summary's rows and in a comparison of two runs, neither stands in for the other."""
    from accelbench.results import compare
    from accelbench.results.runs import load_run

    one, two = records([ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.125)])
    assert one.key != two.key and one.key.replace(variant="") == two.key.replace(variant="")
    assert (one.data_parallel.workers, two.data_parallel.workers) == (1, 2)
    assert sorted(r.key.variant for r in speedup_rows([one, two])) == [
        "workers=1",
        "workers=2",
    ]
    before = write(
        tmp_path / "before.json",
        saved_run([ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.125)]),
    )
    after = write(
        tmp_path / "after.json",
        saved_run([ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.25)]),
    )
    result = compare.compare_runs(
        load_run(before), load_run(after), threshold_pct=10, gate_smoke=True
    )
    verdicts = {c.name: c.verdict for c in result.changes}
    assert verdicts == {
        "test_ddp_resnet18[cpu-train-workers=1]": compare.UNCHANGED,
        "test_ddp_resnet18[cpu-train-workers=2]": compare.REGRESSION,
    }


def test_a_data_parallel_entry_whose_worker_count_disagrees_with_its_variant_is_unusable():
    entry = ddp_record("resnet18", 2, 0.1)
    entry["extra_info"]["workers"] = 4
    with pytest.raises(Unusable, match=r"extra_info.workers is 4 but the variant is 'workers=2'"):
        parse_entry(entry)
    entry = ddp_record("resnet18", 2, 0.1)
    entry["extra_info"]["allreduce_exposed_share"] = "a lot"
    with pytest.raises(Unusable, match="allreduce_exposed_share is a string"):
        parse_entry(entry)


def test_only_a_worker_count_in_the_variant_makes_a_data_parallel_case():
    plain = record("llm", "cpu", "pp", 0.1)
    plain["extra_info"]["model"] = "a model name another workload saves"
    assert parse_entry(plain).data_parallel is None
    missing = ddp_record("resnet18", 2, 0.1)
    del missing["extra_info"]["model"]
    with pytest.raises(Unusable, match=r"extra_info\.model is null"):
        parse_entry(missing)


def test_another_variant_field_is_a_series_of_its_own():
    """``workers=2-batch=4`` and ``workers=2`` are two curves: each worker count against
    the one-worker case of the same batch."""
    entries = [ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.125)]
    for workers, median in ((1, 0.05), (2, 0.1)):
        entry = ddp_record("resnet18", workers, median)
        entry["extra_info"]["variant"] = f"workers={workers}-batch=4"
        entries.append(entry)
    found = {(r["variant"], r["workers"]): r["efficiency"] for r in rows(entries)}
    assert found == {
        ("", 1): 1.0,
        ("", 2): pytest.approx(0.8),
        ("batch=4", 1): 1.0,
        ("batch=4", 2): pytest.approx(0.5),
    }


def test_an_all_reduce_share_below_zero_is_noise_kept_as_measured():
    found = rows([ddp_record("resnet18", 1, 0.1, share=-0.004)])
    assert found[0]["allreduce_exposed_share"] == pytest.approx(-0.004)
    assert format_signed_share(-0.004) == "-0.4%"


def test_the_summary_shows_efficiency_baseline_and_all_reduce_share():
    saved = rows([ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.125, share=0.25)])
    shown = DATA_PARALLEL.text(DATA_PARALLEL.load(saved))
    assert "data-parallel scaling" in shown
    line = next(x for x in shown.splitlines() if x.startswith("torch ddp-resnet18") and " 2 " in x)
    assert "80%" in line and "1 worker" in line and "+25.0%" in line


def test_the_data_parallel_section_is_saved_and_printed_with_the_others():
    computed = views_compute([ddp_record("resnet18", 1, 0.1), ddp_record("resnet18", 2, 0.125)])
    assert [r["efficiency"] for r in computed["data_parallel"]] == [1.0, pytest.approx(0.8)]
    assert "data-parallel scaling" in text.render_all(computed)


def views_compute(entries):
    return views.compute_all(records(entries))


def test_the_report_has_a_scaling_table_and_an_efficiency_plot(tmp_path):
    from accelbench.report.build import write_report
    from accelbench.results.runs import load_run

    entries = [ddp_record("resnet18", n, 0.1 * (1 + n / 10)) for n in (1, 2, 4)]
    path = write(tmp_path / "run.json", saved_run(entries))
    files = write_report([load_run(path)], tmp_path / "out")
    shown = files.markdown.read_text()
    assert "## Data-parallel scaling" in shown
    assert "| torch ddp-resnet18 | train | fp32 | Test CPU (CPU, 8 threads) | gloo | 4 |" in shown
    assert shown.count("data-parallel scaling (same batch per worker") == 0  # not twice
    plot = tmp_path / "out" / "scaling-efficiency.png"
    assert plot in files.images and plot.read_bytes()[:4] == b"\x89PNG"


def test_a_report_of_several_runs_takes_the_baseline_from_another_run(tmp_path):
    from accelbench.report.build import write_report
    from accelbench.results.runs import load_run

    one = write(tmp_path / "one.json", saved_run([ddp_record("resnet18", 1, 0.1)]))
    two = write(
        tmp_path / "two.json",
        saved_run([ddp_record("resnet18", 2, 0.125)], when="2026-01-03T00:00:00+00:00"),
    )
    files = write_report([load_run(one), load_run(two)], tmp_path / "out")
    row = next(x for x in files.markdown.read_text().splitlines() if x.startswith("| 2 |"))
    assert "| 80% | 1 worker, another run |" in row
