"""Summary-only logits vs full logits on a full-vocabulary Llama twin, side by side in one run.

    python benchmarks/summary_logits.py [--rounds 3] [--steps 3] [--batch-size 4] [--prompt 480] [--summary 96]

The twin: Llama architecture, Llama 3's 128,256-token vocabulary, hidden 256, 2 layers, tied embeddings, full
fine-tuning in fp32 (every weight gets a gradient, so the gradient norms compare the whole model). The batch:
4 rows of 480 prompt + 96 summary tokens (576 tokens, 16.7 % summary), random token ids, seeded.

Every measurement runs in a fresh subprocess, so one path's peak never hides in the other's allocator: per path one
memory run, with MALLOC_MMAP_THRESHOLD_=65536 (glibc then returns every freed tensor to the OS, so resident memory
follows live tensors; it also page-faults every large allocation, so it is not timed), and ``--rounds`` timing runs
with the default allocator, alternating the paths (full, summary, full, ...) so that load from other processes on a
shared machine hits both alike. All start from the same weights and batch and run the loss the way sumbench's
Trainer does:

- full:    logits = head(hidden states) at every position -> token_mean_loss (shifted, fp32, Σ / summary tokens)
- summary: the forward with the head bypassed -> SummaryTokenLoss (head and fp32 cross-entropy only at the
           positions whose shifted label is a summary token: 96 per row)

Definitions. **Loss-path peak memory**: the peak rise of resident memory (/proc/self/statm, sampled every 1 ms by a
thread) above its level after the transformer body's forward, during head + cross-entropy + backward of one step:
the memory the two paths differ in. **s/step**: wall time of a whole step (forward, loss, backward, zero_grad), the
best of ``--steps`` steps after a warm-up step in every timing round (as timeit takes the best: on a CPU shared with
other jobs, slower repeats measure their load, not this code); the median is printed too. Loss and gradient norm
(global L2 over all parameters) of the first step must agree within 1e-5 relative between the paths, and repeat
exactly across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time

VOCAB = 128_256  # Llama 3
HIDDEN = 256
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20
SAMPLE_S = 0.001
AGREEMENT = 1e-5  # relative tolerance of loss and gradient norm between the paths


class PeakRss:
    """Peak resident memory while inside, sampled by a thread; ``rise`` is above the level at entry."""

    def __enter__(self):
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_BYTES

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(SAMPLE_S)

    @property
    def rise(self) -> int:
        return self.peak - self.start


def worker(path: str, measure: str, args) -> dict:
    """One path in this (fresh) process: the loss path's memory of the first step, or the time of ``args.steps``
    steps after it (``measure``: memory | time)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from sumbench.training.batching import summary_positions
    from sumbench.training.trainer import SummaryTokenLoss, head_bypassed, head_site, token_mean_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = AutoConfig.for_model("llama", vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=4 * HIDDEN,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                  max_position_embeddings=2048, tie_word_embeddings=True)
    model = AutoModelForCausalLM.from_config(config).train()
    site = head_site(model)
    tokens = args.prompt + args.summary
    input_ids = torch.randint(0, VOCAB, (args.batch_size, tokens))
    labels = input_ids.clone()
    labels[:, :args.prompt] = -100  # the prompt: no loss
    count = int(labels[:, 1:].ne(-100).sum())  # the Trainer's num_items_in_batch (shifted)
    full_loss, ours_loss = token_mean_loss(shift=True), SummaryTokenLoss(site.head)
    positions = summary_positions(labels)  # the collator's work, on the CPU

    def step(memory: bool = False):
        with head_bypassed(site):  # the transformer body, the same for both paths
            hidden = model(input_ids=input_ids).logits
        meter = PeakRss() if memory else None
        with meter or contextlib.nullcontext():
            if path == "full":
                loss = full_loss({"logits": site.head(hidden)}, labels, count)
            else:
                with ours_loss.at(positions):
                    loss = ours_loss({"logits": hidden}, labels, count)
            loss.backward()
        with torch.no_grad():
            norm = torch.sqrt(sum(p.grad.float().pow(2).sum() for p in model.parameters() if p.grad is not None))
        model.zero_grad(set_to_none=True)
        return loss.item(), norm.item(), meter.rise if meter else None

    loss, norm, rise = step(memory=measure == "memory")  # the first step: loss, gradient norm (and memory)
    times = []
    for _ in range(args.steps if measure == "time" else 0):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return {"path": path, "loss": loss, "grad_norm": norm, "loss_path_peak_bytes": rise, "step_s": times,
            "summary_positions": count, "tokens": args.batch_size * tokens}


