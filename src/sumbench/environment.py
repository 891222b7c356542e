"""What a number was measured on: device, library versions, code version, config hash."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "flash-attn", "datasets", "rouge-score",
            "kiwipiepy", "snakemake")


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


def device_info() -> dict[str, Any]:
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"device": "cuda", "device_name": props.name, "device_count": torch.cuda.device_count(),
                "cuda": torch.version.cuda, "device_total_bytes": props.total_memory}
    return {"device": "cpu", "device_name": platform.processor() or platform.machine(), "cuda": None,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def capture(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    return {**device_info(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": package_versions(), "git_sha": git_sha(), "config_hash": config_hash(settings), "seed": seed}
