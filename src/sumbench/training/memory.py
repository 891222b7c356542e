"""Peak memory of one measured window (a training run, a profiled split), part of the measurement module.

- CUDA: the allocator's peak and accumulated statistics are reset when the window starts
  (``reset_peak_memory_stats`` and ``reset_accumulated_memory_stats``), so ``max_memory_allocated``,
  ``max_memory_reserved`` and ``num_alloc_retries`` describe this window only. ``num_alloc_retries`` counts
  the times the caching allocator had to free its cache and retry a ``cudaMalloc``: the saturation signal.
- CPU: the peak resident set *during the window*. The kernel's high-water mark (VmHWM) is reset at the start
  by writing ``5`` to ``/proc/self/clear_refs`` and read at the end; the process's lifetime peak would include
  the ~0.5 GB that importing torch and transformers costs before anything is trained. Where the reset is not
  allowed, a sampler thread reads the resident set every ``SAMPLE_S`` during the window instead.
- What the device can hold: the CUDA device's total, or on a CPU the smaller of the host's RAM and the cgroup's
  memory limit. A value that cannot be read is ``None`` ("unknown"), never 0.
"""

from __future__ import annotations

import gc
import os
import re
import resource
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

PAGE_BYTES = resource.getpagesize()
BYTES_PER_KIB = 1024
SAMPLE_S = 0.02  # resident-set sampling period where the high-water mark cannot be reset
NO_CGROUP_LIMIT = 2 ** 60  # cgroup v1 writes a huge number for "no limit"
CGROUP_LIMIT_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def release_device_memory() -> None:
    """Free what a finished training left behind before the next one loads: objects only reference cycles keep
    alive (under mixed precision accelerate's wrapped ``forward`` keeps its model, and with it the Trainer's
    optimizer state, until a collection), then the blocks CUDA's caching allocator still holds."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def paged_state_note(optim: str, memory_kind: str | None) -> str | None:
    """What ``peak_memory_bytes`` leaves out, said rather than guessed: a bitsandbytes paged optimizer
    (``paged_adamw_8bit``, ...) keeps its state in CUDA unified memory (cudaMallocManaged), outside PyTorch's
    allocator, so ``max_memory_allocated`` does not count it (on a CPU bitsandbytes keeps it unpaged, in the RSS)."""
    if not optim.startswith("paged_") or memory_kind != "cuda_max_allocated":
        return None
    return (f"the peak leaves out {optim}'s optimizer state: bitsandbytes keeps it in paged (CUDA unified) memory, "
            f"outside PyTorch's allocator")


class CudaMemoryLike(Protocol):
    """The subset of ``torch.cuda`` the probe uses (a fake in tests)."""

    def is_available(self) -> bool: ...
    def reset_peak_memory_stats(self) -> None: ...
    def reset_accumulated_memory_stats(self) -> None: ...
    def max_memory_allocated(self) -> int: ...
    def max_memory_reserved(self) -> int: ...
    def memory_stats(self) -> dict[str, Any]: ...
    def get_device_properties(self, device: int) -> Any: ...


@dataclass(frozen=True)
class MemoryReading:
    """Peak memory of the measured window, in bytes (the record fields of the same names)."""

    memory_kind: str  # cuda_max_allocated | cpu_peak_rss: what peak_memory_bytes is
    peak_memory_bytes: int | None
    cpu_peak_rss_bytes: int | None  # peak resident set of the process during the window
    cpu_rss_rise_bytes: int | None  # that peak minus the resident set when the window started
    cuda_max_reserved_bytes: int | None = None
    cuda_device_total_bytes: int | None = None
    cuda_alloc_retries: int | None = None
    host_memory_bytes: int | None = None  # physical RAM of the host
    cgroup_memory_limit_bytes: int | None = None  # None: no limit, or not readable


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_BYTES


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark of this process (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """VmHWM of this process: the peak resident set since the last reset (or since the process started)."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        return int(match.group(1)) * BYTES_PER_KIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * BYTES_PER_KIB  # Linux reports KiB


def host_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def cgroup_memory_limit_bytes(files: tuple[str, ...] = CGROUP_LIMIT_FILES) -> int | None:
    """The memory limit of this process's cgroup (v2 or v1), or None where there is none or it is unreadable."""
    for name in files:
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text == "max" or not text.isdigit() or int(text) >= NO_CGROUP_LIMIT:
            return None
        return int(text)
    return None


class _RssSampler:
    """Fallback where VmHWM cannot be reset: the largest resident set seen every SAMPLE_S seconds."""

    def __init__(self):
        self.peak = current_rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, current_rss_bytes())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, current_rss_bytes())


class MemoryProbe:
    """Peak memory of a window: CUDA allocator statistics on a GPU, the peak resident set on a CPU."""

    def __init__(self, cuda: CudaMemoryLike | None = None, device_index: int = 0):
        self.cuda = cuda if cuda is not None and cuda.is_available() else None
        self.device_index = device_index
        self.rss_at_start = 0
        self._sampler: _RssSampler | None = None

    @property
    def kind(self) -> str:
        return "cuda_max_allocated" if self.cuda else "cpu_peak_rss"

    def start(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()
        self.rss_at_start = current_rss_bytes()
        self._sampler = None if reset_peak_rss() else _RssSampler()
        if self.cuda:
            self.cuda.reset_peak_memory_stats()
            self.cuda.reset_accumulated_memory_stats()  # num_alloc_retries counts this window only

    def read(self) -> MemoryReading:
        if self._sampler is not None:
            peak_rss = self._sampler.stop()
            self._sampler = None
        else:
            peak_rss = peak_rss_bytes()
        host = dict(memory_kind=self.kind, cpu_peak_rss_bytes=peak_rss,
                    cpu_rss_rise_bytes=max(peak_rss - self.rss_at_start, 0), host_memory_bytes=host_memory_bytes(),
                    cgroup_memory_limit_bytes=cgroup_memory_limit_bytes())
        if not self.cuda:
            return MemoryReading(peak_memory_bytes=peak_rss, **host)
        retries = self.cuda.memory_stats().get("num_alloc_retries")
        return MemoryReading(
            peak_memory_bytes=int(self.cuda.max_memory_allocated()),
            cuda_max_reserved_bytes=int(self.cuda.max_memory_reserved()),
            cuda_device_total_bytes=int(self.cuda.get_device_properties(self.device_index).total_memory),
            cuda_alloc_retries=None if retries is None else int(retries),
            **host)
