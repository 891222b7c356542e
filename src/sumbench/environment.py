"""What a number was measured on: device, library versions, code version, config hash."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "flash-attn", "rouge-score",
            "kiwipiepy", "snakemake")
NVIDIA_PROC_VERSION = Path("/proc/driver/nvidia/version")  # written by the NVIDIA kernel module


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_sha(repo: Path | None = None) -> str | None:
    if os.environ.get("SUMBENCH_GIT_SHA"):
        return os.environ["SUMBENCH_GIT_SHA"]
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def config_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def nvidia_driver(proc_version: Path = NVIDIA_PROC_VERSION, smi: str | None = "nvidia-smi") -> tuple[str | None, str | None]:
    """(driver version, first GPU's name) from the NVIDIA kernel module or nvidia-smi; (None, None) without a driver.

    The kernel module's version file answers without starting anything; nvidia-smi also knows the GPU's name.
    """
    driver = name = None
    try:
        match = re.search(r"Kernel Module.*?\s(\d+\.\d+(?:\.\d+)?)\s", proc_version.read_text(encoding="utf-8"))
        driver = match.group(1) if match else None
    except OSError:
        pass
    if smi and shutil.which(smi):
        try:
            out = subprocess.run([smi, "--query-gpu=driver_version,name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10).stdout.strip().splitlines()
        except (OSError, subprocess.TimeoutExpired):
            out = []
        if out and "," in out[0]:
            smi_driver, _, smi_name = (part.strip() for part in out[0].partition(","))
            driver, name = driver or smi_driver or None, smi_name or None
    return driver, name


def device_info() -> dict[str, Any]:
    """The device and its software stack: torch's CUDA build (None = CPU-only), the NVIDIA driver and GPU name (None
    where absent), so a record made on the CPU of a GPU machine says why."""
    import torch

    driver, gpu_name = nvidia_driver()
    stack = {"cuda": torch.version.cuda, "driver": driver, "gpu_name": gpu_name}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"device": "cuda", "device_name": props.name, "device_count": torch.cuda.device_count(),
                "device_total_bytes": props.total_memory, **stack, "gpu_name": props.name}
    return {"device": "cpu", "device_name": platform.processor() or platform.machine(), **stack,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def capture(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    return {**device_info(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": package_versions(), "git_sha": git_sha(), "config_hash": config_hash(settings), "seed": seed}
