"""Padding benchmark: the same tiny-bart cell three ways, side by side in one process.

    python benchmarks/padding.py [--steps 30] [--rounds 3] [--batch-size 16]

1. pad-to-max  every batch padded to the length budget (the baseline)
2. dynamic     each batch padded to its longest example, random order
3. sumbench    dynamic padding + length grouping by effective batch (the default)

Rounds are interleaved (1,2,3,1,2,3,...) so that machine noise hits all three alike; each number is the
median over rounds of the cell's samples/s (effective batch / median s per optimizer step, warm-up dropped).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from sumbench.config.model import DataLoaderSpec, load_model
from sumbench.data.synth import synthesize
from sumbench.training.features import Featurizer
from sumbench.training.measure import StepSummary, TrainMeasurement
from sumbench.training.models import build_tiny
from sumbench.training.tokenizer import cached_tokenizer
from sumbench.training.trainer import make_trainer

MODES = {
    "pad-to-max": DataLoaderSpec(group_by_length=False, pad_to_max_length=True),
    "dynamic": DataLoaderSpec(group_by_length=False, pad_to_max_length=False),
    "sumbench": DataLoaderSpec(),  # the default: dynamic + length grouping
}
WARMUP_STEPS = 3


def run_mode(spec, tokenizer, features, mode: str, steps: int, batch_size: int, workdir: Path) -> StepSummary:
    torch.manual_seed(0)
    model = build_tiny(spec, tokenizer)
    m = TrainMeasurement()
    trainer = make_trainer(model, tokenizer, dataclasses.replace(spec, dataloader=MODES[mode]), features,
                           batch_size=batch_size, grad_accum=1, max_steps=steps, out=workdir / mode, measurement=m)
    trainer.train()
    return m.summary(WARMUP_STEPS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    spec = load_model("tiny-bart")
    corpus = synthesize(args.steps * args.batch_size, seed=7)
    tokenizer = cached_tokenizer([e.dialogue + "\n" + e.summary for e in corpus], spec.tiny.vocab_size)
    feat = Featurizer(tokenizer, spec.kind, spec.lengths.source, spec.lengths.target, spec.prompt)
    features = [feat.train_example(e.dialogue, e.summary) for e in corpus]

    results: dict[str, list[StepSummary]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for mode in MODES:
                results[mode].append(run_mode(spec, tokenizer, features, mode, args.steps, args.batch_size, Path(tmp)))

    def med(mode: str, key: str) -> float:
        return statistics.median(getattr(r, key) for r in results[mode])

    base, dyn = med("pad-to-max", "samples_per_s"), med("dynamic", "samples_per_s")
    print(f"tiny-bart, batch {args.batch_size}, {args.steps} steps x {args.rounds} interleaved rounds, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"{'mode':<12} {'samples/s':>10} {'real tok/s':>11} {'padding eff.':>13} {'vs pad-to-max':>14} {'vs dynamic':>11}")
    for mode in MODES:
        sps = med(mode, "samples_per_s")
        print(f"{mode:<12} {sps:>10.1f} {med(mode, 'tokens_per_s'):>11,.0f} {med(mode, 'padding_efficiency'):>13.3f} "
              f"{sps / base:>13.2f}x {sps / dyn:>10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
