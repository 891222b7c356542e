"""The first run on a GPU node: every training route of the grid on tiny twins, offline, and one verdict table.

    python benchmarks/gpu_check.py [--steps 30] [--out DIR]

On one CUDA GPU, offline, aiming at 8 minutes or less on an H100:

1. Training routes, each with SDPA and (when flash-attn is installed) flash_attention_2, through ``sumbench
   train``'s own ``run_cell``: LoRA on a bf16 base and QLoRA (4-bit nf4, paged 8-bit AdamW, gradient
   checkpointing) on the llama, qwen3 and gpt_neox twins; full fine-tuning on the BART twin (bf16 autocast).
2. A mini grid through the workflow's own phases (``sumbench profile`` -> ``plan`` -> ``quality``: run_profile,
   plan_grid, run_quality): the BART and llama twins at micro-batches 4 and OOM_BATCH x grad accumulation 1, 2,
   profiled under ``torch.cuda.set_per_process_memory_fraction`` so that the BART twin's micro-batch OOM_BATCH
   runs out of memory for real; the profile must prune it, and the plan must train only splits that ran.

Checks: each cell learned (training loss falls, gradient norm > 0, non-empty generations); timed steps make no
host synchronization (``torch.cuda.set_sync_debug_mode("warn")`` over each timed step's micro-batches, after the
warm-up: any sync fails the check with its site, except transformers' own attention-mask reads, which are counted); in the quality phase, allocated memory is back at its baseline, and no
model of an earlier cell is alive, when the next cell starts. One verdict table; exit 1 on any failure; 2, in one
line, where there is no CUDA GPU.

The GPU is leased (sumbench.training.lease) before anything touches CUDA, so on a shared node the check trains on
the GPU its records name. Needs, besides torch, transformers, peft and accelerate:
benchmarks/gpu_check-requirements.txt (the README shows how to bring them to a node without internet as wheels).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from gpu_check_verdict import (MIB, SKIP, WARMUP, Check, MemoryWatch, Row, SyncGuard, cell_checks, figures,
                               live_models, memory_returned, no_sync, oom_pruned, patched, plan_check, render_table)

REPO = Path(__file__).resolve().parent.parent
STEPS = 30  # optimizer steps per training-route cell
LEARNING_RATE = 2e-3  # the check asks whether each route learns at all: a rate that shows it within STEPS
WARMSTART_STEPS = 60  # each twin's base: enough to generate words, so empty generations mean a broken route
CORPUS = 2200  # synthetic training rows: fold 0 then holds more than OOM_BATCH examples
OOM_MODEL, OOM_BATCH = "tiny-bart", 1024  # the split that runs out of memory for real in the profile
OOM_CAP_BYTES = 1024 * MIB  # every profile's memory cap: micro-batch 4 needs a few MiB, OOM_BATCH several GiB
GRID_MODELS = ("tiny-bart", "tiny-llama")
TWINS = ("tiny-bart", "tiny-llama", "tiny-qwen3", "tiny-gptneox")


def routes(half: str) -> dict[str, tuple[str, list[str]]]:
    """label -> (twin, overrides of its YAML). ``half``: bfloat16, or float16 on a GPU without native bf16."""
    qlora = [f"dtype={half}", "quantization.load_in_4bit=true", "quantization.quant_type=nf4",
             "quantization.double_quant=true", "quantization.compute_dtype=auto", "training.optim=paged_adamw_8bit",
             "training.gradient_checkpointing=true"]
    short = {"bfloat16": "bf16", "float16": "fp16"}[half]
    out: dict[str, tuple[str, list[str]]] = {}
    for arch, twin in (("llama", "tiny-llama"), ("qwen3", "tiny-qwen3"), ("gpt_neox", "tiny-gptneox")):
        out[f"{arch} lora {short}"] = (twin, [f"dtype={half}"])
        out[f"{arch} qlora"] = (twin, qlora)
    out["bart full"] = ("tiny-bart", ["dtype=auto"])  # fp32 weights, autocast in the GPU's half precision
    return out


# ------------------------------------------------------------------------------------------- the run
def gpu_models(root: Path, half: str) -> Path:
    """The twins' YAMLs as the check trains them: on one GPU, a visible learning rate, short greedy generation."""
    import yaml

    folder = root / "models"
    folder.mkdir(parents=True, exist_ok=True)
    for name in TWINS + tuple(m for m in GRID_MODELS if m not in TWINS):
        body = yaml.safe_load((REPO / "configs" / "models" / f"{name}.yaml").read_text(encoding="utf-8"))
        body["resources"] = {**body.get("resources", {}), "gpus": 1}
        body["training"] = {**body.get("training", {}), "learning_rate": LEARNING_RATE}
        body["generation"] = {**body.get("generation", {}), "num_beams": 1, "max_new_tokens": 16}
        body["dtype"] = "auto" if body.get("finetune") == "full" else half  # LoRA on a half-precision base
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return folder


