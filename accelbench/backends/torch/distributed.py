"""torch.distributed for the data-parallel cases: the process groups, barrier-synchronized
timing, agreement across ranks, and the communication facts a number depends on.

Every rank runs the whole pytest session, so every rank reaches the same cases in the same
order; a case's collectives line up because each rank makes the same calls. Three rules
keep it that way:

- **Groups are created by every rank, in the same order.** torch salts a group's name with
  a per-process counter, so a group created by some ranks only would give later groups
  different names on different ranks (and hang). A case with k workers runs on ranks
  0..k-1; ranks k.. create its groups too, then skip the case.
- **Decisions are rank 0's, broadcast.** A timing plan computed from each rank's own clock
  would differ between ranks, and a rank running one step more than the others deadlocks
  the group: warm-up length and the plan are decided on rank 0 and broadcast.
- **A timed round ends in the device's synchronize and a barrier on every rank**, before
  pytest-benchmark reads its clock, so every rank's round lasts as long as the slowest
  rank's, and the next round starts together.

Control traffic (barriers, plans, agreement) goes through a gloo group on the CPU; the
gradients go through the case's data group: ``nccl`` on CUDA, ``gloo`` on the CPU.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from accelbench.core import launch as launch_facts
from accelbench.core.launch import Launch
from accelbench.core.sizes import TimingBudget

# The collective backend per device; MPS has none in torch.distributed.
DATA_BACKENDS = {"cpu": "gloo", "cuda": "nccl"}
CONTROL_BACKEND = "gloo"
MPS_REASON = (
    "MPS has no collective backend in torch.distributed (nccl needs CUDA, gloo runs on the "
    "CPU): data-parallel cases run on cuda and cpu only"
)
# Environment variables that change how collectives run, recorded with every DDP case.
ENV_PREFIXES = ("NCCL_", "TORCH_NCCL_", "GLOO_", "TORCH_DISTRIBUTED_")
ENV_NAMES = ("OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class World:
    """The default process group of this run, and the case groups made from it."""

    launch: Launch
    hostnames: tuple[str, ...]
    owned: bool  # this module initialised torch.distributed, so it tears it down
    groups: dict[tuple[str, int], CaseGroup] = field(default_factory=dict)
    cuda_reason: str | None = None  # why this rank has no CUDA device of its own

    @property
    def hosts(self) -> int:
        return len(set(self.hostnames))


_WORLD: World | None = None


def world() -> World:
    """The run's world, started on first use: from torchrun's environment, or in-process as
    a world of one (gloo on an in-process store; no port, no launcher)."""
    global _WORLD
    if _WORLD is None:
        _WORLD = _start(launch_facts.current())
    return _WORLD


def started() -> bool:
    return _WORLD is not None


def _start(launch: Launch) -> World:
    owned = not dist.is_initialized()
    if owned and launch.launched:
        dist.init_process_group(CONTROL_BACKEND)  # env://: MASTER_ADDR, RANK, WORLD_SIZE
    elif owned:
        dist.init_process_group(CONTROL_BACKEND, store=dist.HashStore(), rank=0, world_size=1)
    names: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(names, socket.gethostname())
    cuda_reason = None
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        if launch.local_rank < count:
            torch.cuda.set_device(launch.local_rank)
        else:
            cuda_reason = (
                f"rank {launch.rank} has local rank {launch.local_rank} but this machine has "
                f"{count} CUDA device(s): use --nproc-per-node {count} or fewer"
            )
    return World(launch, tuple(names), owned, cuda_reason=cuda_reason)


def stop() -> None:
    """Wait for every rank (so rank 0 has saved the run before any rank exits: torchrun
    stops the others when one exits with an error), then tear the groups down."""
    global _WORLD
    if _WORLD is None:
        return
    current, _WORLD = _WORLD, None
    if current.owned and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def data_backend(device: str) -> str:
    return DATA_BACKENDS[device]


def unavailable_reason(device: str) -> str | None:
    """Why no data-parallel case can run on ``device`` with this torch on this machine (the
    same answer on every rank of a launch of alike machines); None when one can."""
    if device not in DATA_BACKENDS:
        return MPS_REASON if device == "mps" else f"no collective backend for {device}"
    if device == "cuda" and not torch.cuda.is_available():
        built = "built with CUDA" if torch.version.cuda else "built without CUDA"
        return f"CUDA not available: no usable NVIDIA GPU (torch {torch.__version__}, {built})"
    backend = DATA_BACKENDS[device]
    built = dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available()
    if not built:
        return f"torch {torch.__version__} was built without the {backend} backend"
    return None


@dataclass(frozen=True)
class CaseGroup:
    """The ranks one case runs on (0..k-1), with this rank's place in them."""

    rank: int
    members: tuple[int, ...]
    backend: str
    data: Any  # the ProcessGroup DDP all-reduces gradients over
    control: Any  # a gloo ProcessGroup for barriers, plans and agreement
    hosts: int

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def is_member(self) -> bool:
        return self.rank in self.members

    @property
    def is_leader(self) -> bool:
        return self.rank == self.members[0]

    def barrier(self) -> None:
        barrier(self.control)

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value``, on every member."""
        box = [value]
        dist.broadcast_object_list(box, src=self.members[0], group=self.control)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every member's ``value``, in rank order, on every member."""
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value, group=self.control)
        return out

    def broadcast_array(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's CPU tensor of the same shape and dtype, on every member."""
        tensor = tensor.detach().cpu().contiguous().clone()
        dist.broadcast(tensor, src=self.members[0], group=self.control)
        return tensor

    def agree(self, reason: str | None) -> str | None:
        """None when no member has a reason to skip; otherwise every member's reasons, so
        all members skip together instead of some waiting for the others forever."""
        reasons = self.gather(reason)
        found = [(r, why) for r, why in zip(self.members, reasons) if why]
        if not found:
            return None
        if len({why for _, why in found}) == 1 and len(found) == self.size:
            return found[0][1]
        return "; ".join(f"rank {r}: {why}" for r, why in found)


def barrier(group: Any) -> None:
    """Wait until every rank of ``group`` has arrived (one seam for tests to observe)."""
    dist.barrier(group=group)


def case_group(device: str, workers: int) -> CaseGroup:
    """The groups of a ``workers``-rank case on ``device``, created on first use.

    Every rank calls this for every case, members or not (see the module's rules).
    """
    current = world()
    size = current.launch.world_size
    if not 1 <= workers <= size:
        raise ValueError(f"a case of {workers} workers does not fit a world of {size}")
    backend = data_backend(device)
    key = (backend, workers)
    if key not in current.groups:
        members = list(range(workers))
        control = dist.new_group(members, backend=CONTROL_BACKEND)
        data = dist.new_group(members, backend=backend)
        current.groups[key] = CaseGroup(
            rank=current.launch.rank,
            members=tuple(members),
            backend=backend,
            data=data,
            control=control,
            hosts=len({current.hostnames[r] for r in members}),
        )
    return current.groups[key]


class GroupSynchronized:
    """A device whose ``synchronize`` also waits for every rank of the case: the device's
    queued work first, then a barrier. Given to ``SynchronizedBlocks`` in place of the
    device, it makes every timed round end on every rank when the slowest rank's ends."""

    def __init__(self, device: Any, group: CaseGroup) -> None:
        self.device = device
        self.group = group

    def synchronize(self, result: Any = None) -> None:
        self.device.synchronize(result)
        self.group.barrier()

    def sample_memory(self) -> None:
        self.device.sample_memory()


def agreed_warm_up(
    step: Callable[[], Any],
    synced: GroupSynchronized,
    budget: TimingBudget,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[int, float]:
    """Untimed steps until rank 0's budget is spent; every rank runs as many as rank 0 says.
    Slow steps stop early, as in ``accelbench.core.measure.warm_up``: two suffice once
    warm-up has taken longer than the warm-up and measuring budgets together.

    Returns the number of warm-up steps and rank 0's median step time (each step ends in
    the group's barrier, so it is the slowest rank's), which sizes the timed rounds.
    """
    group = synced.group
    times: list[float] = []
    started_at = clock()
    while True:
        t0 = clock()
        synced.synchronize(step())
        times.append(clock() - t0)
        elapsed = clock() - started_at
        more = len(times) < budget.min_warmup_steps or elapsed < budget.warmup_s
        if len(times) >= 2 and elapsed >= budget.warmup_s + budget.measure_s:
            more = False
        if not group.broadcast(more):
            break
    settled = times[1:] or times
    return len(times), group.broadcast(statistics.median(settled))


def paired_rounds(
    modes: dict[str, Callable[[], Any]],
    synced: GroupSynchronized,
    steps_per_round: int,
    pairs: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Time per step of each mode, in alternating rounds of ``steps_per_round`` steps (so a
    drift of the machine affects every mode alike); each round ends in the group's barrier."""
    times: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(pairs):
        for name, step in modes.items():
            t0 = clock()
            result = None
            for _ in range(steps_per_round):
                result = step()
            synced.synchronize(result)
            times[name].append((clock() - t0) / steps_per_round)
    return times


def barrier_time_s(group: CaseGroup, repeats: int = 20) -> float:
    """Median time of one barrier of the group: what each timed round's end adds."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        group.barrier()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def communication_facts(backend: str) -> dict[str, Any]:
    """The collective backend, its version (NCCL) and the environment settings it reads."""
    facts: dict[str, Any] = {"backend": backend}
    if backend == "nccl" and torch.cuda.is_available():
        facts["nccl_version"] = ".".join(map(str, torch.cuda.nccl.version()))
    facts["env"] = {
        name: value
        for name, value in sorted(os.environ.items())
        if name.startswith(ENV_PREFIXES) or name in ENV_NAMES
    }
    return facts


def run_facts() -> dict[str, Any]:
    """How this run was launched, for ``machine_info``: ranks, machines, backends built."""
    launch = launch_facts.current()
    facts: dict[str, Any] = {
        "launcher": launch.launcher,
        "rank": launch.rank,
        "world_size": launch.world_size,
        "local_world_size": launch.local_world_size,
        "gloo_available": dist.is_gloo_available(),
        "nccl_available": dist.is_nccl_available(),
    }
    if _WORLD is not None:
        facts["hosts"] = _WORLD.hosts
    if torch.cuda.is_available() and dist.is_nccl_available():
        facts["nccl_version"] = ".".join(map(str, torch.cuda.nccl.version()))
    return facts
