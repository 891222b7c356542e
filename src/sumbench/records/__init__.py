"""Typed result records, each serialized with a schema version. The report reads only these.

- :class:`CellRecord` (``metrics.json``): one quality-phase training of a cell — model x augmentation x cap x
  split (batch size x grad accumulation) x fold — with its timing, memory, gradient norms and ROUGE.
- :class:`ModelProfile` (``profile/<model>.json``): the profile phase of one model — a :class:`SplitProfile`
  per bs x ga split (short timed runs), the gradient-accumulation equivalence check, the isolation drift and
  the measured costs the planner predicts the quality phase from.
- the plan's records (``plan.json``, each quality job's record) are in :mod:`sumbench.records.plan`, read and
  checked by the same :func:`from_dict`.

Both kinds of timed run share the fields of :class:`Measured` (one definition of every speed and memory
figure). A record from another schema version, or with a key its class does not have, is an error.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sumbench.errors import SumbenchError
from sumbench.io import atomic_write_json

SCHEMA_VERSION = 2  # 2: samples/s = samples / seconds of the timed steps; profile and plan records
STATUSES = ("ok", "oom", "error")
SPLIT_STATUSES = (*STATUSES, "skipped")  # skipped: pruned after a smaller micro-batch ran out of memory
BYTES_PER_MIB = 1024 ** 2  # records hold bytes; reports show MiB
SECONDS_PER_HOUR = 3600.0


def cap_label(cap: int | None) -> str:
    """A ``max_train_samples`` cap as it appears in paths and tables: ``all`` (no cap) or the number."""
    return "all" if cap is None else str(cap)


def split_label(batch_size: int, grad_accum: int, deepspeed: str = "off") -> str:
    """``bs8_ga2``: a split of an effective batch as paths and fault specs name it; under a DeepSpeed setting, the
    setting after a + (``bs8_ga2+zero2+optimizer``; a user's file by its name without the suffix)."""
    base = f"bs{batch_size}_ga{grad_accum}"
    return base if deepspeed == "off" else f"{base}+{Path(deepspeed).stem}"


@dataclass(kw_only=True)
class Measured:
    """Speed, memory and optimisation figures of one timed training run, and its window.

    Timing is per optimizer step, data loading included, warm-up steps left out. samples/s and tokens/s are
    the samples (tokens) of the timed steps over their seconds, x the world size; ``tokens_counted`` says
    which tokens. Memory: ``peak_memory_bytes`` is what ``memory_kind`` says (CUDA max allocated, or the
    CPU peak resident set during the window). None = not measured / unknown, never 0.
    """

    steps: int | None = None
    warmup_steps: int | None = None
    s_per_step_median: float | None = None
    s_per_step_p10: float | None = None
    s_per_step_p90: float | None = None
    micro_step_s_median: float | None = None
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    tokens_counted: str | None = None
    source_tokens_per_s: float | None = None
    target_tokens_per_s: float | None = None
    loss_tokens_per_s: float | None = None  # tokens the loss is taken on (the summary)
    padded_tokens_per_s: float | None = None
    world_size: int = 1  # processes training data-parallel; memory figures are one rank's
    deepspeed: str = "off"  # the DeepSpeed setting (sumbench.config.deepspeed): off, zero2, zero2+optimizer, a file
    deepspeed_ops_s: dict[str, float] = field(default_factory=dict)  # ops loaded (compiled if needed) before the window
    mfu: float | None = None  # model FLOPs utilisation (GPU with a known peak only)
    flops_formula: str | None = None
    device_peak_flops: float | None = None
    compute_dtype: str | None = None  # the dtype matmuls ran in: what device_peak_flops is the peak of
    # the loss: from summary logits (a causal LM's head only at summary positions) or full logits, and why
    loss_path: str | None = None  # summary | full
    loss_path_reason: str | None = None
    # memory
    memory_kind: str | None = None
    peak_memory_bytes: int | None = None
    memory_note: str | None = None  # what peak_memory_bytes leaves out (a paged optimizer's state), in words
    cpu_peak_rss_bytes: int | None = None
    cpu_rss_rise_bytes: int | None = None
    cuda_max_reserved_bytes: int | None = None
    cuda_device_total_bytes: int | None = None
    cuda_alloc_retries: int | None = None
    host_memory_bytes: int | None = None
    cgroup_memory_limit_bytes: int | None = None
    # optimisation and padding
    grad_norm_first: float | None = None
    grad_norm_median: float | None = None
    grad_norm_max: float | None = None
    grad_norm_spikes: list[int] = field(default_factory=list)
    train_loss_first: float | None = None
    train_loss_last: float | None = None
    padding_efficiency: float | None = None
    source_padding_efficiency: float | None = None
    target_padding_efficiency: float | None = None
    # the timed window (sumbench.training.lease): when and where, and whether it had the device to itself
    device: str | None = None
    window_start: float | None = None  # seconds since the epoch
    window_end: float | None = None
    exclusive: bool | None = None
    lock_wait_s: float | None = None

    def memory_fraction(self) -> float | None:
        """Memory used over what the device holds: CUDA reserved / device total on a GPU (reserved is what the
        allocator took from the device, so it is what runs out), peak RSS / min(host RAM, cgroup limit) on a CPU."""
        if self.cuda_device_total_bytes:
            used = self.cuda_max_reserved_bytes if self.cuda_max_reserved_bytes is not None else self.peak_memory_bytes
            return None if used is None else used / self.cuda_device_total_bytes
        limits = [v for v in (self.host_memory_bytes, self.cgroup_memory_limit_bytes) if v]
        if self.peak_memory_bytes is None or not limits:
            return None
        return self.peak_memory_bytes / min(limits)


@dataclass(kw_only=True)
class CellRecord(Measured):
    """``metrics.json``: one trained and evaluated cell of the quality phase."""

    model: str
    batch_size: int
    grad_accum: int
    fold: int
    status: str = "ok"
    message: str | None = None
    failed_phase: str | None = None  # load | train | eval | generation, where a failed cell stopped
    schema_version: int = SCHEMA_VERSION
    effective_batch: int = 0
    augmentation: str = "none"
    max_train_samples: int | None = None
    max_steps: int | None = None
    kind: str | None = None
    finetune: str | None = None
    train_examples: int | None = None
    split_reason: str | None = None  # why this bs x ga split trained this effective batch (the plan's words)
    time_to_train_s: float | None = None  # wall time of the whole training, warm-up steps included
    time_to_quality_s: float | None = None  # wall time from the cell's start to its final ROUGE
    load_s: float | None = None  # loading the model and tokenizer (a fixed cost of the cell, not training)
    repeats: int = 1
    s_per_step_repeats: list[float] = field(default_factory=list)  # median s/step of each repeat of the timing
    s_per_step_cv: float | None = None  # coefficient of variation over repeats
    trainable_params: int | None = None
    total_params: int | None = None
    source_truncation_rate: float | None = None
    target_truncation_rate: float | None = None
    # evaluation (rouge* = dev set under the primary analyzer, named first in metric_version; heldout_* = the
    # fold's held-out part)
    eval_loss: float | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    rouge_sum: float | None = None
    rouge_by_analyzer: dict[str, dict[str, Any]] = field(default_factory=dict)  # dev ROUGE + metric_version per analyzer
    rouge_aggregation: str | None = None  # over several references: mean or max
    heldout_rouge1: float | None = None
    heldout_rouge2: float | None = None
    heldout_rougeL: float | None = None
    heldout_rouge_sum: float | None = None
    heldout_rouge_by_analyzer: dict[str, dict[str, Any]] = field(default_factory=dict)
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


@dataclass(kw_only=True)
class SplitProfile(Measured):
    """One bs x ga split of the profile phase: a short timed run (warm-up, then a fixed budget of steps)."""

    batch_size: int
    grad_accum: int
    status: str = "ok"  # ok | oom | error | skipped (pruned: a smaller micro-batch ran out of memory)
    message: str | None = None
    effective_batch: int = 0
    remeasured: bool = False  # the isolation check: the first split measured again at the end
    # Seconds of the run beyond its steps at the measured pace (samples / samples_per_s), waits for the device left
    # out: building the Trainer and the first steps' extra cost. Every quality training pays it once.
    setup_s: float | None = None

    def __post_init__(self) -> None:
        self.effective_batch = self.batch_size * self.grad_accum
        if self.status not in SPLIT_STATUSES:
            raise ValueError(f"status must be one of {SPLIT_STATUSES}, got {self.status!r}")

    @property
    def label(self) -> str:
        """``bs8_ga2``, and the DeepSpeed setting after a + when there is one (``bs8_ga2+zero2+optimizer``)."""
        return split_label(self.batch_size, self.grad_accum, self.deepspeed)


@dataclass(kw_only=True)
class DeepSpeedCheck:
    """DeepSpeed equivalence: the first optimizer step under a setting and without DeepSpeed, same examples, dropout
    off; pass = loss and pre-clip gradient norm agree within ``tolerance`` (relative). A fail is a finding."""

    setting: str
    status: str  # pass | fail | error
    batch_size: int | None = None
    loss: float | None = None
    grad_norm: float | None = None
    reference_loss: float | None = None  # without DeepSpeed
    reference_grad_norm: float | None = None
    tolerance: float | None = None
    detail: str = ""


@dataclass(kw_only=True)
class GaCheck:
    """Gradient-accumulation equivalence: one optimizer step of several bs x ga splits of one effective batch on
    the same examples, dropout off; pass = pre-clip gradient norms agree within ``tolerance``."""

    status: str  # pass | fail | error
    effective_batch: int | None = None
    grad_norms: dict[str, float] = field(default_factory=dict)  # split label -> norm
    tolerance: float | None = None
    detail: str = ""


@dataclass(kw_only=True)
class Costs:
    """Seconds the planner predicts a quality job from, measured in the profile job (None = not measured)."""

    startup_s: float | None = None  # process start to ready: imports (and CUDA context)
    load_s: float | None = None  # model and tokenizer from disk to the device
    featurize_s_per_example: float | None = None
    eval_s_per_example: float | None = None  # the eval-loss pass
    generate_s_per_example: float | None = None  # beam search, the model's generation settings
    score_s_per_example: float | None = None  # ROUGE of one prediction
    analyser_load_s: float | None = None  # the Korean analyzers ROUGE needs, loaded once per job
    train_setup_s: float | None = None  # per training: the median of the ok splits' setup_s
    error: str | None = None  # the costs pass failed: its cause (the figures it did not reach are None)


@dataclass(kw_only=True)
class ModelProfile:
    """``profile/<model>.json``: the profile phase of one model."""

    model: str
    schema_version: int = SCHEMA_VERSION
    kind: str | None = None
    finetune: str | None = None
    warmup_steps: int = 0
    timed_steps: int | None = None  # the timed budget, the same for every split: steps ...
    timed_samples: int | None = None  # ... or samples (then steps = ceil(samples / effective batch))
    splits: list[SplitProfile] = field(default_factory=list)
    ga_check: GaCheck | None = None
    deepspeed_checks: list[DeepSpeedCheck] = field(default_factory=list)  # one per DeepSpeed setting profiled
    drift: float | None = None  # s/step of the first split measured again at the end / first measurement - 1
    drift_split: str | None = None
    costs: Costs = field(default_factory=Costs)
    total_params: int | None = None
    wall_s: float | None = None  # the profile job, process start to record
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def failed(self) -> str | None:
        """Why no split of the profile ran (every one failed; each cause once), or None when one did: such a
        model gets no quality cells."""
        splits = [s for s in self.splits if not s.remeasured]
        if not splits or any(s.status == "ok" for s in splits):
            return None
        causes = dict.fromkeys(f"{s.status}: {s.message or 'no message'}" for s in splits if s.status != "skipped")
        return "every profiled split failed (" + "; ".join(causes) + ")"

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, dataclasses.asdict(self))


