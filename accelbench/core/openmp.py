"""How the CPU's OpenMP worker threads wait, chosen before a framework loads OpenMP.

PyTorch's CPU kernels run on an OpenMP thread pool of one thread per core. By default
(``OMP_WAIT_POLICY`` unset: active) a thread that reaches the end of a parallel region
spins until the others arrive. On a machine with as many cores as threads and any other
runnable process, one of the pool's threads is descheduled, and the others spin through
their whole time slice waiting for it: every parallel op of a step waits a scheduler slice
of milliseconds. A 0.1 ms attention step measured 30-120 ms on a 2-core VM with two other
busy processes (a 100x-1000x swing, varying from run to run), and 0.1-0.3 ms with
``OMP_WAIT_POLICY=PASSIVE`` under the same load (a smoke CNN step: 170-600 ms against
11-58 ms). Passive waiting costs a wake-up of the sleeping threads per parallel region,
microseconds, which an idle machine pays too; a swing of 100x is the worse error for a
suite meant to run on shared machines. So the suite asks for passive waiting unless the
user chose a policy (``OMP_WAIT_POLICY=ACTIVE`` restores spinning), and every case records
what was in force when the framework was loaded (``omp_wait_policy``).

OpenMP reads the variable once, when the library is loaded (at ``import torch``): it must
be set before that, which is why the plugin calls ``prefer_passive_wait`` when pytest is
configured, before benchmark modules are collected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from typing import Any

WAIT_POLICY = "OMP_WAIT_POLICY"
PREFERRED = "PASSIVE"
_CHOSEN: dict[str, str] = {}


def prefer_passive_wait(
    environ: MutableMapping[str, str] = os.environ, modules: Any = sys.modules
) -> str:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy or torch (and with it
    OpenMP) is loaded already; returns the policy in force, as ``facts`` records it."""
    if "torch" in modules:
        chosen = f"{environ.get(WAIT_POLICY) or 'default'} (torch was loaded before accelbench)"
    elif environ.get(WAIT_POLICY):
        chosen = f"{environ[WAIT_POLICY]} (set by the user)"
    else:
        environ[WAIT_POLICY] = PREFERRED
        chosen = f"{PREFERRED} (set by accelbench)"
    _CHOSEN.setdefault("policy", chosen)
    return _CHOSEN["policy"]


def facts() -> dict[str, Any]:
    """What a case saves of the OpenMP wait policy (``omp_wait_policy``)."""
    policy = _CHOSEN.get("policy") or f"{os.environ.get(WAIT_POLICY) or 'default'} (unchecked)"
    return {"omp_wait_policy": policy}
