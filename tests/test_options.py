"""Bad options get one clear line and pytest's usage exit code (4), never a traceback."""

import pytest

from conftest import add_benchmarks

USAGE_ERROR = 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "tpu"], "ERROR: --devices: unknown value 'tpu'; choose from cpu, mps, cuda"),
        (["--devices", ","], "ERROR: --devices is empty; choose from cpu, mps, cuda"),
        (["--devices", ""], "ERROR: --devices is empty; choose from cpu, mps, cuda"),
        (
            ["--bench-size", "huge"],
            "ERROR: --bench-size: unknown value 'huge'; choose from quick, smoke, standard, full",
        ),
        (
            ["--dtype", "fp64"],
            "ERROR: --dtype: unknown value 'fp64'; choose from fp32, tf32, fp16, bf16",
        ),
        (
            ["--frameworks", "jax"],
            "ERROR: --frameworks: unknown value 'jax'; choose from torch, tf, mlx",
        ),
    ],
)
def test_unknown_option_values_are_usage_errors(suite, args, message):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--benchmark-only", *args)
    assert result.ret == USAGE_ERROR
    assert result.stderr.lines[0] == message
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_devices_are_case_insensitive_and_select_the_parametrization(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--collect-only", "-q", "--devices", "CPU")
    result.stdout.fnmatch_lines(
        [
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer]",
            "2 tests collected*",
        ]
    )


# pytest-benchmark warns "Can't compare" before our line; a user sees both, not an error.
quiet_benchmark_warning = pytest.mark.filterwarnings(
    "ignore::pytest_benchmark.logger.PytestBenchmarkWarning"
)


@quiet_benchmark_warning
def test_bare_benchmark_compare_says_what_to_type(suite):
    """`pytest --benchmark-compare` would run the suite's tests and compare nothing."""
    suite.makeini("[pytest]\ntestpaths = tests\n")
    suite.mkdir("tests")
    result = suite.runpytest("--benchmark-compare")
    assert result.ret == USAGE_ERROR
    assert [line for line in result.stderr.lines if line] == [
        "ERROR: --benchmark-compare compares benchmark runs; type: "
        "pytest benchmarks --benchmark-only --benchmark-compare"
    ]


@quiet_benchmark_warning
def test_benchmark_compare_without_a_saved_run_says_how_to_save_one(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("benchmarks", "--benchmark-only", "--benchmark-compare")
    assert result.ret == USAGE_ERROR
    (line,) = [line for line in result.stderr.lines if line]
    assert line.startswith("ERROR: --benchmark-compare: no complete saved run to compare with ")
    assert line.endswith(
        "; save one first with: pytest benchmarks --benchmark-only --benchmark-autosave"
    )


ARABIC_INDIC_10, ARABIC_INDIC_15, ARABIC_INDIC_16 = "\u0661\u0660", "\u0661\u0665", "\u0661\u0666"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "²"], "ERROR: --batch: expected a positive whole number, not '²'"),
        (
            ["--batch", ARABIC_INDIC_16],
            f"ERROR: --batch: expected a positive whole number, not '{ARABIC_INDIC_16}'",
        ),
        (
            ["--batch", "12345678901234567890"],
            "ERROR: --batch: '12345678901234567890' is over the largest batch accepted, 65536",
        ),
        (
            ["--cooldown", ARABIC_INDIC_10],
            f"ERROR: --cooldown: '{ARABIC_INDIC_10}' is not a number of seconds (e.g. 10)",
        ),
        (["--cooldown", "1_0"], "ERROR: --cooldown: '1_0' is not a number of seconds (e.g. 10)"),
    ],
    ids=["superscript-batch", "arabic-indic-batch", "20-digit-batch", "arabic-indic", "underscore"],
)
def test_numbers_are_plain_ascii_digits_within_bounds(suite, args, message):
    """str.isdigit() takes "²" and float() other scripts' digits: they once ended in a
    traceback, or a case that failed at its first step."""
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--benchmark-only", *args)
    assert result.ret == USAGE_ERROR
    assert [line for line in result.stderr.lines if line] == [message]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_largest_batch_is_accepted_and_one_more_is_a_usage_error(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--collect-only", "-q", "--devices", "cpu", "--batch", "065536")
    assert "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=65536]" in (
        result.stdout.lines
    )
    assert suite.runpytest("--collect-only", "--batch", "65537").ret == USAGE_ERROR


def test_a_threshold_is_plain_ascii_digits(capsys):
    from accelbench.__main__ import main

    assert main(["compare", "a.json", "b.json", "--threshold", f"{ARABIC_INDIC_15}%"]) == 2
    assert capsys.readouterr().err == (
        f"accelbench compare: error: argument --threshold: '{ARABIC_INDIC_15}%' is not a "
        "percentage (e.g. 15%) (see: accelbench compare --help)\n"
    )
