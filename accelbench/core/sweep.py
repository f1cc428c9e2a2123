"""Sweeps: which cases a workload runs when ``--sweep`` asks for more than its fixed size.

``--sweep batch`` runs every workload that has a batch sweep (``Workload.batch_sizes``) at
batch sizes doubling from 1 to its profile's maximum, each point its own case whose variant
ends in ``batch=N`` (composed with the workload's own variants by the grammar in
``core.spec``). Workloads without one (attention sweeps length, ceilings are single ops)
run their usual cases. Without ``--sweep`` nothing changes.
"""

from __future__ import annotations

from accelbench.core.spec import batch_variant
from accelbench.core.workload import Workload

SWEEPS = ("none", "batch")
DEFAULT_SWEEP = "none"


def case_variants(workload_cls: type[Workload], size: str, sweep: str) -> list[str]:
    """The variant of every case ``workload_cls`` runs at ``size`` under ``sweep``."""
    variants = workload_cls.variants(size)
    if sweep != "batch":
        return variants
    batches = workload_cls.batch_sizes(size)
    if not batches:
        return variants
    return [batch_variant(v, b) for v in variants for b in batches]
