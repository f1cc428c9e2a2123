"""Is a data-parallel step the step it stands for? Checked on the parameter update.

After one synchronized step from identical weights, every rank must hold the same
parameters, and they must be the parameters one process gets from one step over all the
workers' batches. Both are compared on the *update* (parameters after the step minus
before): the update is small next to the weights, so a wrong gradient that would hide in
the weights' norm shows in the update's. Errors are norm-wise relative, as in
``accelbench.core.parity``, with the same tolerance per dtype.
"""

from __future__ import annotations

from accelbench.core.parity import TOLERANCES, ParityError, ParityResult

REFERENCE = "rank 0 vs one process"


def rank_name(rank: int) -> str:
    return f"rank {rank} vs rank 0"


def verdict(rank_errors: dict[int, float], reference_error: float, dtype: str) -> ParityResult:
    """Every rank's update against rank 0's, and rank 0's against one process's step."""
    errors = {rank_name(r): e for r, e in sorted(rank_errors.items()) if r != 0}
    errors[REFERENCE] = reference_error
    return ParityResult(errors=errors, tolerance=TOLERANCES[dtype])


def check(result: ParityResult, where: str) -> None:
    """Raise ParityError naming the rank (or the reference) furthest beyond the tolerance."""
    if result.passed:
        return
    name = result.worst_output
    error = f"relative error {result.errors[name]:.3g} (tolerance {result.tolerance:g})"
    if name == REFERENCE:
        what = (
            "rank 0's parameter update differs from one process's step over the same "
            f"batches by {error}"
        )
    else:
        rank = name.split()[1]
        what = f"rank {rank}'s parameter update differs from rank 0's by {error}"
    listing = ", ".join(f"{k}={v:.3g}" for k, v in result.errors.items())
    raise ParityError(f"{where}: after one data-parallel step, {what}; all errors: {listing}")
