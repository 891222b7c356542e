"""DeepSpeed's compiled ops, loaded before a timed window and never compiled inside one.

DeepSpeed on a CPU uses two C++ ops that it compiles on first use (just-in-time, ~1-2 minutes each on two
cores, cached per CPU under ``TORCH_EXTENSIONS_DIR``): a shared-memory all-reduce (``deepspeed_shm_comm``,
whenever DeepSpeed trains on the CPU) and its CPU Adam (``cpu_adam``, when a user's DeepSpeed file names an
``optimizer`` and offloads it). The job images build them at image build time (``DS_BUILD_OPS=1``). Here
:func:`prepare_ops` loads what a setting needs before the window, and returns the seconds each took (a compile
shows as a long one): the record keeps them.

``SUMBENCH_DEEPSPEED_JIT=0`` forbids compiling at run time (a cluster node without a compiler, the default tests):
an op that is neither built into the install nor cached is then left out where DeepSpeed can do without it (the
shared-memory all-reduce: DeepSpeed's torch.distributed all-reduce instead), and is an error where it cannot.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from sumbench.config.deepspeed import DeepSpeedSetting
from sumbench.errors import ConfigError

JIT_ENV = "SUMBENCH_DEEPSPEED_JIT"
SHM_COMM = "ShareMemCommBuilder"  # the CPU accelerator's builders, by class name
CPU_ADAM = "CPUAdamBuilder"


def jit_allowed() -> bool:
    return os.environ.get(JIT_ENV, "1") != "0"


def needed_ops(setting: DeepSpeedSetting, cuda: bool) -> tuple[str, ...]:
    """The compiled ops DeepSpeed will load for ``setting`` (on CUDA none is needed before training: DeepSpeed's
    CUDA ops come prebuilt in the image or are not used by the Trainer's optimizer)."""
    if not setting.enabled or cuda:
        return ()
    return (SHM_COMM,) + ((CPU_ADAM,) if setting.has_optimizer_block and setting.offload_optimizer else ())


def extensions_root() -> Path:
    """Where torch caches a just-in-time build (torch.utils.cpp_extension's folder, without creating it)."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    if root:
        return Path(root)
    from torch.utils.cpp_extension import get_default_build_root

    flags = getattr(sys, "abiflags", "")
    return Path(get_default_build_root()) / f"py{sys.version_info.major}{sys.version_info.minor}{flags}_cpu"


def is_built(builder) -> bool:
    """Built into the DeepSpeed install (image build time) or cached by an earlier just-in-time build."""
    from deepspeed.git_version_info import installed_ops

    name = builder.name
    return bool(installed_ops.get(name)) or (extensions_root() / name / f"{name}.so").exists()


def prepare_ops(setting: DeepSpeedSetting, cuda: bool) -> dict[str, float]:
    """Load (compiling where allowed and needed) each op ``setting`` uses; seconds per op. Call before the window."""
    ops = needed_ops(setting, cuda)
    if not ops:
        return {}
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator

    seconds: dict[str, float] = {}
    for op in ops:
        builder = get_accelerator().create_op_builder(op)
        if builder is None or not deepspeed.ops.__compatible_ops__.get(builder.NAME, False):
            continue  # DeepSpeed would not use it on this machine either
        if not is_built(builder) and not jit_allowed():
            if op == SHM_COMM:  # DeepSpeed's torch.distributed all-reduce serves instead
                deepspeed.ops.__compatible_ops__[builder.NAME] = False
                continue
            raise ConfigError(f"{setting.name}: needs DeepSpeed's compiled {builder.NAME} op (the file's optimizer "
                              f"block under offload), which is not built here and {JIT_ENV}=0 forbids compiling it; "
                              f"build it (DS_BUILD_CPU_ADAM=1 pip install deepspeed) or drop the optimizer block")
        started = time.perf_counter()
        builder.load()
        seconds[builder.NAME] = time.perf_counter() - started
    return seconds