def train_routes(root, models, folds, bases, lease, guard, half, kernels, steps) -> list[Row]:
    import torch

    from sumbench.training.cell import Cell, run_cell

    rows = []
    for kernel in kernels:
        for label, (twin, overrides) in routes(half).items():
            out = root / "cells" / f"{label.replace(' ', '_')}_{kernel}"
            mark, started = guard.mark(), time.perf_counter()
            run_cell(Cell(model=twin, batch_size=8, grad_accum=2, fold=0, data=folds, out=out, max_steps=steps,
                          max_eval_samples=8, warmup_steps=WARMUP, models_dir=models,
                          overrides=(f"pretrained={bases[twin]}", *overrides, f"attn_implementation={kernel}")),
                     lease=lease)
            metrics, checks = cell_checks(out, guard.since(mark))
            rows.append(Row("train", label, kernel, checks, **figures(metrics)))
            print(f"gpu_check: {label} / {kernel}: {metrics['status']} in {time.perf_counter() - started:.0f} s",
                  flush=True)
            gc.collect()  # these cells are ours to clean up; the quality phase's are checked, not cleaned
            torch.cuda.empty_cache()
    return rows


def mini_grid(root, models, folds, bases, guard) -> list[Row]:
    """profile -> plan -> quality, as the workflow's rules call them."""
    import torch

    from sumbench.config.grid import load_grids
    from sumbench.planning.build import plan_grid
    from sumbench.records.plan import read_plan
    from sumbench.training import cell as cell_module
    from sumbench.training.profile import ProfileJob, run_profile
    from sumbench.training.quality import QualityJob, run_quality

    grid = load_grids({"grids": {"gpu_check": {
        "models": list(GRID_MODELS), "batch_sizes": [4, OOM_BATCH], "grad_accum": [1, 2], "k_folds": 2,
        "augmentation": ["none"], "max_train_samples": [None], "max_steps": 12, "max_eval_samples": 8,
        "timing_warmup_steps": WARMUP, "profile": {"warmup_steps": WARMUP, "timed_steps": 6}, "seed": 42,
        "data": {"train": str(root / "src" / "train.csv"), "dev": str(root / "src" / "dev.csv")}}}},
        source="benchmarks/gpu_check.py")["gpu_check"]
    os.chdir(root)  # the grid's records live under results/gpu_check/, as in the workflow
    rows, profiles, ran_splits = [], [], {}
    total = torch.cuda.get_device_properties(0).total_memory
    for model in GRID_MODELS:
        out = Path(grid.root) / "profile" / f"{model}.json"
        torch.cuda.set_per_process_memory_fraction(min(1.0, (torch.cuda.memory_allocated() + OOM_CAP_BYTES) / total))
        mark = guard.mark()
        try:
            run_profile(ProfileJob(grid=grid, model=model, data=folds, out=out,
                                   overrides=(f"pretrained={bases[model]}",), models_dir=models))
        except Exception as exc:  # noqa: BLE001  a profile that raises writes no record: that is the failure
            rows.append(Row("profile", model, "all splits", {"status": Check(False, f"{type(exc).__name__}: {exc}")}))
            continue
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        profiles.append(out)
        record = json.loads(out.read_text(encoding="utf-8"))
        splits = record["splits"]
        ran = [s for s in splits if s["status"] == "ok"]
        ran_splits[model] = {(s["batch_size"], s["grad_accum"]) for s in ran}
        bad = [f"bs{s['batch_size']}_ga{s['grad_accum']} {s['status']}: {s.get('message')}" for s in splits
               if s["status"] == "error" or (s["status"] == "oom" and s["batch_size"] < OOM_BATCH)]
        rows.append(Row("profile", model, f"{len(ran)}/{len(splits)} splits ok", {
            "status": Check(not bad and bool(ran), "; ".join(bad) or ("no split ran" if not ran else "")),
            "grad>0": Check(all((s.get("grad_norm_median") or 0) > 0 for s in ran), "a split with no gradient"),
            "no sync": no_sync(guard.since(mark), failed=not ran),
            "oom pruned": oom_pruned(splits, OOM_BATCH) if model == OOM_MODEL else SKIP}))
        print(f"gpu_check: profile {model}: {', '.join(s['status'] for s in splits)}", flush=True)

    plan_path = Path(grid.root) / "plan.json"
    plan_grid(grid, profiles=profiles, data=folds, models_dir=str(models)).write(plan_path)
    plan = read_plan(plan_path)
    planned = {m: [c for c in plan.cells if c.model == m] for m in GRID_MODELS}
    rows.append(Row("plan", "gpu_check", f"{len(plan.cells)} cells", {"planned": plan_check(planned, ran_splits)}))

    for model in GRID_MODELS:
        if not planned[model]:
            continue
        watch = MemoryWatch(torch.cuda.memory_allocated, live_models)
        baseline, mark = torch.cuda.memory_allocated(), guard.mark()
        with patched(cell_module, "run_cell", watch.wrap(cell_module.run_cell)):
            job = run_quality(QualityJob(plan=plan, grid=grid, model=model, data=folds,
                                         out=Path(grid.root) / "quality" / f"{model}.json", base=str(bases[model]),
                                         models_dir=models))
        watch.read()
        for i, metrics_file in enumerate(job.cells):
            metrics, checks = cell_checks(Path(metrics_file).parent, guard.since(mark))
            checks["memory"] = memory_returned(baseline, *watch.after(i))
            rows.append(Row("quality", model, f"bs{metrics['batch_size']}_ga{metrics['grad_accum']} fold{metrics['fold']}",
                            checks, **figures(metrics)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=STEPS, help=f"optimizer steps per training-route cell ({STEPS})")
    p.add_argument("--out", default=None, help="a new folder for data, twins and records (default: a temporary one); "
                   "quality cells already recorded there would be kept, not trained and checked")
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO / "src"))  # a checkout without `pip install -e .` runs too
    from sumbench.training.lease import LEASED_ENV, DeviceLease

    lease = DeviceLease.acquire(1)  # before anything touches CUDA: CUDA_VISIBLE_DEVICES names the leased GPU
    if not lease.gpus:
        print("gpu_check: needs a CUDA GPU, and nvidia-smi lists none on this machine", file=sys.stderr)
        return 2
    os.environ[LEASED_ENV] = ",".join(lease.gpus)  # the phases below train on this lease instead of taking another
    import torch

    from sumbench.training.device import cuda_facts, why_no_cuda

    facts = cuda_facts()
    if not facts.available:
        print(f"gpu_check: needs CUDA, which is unavailable here: {why_no_cuda(facts)}", file=sys.stderr)
        return 2
    from sumbench.config.model import load_model
    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus
    from sumbench.environment import device_info
    from sumbench.training import timed
    from sumbench.training.warmstart import warmstart

    started = time.perf_counter()
    root = Path(args.out or tempfile.mkdtemp(prefix="sumbench-gpu-check-")).resolve()
    half = "bfloat16" if torch.cuda.is_bf16_supported(including_emulation=False) else "float16"
    info = device_info()
    print(f"gpu_check: {info['device_name']} ({lease.device}), driver {info['driver']}, torch {torch.__version__} "
          f"(CUDA {info['cuda']}); LoRA base and autocast in {half}; work in {root}", flush=True)
    kernels = ["sdpa"] + (["flash_attention_2"] if importlib.util.find_spec("flash_attn") else [])
    if len(kernels) == 1:
        print("gpu_check: flash-attn is not installed; SDPA only", flush=True)
    write_corpus(root / "src", n=CORPUS, seed=5, dev_n=32)
    folds = root / "folds"
    write_folds(root / "src" / "train.csv", root / "src" / "dev.csv", k=2, seed=0, out_dir=folds)
    models = gpu_models(root, half)
    bases = {twin: warmstart(load_model(twin, models, overrides=["dtype=float32"]), root / "src" / "train.csv",
                             root / "base" / twin, steps=WARMSTART_STEPS) for twin in TWINS}
    guard = SyncGuard(torch.cuda)
    with patched(timed, "timed_training", guard.wrap(timed.timed_training)):
        rows = train_routes(root, models, folds, bases, lease, guard, half, kernels, args.steps)
        rows += mini_grid(root, models, folds, bases, guard)
    print("\n" + render_table(rows))
    print(f"gpu_check: {time.perf_counter() - started:.0f} s on {info['device_name']}")
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
