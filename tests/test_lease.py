"""Device leases and timed windows: no two timed windows share a device, whatever --cores says."""

from __future__ import annotations

import multiprocessing
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
    monkeypatch.setenv("SUMBENCH_LOCK_DIR", str(tmp_path))
    monkeypatch.setattr("sumbench.training.lease.POLL_S", 0.05)
    held = DeviceLease.acquire(1, list_gpus=lambda: GPUS[:1], environ={})
    lines = []
    import threading

    threading.Timer(0.3, held.release).start()
    started = time.monotonic()
    waiter = DeviceLease.acquire(1, list_gpus=lambda: GPUS[:1], environ={}, log=lines.append)
    assert waiter.gpus == ("GPU-aaaa",) and time.monotonic() - started >= 0.25
    assert "waiting for 1 free GPU" in lines[0]


def test_a_parent_lease_is_trusted_and_cpu_jobs_lease_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SUMBENCH_LOCK_DIR", str(tmp_path))
    inner = DeviceLease.acquire(1, list_gpus=lambda: GPUS, environ={LEASED_ENV: "GPU-bbbb"})
    assert inner.gpus == ("GPU-bbbb",) and not inner.held
    assert DeviceLease.acquire(0, list_gpus=lambda: GPUS, environ={}).device.startswith("cpu:")
    assert DeviceLease.acquire(1, list_gpus=lambda: [], environ={}).device.startswith("cpu:")


def _timed_window(lock_dir: str, seconds: float, queue) -> None:
    import os

    os.environ["SUMBENCH_LOCK_DIR"] = lock_dir
    lease = DeviceLease()
    with lease.window() as clock:
        time.sleep(seconds)
    queue.put(clock.window)


def test_cpu_windows_of_parallel_processes_never_overlap(tmp_path):
    queue = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(target=_timed_window, args=(str(tmp_path), 0.3, queue))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    windows = [queue.get(timeout=5) for _ in procs]
    assert all(w.exclusive for w in windows)
    assert not any(windows_overlap(a, b) for i, a in enumerate(windows) for b in windows[i + 1:])
    assert sum(w.waited_s > 0.2 for w in windows) >= 2  # two of them waited for the lock


def test_windows_overlap_only_on_the_same_device():
    a = Window(device="cpu:h", start=0.0, end=2.0, exclusive=True, waited_s=0.0)
    assert windows_overlap(a, Window(device="cpu:h", start=1.0, end=3.0, exclusive=True, waited_s=0.0))
    assert not windows_overlap(a, Window(device="cpu:h", start=2.0, end=3.0, exclusive=True, waited_s=0.0))
    assert not windows_overlap(a, Window(device="cuda:GPU-a", start=1.0, end=3.0, exclusive=True, waited_s=0.0))


def test_a_job_needing_more_gpus_than_visible_fails():
    with pytest.raises(RuntimeError, match="needs 4 GPUs but 3 are visible"):
        DeviceLease.acquire(4, list_gpus=lambda: GPUS, environ={})
