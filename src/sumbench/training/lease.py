"""Where a job trains, and timed windows that never share a device.

Two jobs timed on one device at once would each measure the other's load. So, whatever ``--cores`` says:

- On a GPU host a job that trains on GPUs leases whole GPUs for its lifetime: one lock file per GPU (by UUID)
  in a host-local directory, held with ``flock`` until the process exits (so a killed job frees its GPU), and
  ``CUDA_VISIBLE_DEVICES`` names only the leased GPUs before CUDA starts. A second job waits for a free GPU.
  Every timed window of the job is then exclusive by construction.
- On a CPU (a host without GPUs, or a model with ``resources.gpus: 0``) the host is the device: each timed
  window (one profiled split, one quality training) holds the host's CPU lock (rank 0 holds it for a job's
  processes); work that is not timed
  (loading, tokenization, generation, scoring) runs in parallel with other jobs.

A window is recorded with its start and end (seconds since the epoch), the device, whether it was exclusive
and how long it waited for the lock. Under ``runtime: docker`` the host-side runner leases the GPUs and hands
them to the container (``device_ids``) with ``SUMBENCH_LEASED_GPUS``, which the job inside then trusts; the
lock directory is mounted into the container so CPU windows stay exclusive across containers too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

LOCK_DIR_ENV = "SUMBENCH_LOCK_DIR"
LEASED_ENV = "SUMBENCH_LEASED_GPUS"  # comma-separated GPU UUIDs a parent process leased for this job
DEFAULT_LOCK_DIR = Path("/tmp/sumbench-locks")  # host-local: a shared file system would serialize whole clusters
POLL_S = 1.0  # how often a job waiting for a GPU tries the locks again


def lock_dir() -> Path:
    return Path(os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)


def nvidia_gpus() -> list[str]:
    """UUIDs of this host's NVIDIA GPUs, in nvidia-smi's order (no CUDA initialisation); [] without a driver."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("GPU-")] \
        if out.returncode == 0 else []


def visible_gpus(all_gpus: list[str], visible: str | None) -> list[str]:
    """The GPUs this process may use: all, or those ``CUDA_VISIBLE_DEVICES`` names (indices or UUIDs), e.g. what
    SLURM assigned. Index i means the i-th GPU in nvidia-smi's order."""
    if visible is None:
        return list(all_gpus)
    out = []
    for item in (v.strip() for v in visible.split(",") if v.strip()):
        if item.isdigit() and int(item) < len(all_gpus):
            out.append(all_gpus[int(item)])
        elif item.startswith("GPU-"):
            out += [g for g in all_gpus if g.startswith(item)]  # a UUID prefix is allowed
    return out


@dataclass(frozen=True)
class Window:
    """One timed window: what a record says about when and where it was measured."""

    device: str  # "cpu:<host>" or "cuda:<GPU UUID>[,<UUID>...]"
    start: float  # seconds since the epoch
    end: float
    exclusive: bool  # no other timed window ran on this device meanwhile (a lock was held)
    waited_s: float  # seconds spent waiting for the lock before the window started


def windows_overlap(a: Window, b: Window) -> bool:
    return a.device == b.device and a.start < b.end and b.start < a.end


@dataclass
class WindowClock:
    """Filled in when the ``with lease.window()`` block ends."""

    window: Window | None = None


def _flock(path: Path, blocking: bool):
    """An open file holding an exclusive flock on ``path``, or None if ``blocking`` is False and it is held."""
    if not path.parent.is_dir():  # every user's jobs share the host's locks: a folder anyone may add a lock to, as /tmp
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o1777)
    fh = open(path, "a+")  # noqa: SIM115  closed by the lease
    try:
        path.chmod(0o666)
    except PermissionError:
        pass  # another user's lock file: they made it writable
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        fh.close()
        return None
    return fh


@dataclass
class DeviceLease:
    """The device of one job: leased GPUs (held until :meth:`release` or exit) or the host's CPU."""

    gpus: tuple[str, ...] = ()  # leased GPU UUIDs; () = CPU
    held: list = field(default_factory=list)  # open lock files of the leased GPUs
    locks: Path = field(default_factory=lock_dir)
    host: str = field(default_factory=socket.gethostname)

    @property
    def device(self) -> str:
        return f"cuda:{','.join(self.gpus)}" if self.gpus else f"cpu:{self.host}"

    @classmethod
    def acquire(cls, gpus: int, *, list_gpus: Callable[[], list[str]] = nvidia_gpus,
                environ: dict | None = None, log=print) -> DeviceLease:
        """Lease ``gpus`` whole GPUs (waiting for free ones), or the CPU when ``gpus`` is 0 or the host has none.

        Sets ``CUDA_VISIBLE_DEVICES`` to the leased UUIDs in ``environ`` (default ``os.environ``): call this
        before anything initialises CUDA.
        """
        environ = os.environ if environ is None else environ
        if environ.get(LEASED_ENV):  # a parent (the Docker runner) holds the locks for us
            return cls(gpus=tuple(environ[LEASED_ENV].split(",")))
        if gpus < 1:
            return cls()
        candidates = visible_gpus(list_gpus(), environ.get("CUDA_VISIBLE_DEVICES"))
        if not candidates:
            return cls()  # no GPU here: loading the model refuses, naming the cause
        if gpus > len(candidates):
            raise RuntimeError(f"this job needs {gpus} GPUs but {len(candidates)} are visible")
        lease, waited_since, said = cls(), time.monotonic(), False
        while True:
            for uuid in candidates:
                if uuid in lease.gpus:
                    continue
                fh = _flock(lease.locks / f"{uuid}.lock", blocking=False)
                if fh is not None:
                    lease.held.append(fh)
                    lease.gpus += (uuid,)
                    if len(lease.gpus) == gpus:
                        environ["CUDA_VISIBLE_DEVICES"] = ",".join(lease.gpus)
                        if said:
                            log(f"sumbench: got {lease.device} after {time.monotonic() - waited_since:.0f} s")
                        return lease
            if not said:
                log(f"sumbench: waiting for {gpus} free GPU(s) of {len(candidates)} (other sumbench jobs hold them)")
                said = True
            lease.release()  # never hold some GPUs while waiting for more: two jobs could deadlock
            lease = cls()
            time.sleep(POLL_S)

    def release(self) -> None:
        for fh in self.held:
            fh.close()
        self.held.clear()

    @contextlib.contextmanager
    def window(self) -> Iterator[WindowClock]:
        """A timed window: exclusive on this job's GPUs, or under the host's CPU lock."""
        clock = WindowClock()
        asked = time.time()
        # ranks of one job train in lockstep: rank 0 holds the host's lock for all of them
        lead = int(os.environ.get("RANK", "0")) == 0
        fh = None if self.gpus or not lead else _flock(self.locks / "cpu.lock", blocking=True)
        start = time.time()
        try:
            yield clock
        finally:
            clock.window = Window(device=self.device, start=start, end=time.time(), exclusive=True,
                                  waited_s=start - asked)
            if fh is not None:
                fh.close()


def log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
