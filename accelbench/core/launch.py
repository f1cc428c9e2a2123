"""Who this process is in a data-parallel launch, read from the environment torchrun sets.

``torchrun --nproc-per-node N -m pytest ...`` starts N copies of the whole pytest session
with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` set; every copy
collects the same cases in the same order. Without them (plain ``pytest``) the process is
a world of one. Nothing here imports torch (or any framework), so the read side parses
worker counts with it too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from accelbench.core.spec import Variant, VariantError

# The variant field of a data-parallel case (grammar: ``core.spec.Variant``): how many
# workers (processes, one per device) ran it. The worker count is part of the case's
# identity (``CaseSpec.variant``), so the 1-worker and the 2-worker case of a model are two
# results, never one overwriting the other.
WORKERS_KEY = "workers"


class LaunchError(ValueError):
    """The launch environment is inconsistent; the message is one line for the user."""


@dataclass(frozen=True)
class Launch:
    """This process's place in the launch: global rank, world size, rank on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    launcher: str = "none"  # "torchrun", "environment" (RANK/WORLD_SIZE set by hand) or "none"

    @property
    def launched(self) -> bool:
        """Whether a launcher started this process as one rank of a group."""
        return self.launcher != "none"

    @property
    def is_leader(self) -> bool:
        """Rank 0: the one that saves the run and prints the summary."""
        return self.rank == 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Launch:
        if "RANK" not in env and "WORLD_SIZE" not in env:
            return cls()
        if "RANK" not in env or "WORLD_SIZE" not in env:
            missing = "RANK" if "RANK" not in env else "WORLD_SIZE"
            raise LaunchError(
                f"{missing} is not set but {'WORLD_SIZE' if missing == 'RANK' else 'RANK'} is: "
                "launch data-parallel runs with torchrun (see README, 'Scaling across GPUs')"
            )
        rank = _integer(env, "RANK", "0")
        world_size = _integer(env, "WORLD_SIZE", "1")
        local_rank = _integer(env, "LOCAL_RANK", str(rank))
        local_world_size = _integer(env, "LOCAL_WORLD_SIZE", str(world_size))
        if world_size < 1 or not 0 <= rank < world_size:
            raise LaunchError(f"RANK={rank} is not a rank of WORLD_SIZE={world_size}")
        if not 0 <= local_rank < local_world_size:
            raise LaunchError(
                f"LOCAL_RANK={local_rank} is not a rank of LOCAL_WORLD_SIZE={local_world_size}"
            )
        launcher = "torchrun" if "TORCHELASTIC_RUN_ID" in env else "environment"
        return cls(rank, world_size, local_rank, local_world_size, launcher)


def _integer(env: Mapping[str, str], name: str, default: str) -> int:
    text = env.get(name, default)
    try:
        return int(text)
    except ValueError:
        raise LaunchError(f"{name}={text!r} is not an integer") from None


@functools.cache
def current() -> Launch:
    """This process's launch (read once; the environment of a process does not change it)."""
    return Launch.from_env()


def worker_counts(world_size: int) -> list[int]:
    """The worker counts one launch measures: powers of two below the world size, and the
    world size itself (8 -> 1, 2, 4, 8; 6 -> 1, 2, 4, 6), so one launch gives the whole curve
    and its one-worker baseline."""
    counts = []
    k = 1
    while k < world_size:
        counts.append(k)
        k *= 2
    return [*counts, world_size]


def workers_variant(workers: int) -> str:
    """The variant string of a data-parallel case: ``workers_variant(2) == "workers=2"``."""
    if workers < 1:
        raise ValueError(f"a data-parallel case needs at least one worker, not {workers}")
    return str(Variant().with_field(WORKERS_KEY, workers))


def parse_workers_variant(variant: str) -> int | None:
    """``"workers=4"`` -> 4; None for a variant that names no worker count (or does not
    parse)."""
    try:
        workers = Variant.parse(variant).get_int(WORKERS_KEY)
    except VariantError:
        return None
    return workers or None
