"""The warm start of a tiny twin: pre-train it once, so the grid fine-tunes a model that already summarizes.

    sumbench warmstart --model tiny-bart --train results/quick_test/data/source/train.csv --out results/quick_test/base/tiny-bart

The corpus is synthetic (seed ``WARMSTART_SEED``, disjoint from the grid's data); the tokenizer is trained on
that corpus plus the grid's training text. The result is a ``save_pretrained`` directory that the grid loads
through the same path as a hub model.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from sumbench.config.model import ModelSpec
from sumbench.errors import ConfigError
from sumbench.io import atomic_write_json

WARMSTART_SEED = 1_000_003  # synthetic warm-start corpus; disjoint stream from the grid's data seeds


def warmstart(spec: ModelSpec, train_csv: Path, out: Path, *, steps: int | None = None,
              threads: int | None = None) -> Path:
    """Build, train ``steps`` (default ``tiny.warmstart_steps``) and save the tiny twin of ``spec`` at ``out``.

    The directory appears whole or not at all: it is written beside ``out`` and renamed into place, with a
    ``warmstart.json`` of the steps, corpus and first/last loss.
    """
    from transformers import set_seed

    from sumbench.data.corpus import load_csv
    from sumbench.data.synth import synthesize
    from sumbench.training.features import Featurizer
    from sumbench.training.models import build_tiny
    from sumbench.training.tokenizer import cached_tokenizer
    from sumbench.training.trainer import make_trainer, set_threads

    if spec.tiny is None:
        raise ConfigError(f"{spec.source_file}: model {spec.name!r} has no `tiny:` section; only tiny twins are "
                          f"warm-started")
    set_threads(threads)
    import transformers.trainer  # noqa: F401  imports are start-up cost: measured apart from the work below

    from sumbench.training.measure import process_age_s

    startup_s = process_age_s()
    tiny = spec.tiny
    corpus = synthesize(tiny.warmstart_corpus_size, seed=WARMSTART_SEED)
    grid_train = load_csv(train_csv)
    tokenizer = cached_tokenizer([e.dialogue + "\n" + e.summary for e in corpus + grid_train], tiny.vocab_size)
    set_seed(spec.training.seed)  # the random init too, so a warm start (and every cell after it) is reproducible
    model = build_tiny(spec, tokenizer)
    feat = Featurizer.for_spec(tokenizer, spec)
    features = [feat.train_example(e.dialogue, e.summary) for e in corpus]
    n_steps = steps if steps is not None else tiny.warmstart_steps
    started = time.perf_counter()
    if n_steps:
        trainer = make_trainer(model, tokenizer, spec, features, batch_size=tiny.warmstart_batch_size, grad_accum=1,
                               max_steps=n_steps, out=out.with_name(out.name + ".work"),
                               learning_rate=tiny.warmstart_learning_rate)
        trainer.train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    else:
        losses = []
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / "warmstart.json", {
        "model": spec.name, "steps": n_steps, "corpus_rows": len(corpus), "corpus_seed": WARMSTART_SEED,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "seconds": time.perf_counter() - started, "vocab_size": len(tokenizer),
        "startup_s": startup_s, "wall_s": process_age_s()})  # the job's fixed start-up cost, and its wall time
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    shutil.rmtree(out.with_name(out.name + ".work"), ignore_errors=True)
    return out
