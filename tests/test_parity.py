"""Parity: the accelerator's outputs against the CPU's, norm-wise, with a tolerance by dtype."""

import numpy as np
import pytest

from accelbench.core.parity import TOLERANCES, ParityError, check, compare, relative_error


def test_relative_error_is_normwise():
    expected = np.array([3.0, 4.0])
    assert relative_error(expected + np.array([0.0, 0.5]), expected) == pytest.approx(0.1)
    assert relative_error(expected, expected) == 0.0


def test_non_finite_output_is_infinitely_wrong():
    assert relative_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0])) == float("inf")


def test_shape_mismatch_is_a_parity_error():
    with pytest.raises(ParityError, match="shape"):
        relative_error(np.ones(3), np.ones(4))


def test_outputs_missing_on_one_side_are_a_parity_error():
    with pytest.raises(ParityError, match="loss"):
        compare({"output": np.ones(2)}, {"output": np.ones(2), "loss": np.ones(1)}, "fp32")


def test_failure_names_the_worst_output_and_its_error():
    expected = {"output": np.ones(4), "loss": np.ones(1)}
    actual = {"output": np.ones(4) * 1.02, "loss": np.ones(1)}
    result = compare(actual, expected, "fp32")
    assert not result.passed
    with pytest.raises(
        ParityError,
        match=r"GPU: output 'output' differs from the CPU by relative error 0\.02 "
        r"\(tolerance 0\.001\)",
    ):
        check(result, "GPU")


def test_reduced_precision_gets_a_wider_tolerance():
    expected = {"output": np.ones(4)}
    actual = {"output": np.ones(4) * 1.02}
    assert not compare(actual, expected, "fp32").passed
    assert compare(actual, expected, "bf16").passed
    assert TOLERANCES["fp32"] < TOLERANCES["tf32"] < TOLERANCES["fp16"] < TOLERANCES["bf16"]
