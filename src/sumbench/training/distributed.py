"""Process groups: how N processes of one job train one model together (data parallelism, DeepSpeed ZeRO).

A job of a model with ``resources.gpus: N > 1`` (one process per GPU) or ``resources.cpu_processes: N > 1`` (N
processes on the CPU, gloo) starts as N processes under ``torchrun`` (:func:`launcher`). Each process reads its
place from torchrun's environment (:func:`world`); before the Trainer is built, :func:`trainer_args` starts the
process group and returns the TrainingArguments that make the Trainer use it:

- on a CPU-only torch accelerate picks no process-group backend, so N processes would silently train as N single
  processes on the same data: a gloo group is started here and the Trainer is told to use it;
- on CUDA accelerate starts NCCL itself;
- under DeepSpeed (:mod:`sumbench.config.deepspeed`) even a lone process needs a process group: MASTER_ADDR,
  MASTER_PORT, RANK, WORLD_SIZE and LOCAL_RANK are set for it when no launcher did (else DeepSpeed tries MPI).

Every rank counts its own micro-batches; :func:`sum_over_ranks` adds the ranks' samples and tokens step by step,
so throughput counts every rank exactly (memory stays per rank: each rank holds its own copy).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, fields
from typing import Any, Mapping

LAUNCHER = "torchrun"  # torch's elastic launcher: one process per rank, RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* set


@dataclass(frozen=True)
class World:
    """This process's place among the job's processes."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that generates, scores and writes records."""
        return self.rank == 0


def world(environ: Mapping[str, str] | None = None) -> World:
    environ = os.environ if environ is None else environ
    return World(rank=int(environ.get("RANK", "0")), local_rank=int(environ.get("LOCAL_RANK", "0")),
                 size=int(environ.get("WORLD_SIZE", "1")))


def processes(spec) -> int:
    """How many processes a job of ``spec`` trains with: one per GPU, or ``resources.cpu_processes`` on the CPU."""
    r = spec.resources
    return r.gpus if r.gpus > 0 else r.cpu_processes


def launcher(spec) -> str:
    """The program a job of ``spec`` starts: ``sumbench``, or ``torchrun`` running N copies of it."""
    n = processes(spec)
    if n <= 1:
        return "sumbench"
    return f"{LAUNCHER} --standalone --nproc-per-node {n} --module sumbench.cli"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lone_process_env(environ: dict | None = None) -> None:
    """A single process as a world of one (what a launcher would set), where nothing set it."""
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" in environ:
        return
    environ.update(MASTER_ADDR=environ.get("MASTER_ADDR", "127.0.0.1"),
                   MASTER_PORT=environ.get("MASTER_PORT", str(free_port())), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")


@dataclass(frozen=True)
class TrainerSetup:
    """What :func:`trainer_setup` did before the Trainer exists."""

    args: dict[str, Any]  # TrainingArguments: the process group's, DeepSpeed's config
    deepspeed: str  # the setting's name ("off" without DeepSpeed)
    ops_s: dict[str, float]  # DeepSpeed ops loaded (compiled where needed) before the window: seconds each


def trainer_setup(setting=None, *, batch_size: int = 1, grad_accum: int = 1) -> TrainerSetup:
    """Start this process's group and DeepSpeed's ops for a Trainer at one split; ``setting``: a
    :class:`sumbench.config.deepspeed.DeepSpeedSetting` (None or off = no DeepSpeed)."""
    import torch

    from sumbench.config.deepspeed import NO_DEEPSPEED, trainer_config
    from sumbench.training.deepspeed_ops import prepare_ops

    setting = setting or NO_DEEPSPEED
    cuda, w = torch.cuda.is_available(), world()
    if not cuda:  # accelerate imports DeepSpeed (when installed) with every Trainer; DeepSpeed picks its accelerator
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # then, and would warn that it "was unable to detect" a GPU
    args: dict[str, Any] = {}
    ops: dict[str, float] = {}
    config = trainer_config(setting, batch_size=batch_size, grad_accum=grad_accum, world_size=w.size)
    if config is None:
        _no_deepspeed_left()
    else:
        lone_process_env()
        ops = prepare_ops(setting, cuda)  # before the group: DeepSpeed picks its all-reduce when it starts
        args.update(deepspeed=config, use_cpu=False)  # DS_ACCELERATOR=cpu puts DeepSpeed on the CPU
    if not cuda and (w.size > 1 or config is not None):
        _gloo_state(deepspeed=config is not None)
        args["accelerator_config"] = {"use_configured_state": True}
    return TrainerSetup(args=args, deepspeed=setting.name, ops_s=ops)


def _no_deepspeed_left() -> None:
    """Once a Trainer ran under DeepSpeed, accelerate marks the process as DeepSpeed's (``ACCELERATE_USE_DEEPSPEED``
    in its environment) and never unmarks it: every later plain Trainer in the process, and every process it starts,
    would then initialize DeepSpeed too. A plain Trainer clears the mark and transformers' DeepSpeed config."""
    if os.environ.pop("ACCELERATE_USE_DEEPSPEED", None) is None:
        return
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()


def _gloo_state(deepspeed: bool) -> None:
    """accelerate's process state on a gloo group (once per process; a DeepSpeed state when DeepSpeed trains)."""
    from accelerate import PartialState
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType

    state = PartialState._shared_state
    same = state and state.get("backend") == "gloo" and \
        (state.get("distributed_type") == DistributedType.DEEPSPEED) == deepspeed
    # an earlier Trainer's accelerator state goes (a second one may not bring a DeepSpeed plugin); the process
    # group stays when it is of the same kind
    AcceleratorState._reset_state(reset_partial_state=not same)
    if same:
        return
    if deepspeed:
        os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    try:  # cpu=True: accelerate only makes a multi-process CPU state when told the CPU is the device
        PartialState(cpu=not deepspeed, backend="gloo")
    finally:
        if deepspeed:
            del os.environ["ACCELERATE_USE_DEEPSPEED"]


def weights_split_over_ranks(model) -> bool:
    """ZeRO-3 over several processes: each rank holds a shard of ``model``'s weights (DeepSpeed marks each parameter
    with a ``ds_id``), so a forward pass needs every rank, generation included."""
    return world().size > 1 and any(hasattr(p, "ds_id") for p in model.parameters())


# ----------------------------------------------------------------------------------- counting every rank
COUNTED = ("samples", "tokens", "padded_tokens", "target_tokens", "target_padded_tokens", "loss_tokens")


def sum_over_ranks(rows: list) -> list:
    """Each step's samples and tokens summed over the ranks (rows as they are in a single process).

    The step time stays this rank's: the ranks wait for each other at every optimizer step, so it is the same.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1 or not rows:
        return rows
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    counts = torch.tensor([[getattr(r, k) for k in COUNTED] for r in rows], dtype=torch.float64, device=device)
    steps = torch.tensor([len(rows)], dtype=torch.int64, device=device)
    dist.all_reduce(steps, op=dist.ReduceOp.MIN)  # every rank took the same optimizer steps
    counts = counts[: int(steps)]
    dist.all_reduce(counts)
    out = []
    for row, summed in zip(rows, counts.tolist()):
        values = {f.name: getattr(row, f.name) for f in fields(row)}
        values.update({k: int(v) for k, v in zip(COUNTED, summed)})
        out.append(type(row)(**values))
    return out
