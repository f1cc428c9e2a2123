"""Sweeps: which cases a workload runs when ``--sweep`` asks for more than its fixed size.

``--sweep batch`` runs every workload that has a batch sweep (``Workload.batch_sizes``) at
batch sizes doubling from 1 to its profile's maximum, each point its own case whose variant
ends in ``batch=N`` (composed with the workload's own variants by the grammar in
``core.spec``). Workloads without one (attention sweeps length, ceilings are single ops)
run their usual cases. Without ``--sweep`` nothing changes.

``--batch N`` (not with ``--sweep batch``) runs every workload whose size profiles have a
batch at batch N instead of the profile's: one point of the sweep, named the same way.
"""

from __future__ import annotations

from accelbench.core.spec import batch_variant
from accelbench.core.workload import Workload

SWEEPS = ("none", "batch")
DEFAULT_SWEEP = "none"


def case_variants(
    workload_cls: type[Workload], size: str, sweep: str, batch: int | None = None
) -> list[str]:
    """The variant of every case ``workload_cls`` runs at ``size`` under ``sweep``, or at
    ``batch`` (``--batch``)."""
    variants = workload_cls.variants(size)
    if batch is not None and workload_cls.has_batch():
        return [batch_variant(v, batch) for v in variants]
    if sweep != "batch":
        return variants
    batches = workload_cls.batch_sizes(size)
    if not batches:
        return variants
    return [batch_variant(v, b) for v in variants for b in batches]
