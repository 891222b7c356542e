"""Device leases and timed windows: no two timed windows share a device, whatever --cores says."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from sumbench.training.lease import LEASED_ENV, DeviceLease, Window, visible_gpus, windows_overlap

GPUS = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]


def test_visible_gpus_follow_cuda_visible_devices_by_index_or_uuid():
    assert visible_gpus(GPUS, None) == GPUS
    assert visible_gpus(GPUS, "2,0") == ["GPU-cccc", "GPU-aaaa"]
    assert visible_gpus(GPUS, "GPU-bb") == ["GPU-bbbb"]
    assert visible_gpus(GPUS, "") == []


def test_two_jobs_get_different_gpus_and_cuda_visible_devices_names_only_theirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SUMBENCH_LOCK_DIR", str(tmp_path))
    env_a, env_b = {}, {}
    a = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ=env_a)
    b = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ=env_b)
    assert a.gpus == ("GPU-aaaa",) and b.gpus == ("GPU-bbbb",)
    assert env_a["CUDA_VISIBLE_DEVICES"] == "GPU-aaaa" and env_b["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb"
    two = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ={})
    assert two.gpus == ("GPU-cccc",)
    a.release()
    again = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ={})
    assert again.gpus == ("GPU-aaaa",)  # freed by the first job


def test_a_job_waits_for_a_free_gpu(tmp_path, monkeypatch):
    # The holder frees the GPU only once the waiter has said it waits: the waiter must have polled, found the GPU
    # taken and then got it, whatever the machine's speed.
    monkeypatch.setenv("SUMBENCH_LOCK_DIR", str(tmp_path))
    monkeypatch.setattr("sumbench.training.lease.POLL_S", 0.01)
    held = DeviceLease.acquire(1, list_gpus=lambda: GPUS[:1], environ={})
    lines = []

    def log(line):
        lines.append(line)
        if "waiting" in line:
            held.release()

    waiter = DeviceLease.acquire(1, list_gpus=lambda: GPUS[:1], environ={}, log=log)
    assert waiter.gpus == ("GPU-aaaa",) and not held.held
    assert "waiting for 1 free GPU" in lines[0] and lines[1].startswith("sumbench: got cuda:GPU-aaaa after")


def test_a_parent_lease_is_trusted_and_cpu_jobs_lease_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SUMBENCH_LOCK_DIR", str(tmp_path))
    inner = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ={LEASED_ENV: "GPU-bbbb"})
    assert inner.gpus == ("GPU-bbbb",) and not inner.held
    assert DeviceLease.acquire(0, list_gpus=lambda: GPUS, environ={}).device.startswith("cpu:")
    assert DeviceLease.acquire(1, list_gpus=lambda: [], environ={}).device.startswith("cpu:")


def _timed_window(lock_dir: str, go, queue) -> None:
    os.environ["SUMBENCH_LOCK_DIR"] = lock_dir
    go.wait()
    with DeviceLease().window() as clock:
        time.sleep(0.05)
    queue.put(clock.window)


def _blocked_on(path) -> int:
    """How many flock requests on ``path`` wait in the kernel (the ``->`` rows of /proc/locks for its inode)."""
    inode = f":{os.stat(path).st_ino} "
    return sum(line.split()[1] == "->" and inode in line for line in open("/proc/locks").read().splitlines())


def test_cpu_windows_of_parallel_processes_never_overlap(tmp_path):
    # The test holds the host's CPU lock until the kernel shows all three jobs blocked on it: each of them must
    # then have waited, and no two windows may overlap, however fast or busy the machine is.
    # The jobs are forked before the test opens the lock, so none inherits the test's hold on it.
    ctx = multiprocessing.get_context("fork")
    queue, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_timed_window, args=(str(tmp_path), go, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    with DeviceLease(locks=tmp_path).window():
        go.set()
        deadline = time.monotonic() + 120  # a hang guard, not a speed claim
        while _blocked_on(tmp_path / "cpu.lock") < 3:
            assert time.monotonic() < deadline and all(p.is_alive() for p in procs), "the jobs never blocked"
            time.sleep(0.01)
    windows = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(120)
    assert all(w.exclusive for w in windows) and all(w.waited_s > 0 for w in windows)
    assert not any(windows_overlap(a, b) for i, a in enumerate(windows) for b in windows[i + 1:])


def test_windows_overlap_only_on_the_same_device():
    a = Window(device="cpu:h", start=0.0, end=2.0, exclusive=True, waited_s=0.0)
    assert windows_overlap(a, Window(device="cpu:h", start=1.0, end=3.0, exclusive=True, waited_s=0.0))
    assert not windows_overlap(a, Window(device="cpu:h", start=2.0, end=3.0, exclusive=True, waited_s=0.0))
    assert not windows_overlap(a, Window(device="cuda:GPU-a", start=1.0, end=3.0, exclusive=True, waited_s=0.0))


def test_a_job_needing_more_gpus_than_visible_fails():
    with pytest.raises(RuntimeError, match="needs 4 GPUs but 3 are visible"):
        DeviceLease.acquire(4, list_gpus=lambda: GPUS, environ={})