def summarize(memory: dict, timed: list[dict]) -> dict:
    """One path: its memory run, and the best and median s/step over its timing rounds."""
    steps = [t for r in timed for t in r["step_s"]]
    return {**memory, "s_per_step": min(steps), "s_per_step_median": statistics.median(steps),
            "repeatable": len({(r["loss"], r["grad_norm"]) for r in [memory, *timed]}) == 1}


def run_child(path: str, measure: str, argv: list[str]) -> dict:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    if measure == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    proc = subprocess.run([sys.executable, __file__, "--worker", path, "--measure", measure, *argv],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the {path} path ({measure}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="timing runs per path, each a fresh process, alternating")
    p.add_argument("--steps", type=int, default=3, help="timed steps per run, after a warm-up step")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--prompt", type=int, default=480, help="prompt tokens per row (no loss)")
    p.add_argument("--summary", type=int, default=96, help="summary tokens per row")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--worker", choices=("full", "summary"), help=argparse.SUPPRESS)
    p.add_argument("--measure", choices=("memory", "time"), default="time", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.measure, args)))
        return 0
    argv = [f"--steps={args.steps}", f"--batch-size={args.batch_size}", f"--prompt={args.prompt}",
            f"--summary={args.summary}", f"--threads={args.threads}"]
    tokens = args.prompt + args.summary
    print(f"Llama twin: vocabulary {VOCAB:,}, hidden {HIDDEN}, 2 layers, full fine-tuning fp32; batch "
          f"{args.batch_size} x {tokens} tokens ({args.prompt} prompt + {args.summary} summary = "
          f"{args.summary / tokens:.1%} summary); {args.threads} threads; every run a fresh process, "
          f"{args.rounds} timing rounds alternating")
    paths = ("full", "summary")
    memory = {path: run_child(path, "memory", argv) for path in paths}
    timed = {path: [] for path in paths}
    for _ in range(args.rounds):
        for path in paths:
            timed[path].append(run_child(path, "time", argv))
    full, ours = (summarize(memory[path], timed[path]) for path in paths)
    print(f"{'path':<9} {'loss-path peak MiB':>19} {'s/step best':>12} {'(median)':>9} {'loss':>12} {'grad norm':>12}")
    for r in (full, ours):
        print(f"{r['path']:<9} {r['loss_path_peak_bytes'] / MIB:>19.0f} {r['s_per_step']:>12.2f} "
              f"{r['s_per_step_median']:>9.2f} {r['loss']:>12.6f} {r['grad_norm']:>12.6f}")
    memory_ratio = ours["loss_path_peak_bytes"] / full["loss_path_peak_bytes"]
    speed = full["s_per_step"] / ours["s_per_step"]
    loss_rel = abs(ours["loss"] - full["loss"]) / abs(full["loss"])
    norm_rel = abs(ours["grad_norm"] - full["grad_norm"]) / abs(full["grad_norm"])
    print(f"summary / full loss-path peak memory: {memory_ratio:.3f} (1/{1 / memory_ratio:.1f}); "
          f"full / summary s/step: {speed:.2f}x (medians: {full['s_per_step_median'] / ours['s_per_step_median']:.2f}x); relative difference: "
          f"loss {loss_rel:.1e}, gradient norm {norm_rel:.1e}")
    repeatable = full["repeatable"] and ours["repeatable"]
    ok = memory_ratio <= 0.25 and speed >= 3.0 and loss_rel <= AGREEMENT and norm_rel <= AGREEMENT and repeatable
    print("PASS: <= 1/4 the memory, >= 3x faster, same loss and gradient" if ok else
          "FAIL: expected <= 1/4 the memory, >= 3x faster and agreement within 1e-5")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
