"""One rank of the data-parallel test (tests/test_distributed.py), started by torchrun or alone.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/workers/ddp_rank.py BASE CSV BS OUT

Trains tiny-llama 3 optimizer steps through sumbench's Trainer (make_trainer + timed_training) and writes, per rank,
which examples each micro-batch held (by index), each step's loss, gradient norm, samples and tokens (every rank's,
as the records count them), samples/s and peak memory.
"""

import json
import os
import sys
from pathlib import Path

from sumbench.config.deepspeed import parse_setting
from sumbench.config.model import load_model
from sumbench.data.corpus import load_csv
from sumbench.training.features import Featurizer
from sumbench.training.lease import DeviceLease
from sumbench.training.models import load_for_training
from sumbench.training.timed import hardware_of, new_measurement, timed_training
from sumbench.training.trainer import make_trainer

base, csv, batch_size, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
deepspeed = parse_setting(sys.argv[5] if len(sys.argv) > 5 else "off", "argv")
spec = load_model("tiny-llama", overrides=[f"pretrained={base}"])
model, tokenizer = load_for_training(spec)
feat = Featurizer.for_spec(tokenizer, spec)
features = [feat.train_example(e.dialogue, e.summary) for e in load_csv(Path(csv))[:32]]
index = {tuple(f["input_ids"]): i for i, f in enumerate(features)}
seen: list[list[int]] = []
measurement = new_measurement()
trainer = make_trainer(model, tokenizer, spec, features, batch_size=batch_size, grad_accum=1, max_steps=3, out=out,
                       measurement=measurement, deepspeed=deepspeed)
collate = trainer.data_collator


def recording(batch):
    seen.append(sorted(index[tuple(f["input_ids"])] for f in batch))
    return collate(batch)


trainer.data_collator = recording
run = timed_training(trainer, measurement, DeviceLease.acquire(0), 0, hardware_of(model, spec))
rank = int(os.environ.get("RANK", "0"))
(out / f"rank{rank}.json").write_text(json.dumps({
    "world_size": run.summary.world_size, "seen": seen, "samples_per_s": run.summary.samples_per_s,
    "peak_memory_bytes": run.summary.memory.peak_memory_bytes, "deepspeed": run.deepspeed,
    "steps": [{k: getattr(r, k) for k in ("loss", "grad_norm", "samples", "tokens", "step_time_s")}
              for r in run.rows]}))
