"""What this machine's accelerator can do, and what a model YAML may ask of it.

- :func:`require_cuda`: a YAML that asks for GPUs (``resources.gpus > 0``) refuses to load where CUDA is unavailable,
  in one line naming the cause (no NVIDIA driver, a CPU-only torch, a torch built for a newer CUDA than the driver
  runs) and how to run on the CPU on purpose (``--set resources.gpus=0``). No job trains on the CPU by accident.
- :func:`resolve_precision`: ``dtype: auto`` is bf16 only where the GPU computes it natively, fp16 with loss scaling
  on older GPUs (``torch.cuda.is_bf16_supported()`` alone says True on Turing, through emulation), fp32 on a CPU.
- :func:`resolve_attn_implementation`: sdpa by default, flash_attention_2 only with CUDA and the flash-attn package.

Device facts come through two seams, :func:`cuda_state` and :func:`cuda_facts`, so tests reach every GPU case on a CPU.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from sumbench.config.model import ModelSpec
from sumbench.errors import ConfigError

# Oldest NVIDIA driver branch that runs each CUDA major release (CUDA's minor-version compatibility within a major).
MIN_DRIVER_FOR_CUDA = {11: 450, 12: 525, 13: 580}
CPU_ON_PURPOSE = "--set resources.gpus=0"


# ------------------------------------------------------------------------------------------- the device
def cuda_state() -> tuple[bool, bool]:
    """(CUDA available, bf16 computed natively on it: Ampere or newer, not Turing's emulation)."""
    import torch

    cuda = torch.cuda.is_available()
    return cuda, cuda and torch.cuda.is_bf16_supported(including_emulation=False)


@dataclass(frozen=True)
class CudaFacts:
    available: bool
    torch_version: str
    torch_cuda: str | None  # torch.version.cuda: the CUDA release the build targets; None = a CPU-only build
    driver: str | None  # NVIDIA driver version; None = no driver on this machine


def cuda_facts() -> CudaFacts:
    import torch

    from sumbench.environment import nvidia_driver

    return CudaFacts(available=torch.cuda.is_available(), torch_version=torch.__version__,
                     torch_cuda=torch.version.cuda, driver=nvidia_driver()[0])


def why_no_cuda(facts: CudaFacts) -> str:
    """The cause, in words, of CUDA being unavailable."""
    if facts.torch_cuda is None and facts.driver is None:
        return f"no NVIDIA driver on this machine, and torch {facts.torch_version} is a CPU-only build"
    if facts.torch_cuda is None:
        return (f"torch {facts.torch_version} is a CPU-only build (NVIDIA driver {facts.driver} is present); install a "
                f"CUDA build (pip install torch --index-url https://download.pytorch.org/whl/cu128)")
    if facts.driver is None:
        return f"no NVIDIA driver on this machine (torch {facts.torch_version} is built for CUDA {facts.torch_cuda})"
    major = int(facts.torch_cuda.split(".")[0])
    needed = MIN_DRIVER_FOR_CUDA.get(major)
    found = re.match(r"\d+", facts.driver)
    branch = int(found.group()) if found else None
    if needed and branch is not None and branch < needed:
        return (f"torch {facts.torch_version} is built for CUDA {facts.torch_cuda}, newer than NVIDIA driver "
                f"{facts.driver} runs (CUDA {major} needs driver {needed} or newer); install a torch built for the "
                f"driver's CUDA (e.g. --index-url https://download.pytorch.org/whl/cu126) or upgrade the driver")
    return (f"driver {facts.driver} and a CUDA {facts.torch_cuda} build are present but torch sees no GPU "
            f"(check nvidia-smi and CUDA_VISIBLE_DEVICES)")


def require_cuda(spec: ModelSpec, facts: CudaFacts | None = None) -> None:
    """Refuse a model that asks for GPUs where CUDA is unavailable; a ``resources.gpus: 0`` model runs anywhere."""
    wanted = spec.resources.gpus
    if wanted <= 0:
        return
    facts = facts or cuda_facts()
    if facts.available:
        return
    raise ConfigError(f"model {spec.name!r} asks for {wanted} GPU{'s' if wanted > 1 else ''} (resources.gpus in "
                      f"{spec.source_file}) but CUDA is unavailable: {why_no_cuda(facts)}. To train on the CPU on "
                      f"purpose: {CPU_ON_PURPOSE}")


# ----------------------------------------------------------------------------------------- precision
def resolve_dtype(name: str, *, cuda_available: bool, bf16_supported: bool):
    """``auto`` = bf16 where the device computes it natively, else fp16 on CUDA, else fp32."""
    import torch

    if name == "auto":
        if cuda_available and bf16_supported:
            return torch.bfloat16
        return torch.float16 if cuda_available else torch.float32
    return getattr(torch, name)


@dataclass(frozen=True)
class Precision:
    """How one model is loaded and trained.

    ``compute``: the autocast / matmul dtype (the Trainer's bf16 / fp16 flag follows it; fp16 on CUDA brings
    the GradScaler). ``weights``: the dtype ``from_pretrained`` loads non-quantized weights in: fp32 master
    weights for full fine-tuning, the compute dtype for a frozen LoRA base. Trainable parameters are always
    fp32 (see :func:`sumbench.training.models.apply_finetune`), so the GradScaler never meets fp16 gradients.
    ``quant_compute``: ``bnb_4bit_compute_dtype`` (None without quantization).
    """

    compute: Any
    weights: Any
    quant_compute: Any = None

    @property
    def bf16(self) -> bool:
        import torch

        return self.compute == torch.bfloat16

    @property
    def fp16(self) -> bool:
        import torch

        return self.compute == torch.float16


def resolve_precision(spec: ModelSpec, *, cuda_available: bool, bf16_supported: bool) -> Precision:
    """The :class:`Precision` of ``spec`` on a device (booleans, so GPU cases are testable on a CPU)."""
    import torch

    where = spec.source_file
    if spec.dtype == "float16" and not cuda_available:
        raise ConfigError(f"{where}: key 'dtype': float16 needs a CUDA device (fp16 training relies on loss "
                          f"scaling); use bfloat16, float32 or auto on a CPU")
    if spec.dtype == "bfloat16" and cuda_available and not bf16_supported:
        raise ConfigError(f"{where}: key 'dtype': this GPU does not support bfloat16; use auto (fp16 with loss "
                          f"scaling) or float32")
    compute = resolve_dtype(spec.dtype, cuda_available=cuda_available, bf16_supported=bf16_supported)
    weights = torch.float32 if spec.finetune == "full" else compute
    quant = None
    if spec.quantization.enabled:
        q = spec.quantization.compute_dtype
        quant = compute if q == "auto" else getattr(torch, q)
    return Precision(compute=compute, weights=weights, quant_compute=quant)


def device_precision(spec: ModelSpec) -> Precision:
    cuda, bf16 = cuda_state()
    return resolve_precision(spec, cuda_available=cuda, bf16_supported=bf16)


# ----------------------------------------------------------------------------------------- attention
def resolve_attn_implementation(spec: ModelSpec, *, cuda_available: bool, flash_attn_available: bool) -> str:
    """``sdpa`` by default; ``flash_attention_2`` only with CUDA and the flash-attn package.

    Asked for on a CPU: a ConfigError. On a GPU without the package: sdpa, with one warning.
    """
    requested = spec.attn_implementation
    if requested != "flash_attention_2":
        return requested
    if not cuda_available:
        raise ConfigError(f"{spec.source_file}: key 'attn_implementation': flash_attention_2 needs a CUDA GPU; "
                          f"use sdpa on a CPU")
    if not flash_attn_available:
        warnings.warn(f"{spec.name}: attn_implementation flash_attention_2 asked for but the flash-attn package is "
                      f"not installed; using sdpa", stacklevel=2)
        return "sdpa"
    return requested
