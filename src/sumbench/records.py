"""Typed result records. ``metrics.json`` is a :class:`CellRecord` serialized with a schema version.

The report reads only these records, never the training code's internals.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sumbench.errors import SumbenchError
from sumbench.io import atomic_write_json

SCHEMA_VERSION = 1
STATUSES = ("ok", "oom", "error")
BYTES_PER_MIB = 1024 ** 2  # records hold bytes; reports show MiB


def cap_label(cap: int | None) -> str:
    """A ``max_train_samples`` cap as it appears in paths and tables: ``all`` (no cap) or the number."""
    return "all" if cap is None else str(cap)


@dataclass
class CellRecord:
    # identity of the cell
    model: str
    batch_size: int
    grad_accum: int
    fold: int
    status: str = "ok"
    message: str | None = None
    schema_version: int = SCHEMA_VERSION
    effective_batch: int = 0
    augmentation: str = "none"
    max_train_samples: int | None = None
    max_steps: int | None = None
    kind: str | None = None
    finetune: str | None = None
    train_examples: int | None = None
    # timing and throughput (measure.py)
    steps: int | None = None
    warmup_steps: int | None = None
    s_per_step_median: float | None = None
    s_per_step_p10: float | None = None
    s_per_step_p90: float | None = None
    micro_step_s_median: float | None = None
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    padded_tokens_per_s: float | None = None
    train_s: float | None = None
    repeats: int = 1
    s_per_step_repeats: list[float] = field(default_factory=list)  # median s/step of each repeat of the timing phase
    s_per_step_cv: float | None = None  # coefficient of variation over repeats
    mfu: float | None = None  # model FLOPs utilisation (GPU with a known peak only)
    flops_formula: str | None = None
    device_peak_flops: float | None = None
    # memory
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None
    cpu_peak_rss_bytes: int | None = None
    cpu_rss_rise_bytes: int | None = None
    cuda_max_reserved_bytes: int | None = None
    cuda_device_total_bytes: int | None = None
    cuda_alloc_retries: int | None = None
    # optimisation
    trainable_params: int | None = None
    total_params: int | None = None
    grad_norm_first: float | None = None
    grad_norm_median: float | None = None
    grad_norm_max: float | None = None
    grad_norm_spikes: list[int] = field(default_factory=list)
    train_loss_first: float | None = None
    train_loss_last: float | None = None
    # data
    padding_efficiency: float | None = None
    source_padding_efficiency: float | None = None
    target_padding_efficiency: float | None = None
    source_truncation_rate: float | None = None
    target_truncation_rate: float | None = None
    # evaluation (rouge* = dev set; heldout_* = the fold's held-out part)
    eval_loss: float | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    rouge_sum: float | None = None
    heldout_rouge1: float | None = None
    heldout_rouge2: float | None = None
    heldout_rougeL: float | None = None
    heldout_rouge_sum: float | None = None
    eval_examples: int | None = None
    heldout_examples: int | None = None
    generation_s: float | None = None
    generated_tokens_per_s: float | None = None
    metric_version: str | None = None
    # provenance
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    # training data: originals = after the max_train_samples cap, before augmentation (sumbench.data.augment);
    # data_stats = token lengths, topics, copies per method (sumbench.data.stats.data_statistics)
    original_train_examples: int | None = None
    augmented_examples: int | None = None
    data_stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.effective_batch = self.batch_size * self.grad_accum
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())


FIELDS = {f.name for f in dataclasses.fields(CellRecord)}


def read_record(path: str | Path) -> CellRecord:
    """Load a metrics.json; a record from another schema version or with unknown keys is an error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SumbenchError(f"{path}: not a readable metrics.json ({exc})") from None
    if data.get("schema_version") != SCHEMA_VERSION:
        raise SumbenchError(f"{path}: schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise SumbenchError(f"{path}: unknown key {unknown[0]!r} in metrics.json")
    data.pop("effective_batch", None)
    return CellRecord(**data)
