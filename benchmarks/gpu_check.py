"""The first run on a GPU machine: tiny twins trained the ways the real models are, and the CUDA fields of their records.

    python benchmarks/gpu_check.py [--steps 20] [--out /tmp/sumbench-gpu-check]

On one CUDA GPU, offline, in about two minutes: tiny-llama as LoRA on a bf16 base, QLoRA (4-bit nf4, paged 8-bit
AdamW, gradient checkpointing) and full fine-tuning, and tiny-bart full fine-tuning, each with SDPA attention and,
when the flash-attn package is installed, again with flash_attention_2. ``dtype: auto`` gives bf16 on Ampere and
newer, fp16 with loss scaling before. Then one table from the cells' metrics.json: peak allocated and reserved
memory, allocator retries, MFU and samples/s. Exit 1 if a cell failed. On a machine without CUDA: one line, exit 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

MIB = 2**20
CELLS = {  # label -> (model, overrides of its YAML)
    "llama lora": ("tiny-llama", []),
    "llama qlora-4bit": ("tiny-llama", ["quantization.load_in_4bit=true", "training.optim=paged_adamw_8bit",
                                        "training.gradient_checkpointing=true"]),
    "llama full": ("tiny-llama", ["finetune=full"]),
    "bart full": ("tiny-bart", []),
}
ON_GPU = ["resources.gpus=1", "dtype=auto", "generation.num_beams=1", "generation.max_new_tokens=16"]


def fmt(value, scale: float = 1.0, digits: int = 0) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per cell (the first 3 are not timed)")
    p.add_argument("--out", default=None, help="folder for the data, twins and cells (default: a temporary one)")
    args = p.parse_args()

    import torch

    from sumbench.training.device import cuda_facts, why_no_cuda

    facts = cuda_facts()
    if not facts.available:
        print(f"gpu_check: needs a CUDA GPU, and CUDA is unavailable here: {why_no_cuda(facts)}", file=sys.stderr)
        return 2
    from sumbench.config.model import load_model
    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus
    from sumbench.environment import device_info
    from sumbench.training.cell import Cell, run_cell
    from sumbench.training.warmstart import warmstart

    root = Path(args.out or tempfile.mkdtemp(prefix="sumbench-gpu-check-"))
    info = device_info()
    print(f"gpu_check: {info['device_name']}, driver {info['driver']}, torch {torch.__version__} (CUDA "
          f"{info['cuda']}); bf16 native: {torch.cuda.is_bf16_supported(including_emulation=False)}; work in {root}")
    write_corpus(root / "src", n=128, seed=5, dev_n=16)
    write_folds(root / "src/train.csv", root / "src/dev.csv", k=2, seed=0, out_dir=root / "folds")
    kernels = ["sdpa"] + (["flash_attention_2"] if importlib.util.find_spec("flash_attn") else [])
    if len(kernels) == 1:
        print("gpu_check: flash-attn is not installed; SDPA only")
    rows = []
    for model in sorted({m for m, _ in CELLS.values()}):  # a random-init twin saved once (no warm start needed)
        warmstart(load_model(model, overrides=["tiny.warmstart_corpus_size=32"]), root / "src/train.csv",
                  root / "base" / model, steps=0)
    for kernel in kernels:
        for label, (model, overrides) in CELLS.items():
            out = root / "cells" / f"{label.replace(' ', '_')}_{kernel}"
            started = time.perf_counter()
            record = run_cell(Cell(model=model, batch_size=8, grad_accum=2, fold=0, data=root / "folds", out=out,
                                   max_steps=args.steps, max_eval_samples=8, warmup_steps=3,
                                   overrides=(f"pretrained={root / 'base' / model}", *ON_GPU, *overrides,
                                              f"attn_implementation={kernel}")))
            saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
            rows.append((label, kernel, saved, time.perf_counter() - started))
            print(f"gpu_check: {label} / {kernel}: {record.status} in {rows[-1][3]:.0f} s", flush=True)

    head = (f"{'cell':<17} {'attention':<17} {'status':<6} {'compute':<9} {'alloc MiB':>9} {'reserved MiB':>12} "
            f"{'retries':>7} {'MFU':>7} {'samples/s':>9}")
    print("\n" + head + "\n" + "-" * len(head))
    for label, kernel, r, _ in rows:
        compute = "bf16" if r["settings"]["model"]["dtype"] == "auto" and torch.cuda.is_bf16_supported(
            including_emulation=False) else "fp16"
        print(f"{label:<17} {kernel:<17} {r['status']:<6} {compute:<9} {fmt(r['peak_memory_bytes'], MIB):>9} "
              f"{fmt(r['cuda_max_reserved_bytes'], MIB):>12} {fmt(r['cuda_alloc_retries']):>7} "
              f"{fmt(r['mfu'], 0.01, 2) + ('%' if r['mfu'] is not None else ''):>7} {fmt(r['samples_per_s'], 1, 1):>9}")
        if r["status"] != "ok":
            print(f"    {r['message']}")
    print(f"\nmemory_kind: {rows[0][2]['memory_kind']} (peak allocated = torch.cuda.max_memory_allocated over the timed "
          f"steps); MFU needs the GPU in the peak-FLOPs table, else '-'")
    return 0 if all(r["status"] == "ok" for _, _, r, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