FIELDS = {f.name for f in dataclasses.fields(CellRecord)}
T = TypeVar("T")


@functools.cache
def _nested(cls: type) -> dict[str, type]:
    """Field name -> the record type it holds (alone, in a list, or optional), from ``cls``'s annotations."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        found = [t for t in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(t)]
        if found:
            out[name] = found[0]
    return out


def load_json(path: str | Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SumbenchError(f"{path}: not a readable {what} ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        got = data.get("schema_version") if isinstance(data, dict) else None
        raise SumbenchError(f"{path}: schema_version {got!r}, expected {SCHEMA_VERSION}")
    return data


def from_dict(cls: type[T], data: dict, path: str | Path) -> T:
    """A record dataclass from its JSON dict, nested records included; an unknown key names the file."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SumbenchError(f"{path}: unknown key {unknown[0]!r} in a {cls.__name__} record")
    kwargs = {}
    for key, value in data.items():
        if key == "effective_batch" and cls in (CellRecord, SplitProfile):
            continue  # derived in __post_init__
        sub = _nested(cls).get(key)
        if sub is not None and isinstance(value, list):
            value = [from_dict(sub, v, path) for v in value]
        elif sub is not None and isinstance(value, dict):
            value = from_dict(sub, value, path)
        elif key == "dropped_effective_batches" and isinstance(value, dict):
            value = {int(k): v for k, v in value.items()}  # JSON object keys are strings
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SumbenchError(f"{path}: not a valid {cls.__name__} record ({exc})") from None


def read_record(path: str | Path) -> CellRecord:
    """Load a metrics.json."""
    return from_dict(CellRecord, load_json(path, "metrics.json"), path)


def read_profile(path: str | Path) -> ModelProfile:
    return from_dict(ModelProfile, load_json(path, "profile record"), path)
