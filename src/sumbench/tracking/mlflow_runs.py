"""A grid's finished records as MLflow runs: one per quality cell, one per profiled bs x ga split.

    sumbench track --grid quick_test --profiles results/quick_test/profile/*.json \\
        --quality results/quick_test/quality/*/job*.json --out /tmp/mlflow-receipt.json
    mlflow ui --backend-store-uri sqlite:///results/mlflow.db      # then open http://127.0.0.1:5000

Experiment = the grid. A cell's run is named ``model/aug/cap/bsB/gaG/foldK`` (a split's ``model/profile/bsB/gaG``)
and carries: params = the model YAML after overrides (``model.*``) and the cell's own settings (``cell.*``); metrics =
every figure of the record (ROUGE, samples/s, tokens/s, s/step, peak memory, grad norms, MFU where known, times);
the per-step series of ``train_log.jsonl`` under ``step/`` (loss, grad_norm, lr, step_time_s, eval_loss where the
learning curve took one), each at its optimizer step; tags = status and environment (device, versions, git SHA);
artifacts = ``metrics.json``, ``train_log.jsonl``, ``predictions.jsonl`` (a split: its profile record).

Runs are made from records after the fact, never while a cell trains, so a failed or resumed job cannot leave half a
run. Logging is idempotent: a run's ``sumbench.identity`` tag is a hash of what it is (grid, phase, model, aug, cap,
bs, ga, fold) and ``sumbench.content``, set last, a hash of everything it carries. A record whose complete run is
there is kept; a run of the same identity with other content (the record changed), or without ``sumbench.content``
(a logging that was interrupted), is deleted and the record logged again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sumbench.errors import SumbenchError
from sumbench.io import atomic_write_json, read_jsonl
from sumbench.records import CellRecord, ModelProfile, cap_label, read_profile, read_record, split_label
from sumbench.records.plan import read_quality_job
from sumbench.tracking import TrackingSettings

LOGGER_VERSION = 1  # part of every run's content hash: a change in what is logged replaces the runs
IDENTITY_TAG, CONTENT_TAG = "sumbench.identity", "sumbench.content"
CELL_ARTIFACTS = ("metrics.json", "train_log.jsonl", "predictions.jsonl")
STEP_SERIES = ("loss", "grad_norm", "lr", "step_time_s", "eval_loss")  # train_log.jsonl keys logged per step
# Numeric record fields that say what the run is, not what it measured: params (through the settings), not metrics.
NOT_METRICS = {"batch_size", "grad_accum", "fold", "effective_batch", "max_train_samples", "max_steps",
               "schema_version", "repeats", "world_size", "warmup_steps", "window_start", "window_end"}
RUN_STATUS = {"ok": "FINISHED", "oom": "FAILED", "error": "FAILED", "skipped": "KILLED"}  # skipped: never ran
MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value (characters)
MAX_TAG_VALUE = 8000
PARAMS_PER_BATCH, TAGS_PER_BATCH, METRICS_PER_BATCH = 100, 100, 1000  # MLflow's log_batch limits
MS_PER_S = 1000


@dataclass(frozen=True)
class RunSpec:
    """One MLflow run as it will be logged: what it is and everything it carries."""

    name: str
    identity: str  # hash of what the run is
    params: dict[str, str]
    metrics: dict[str, float]
    series: dict[str, list[tuple[int, float]]]  # key -> (optimizer step, value)
    tags: dict[str, str]
    artifacts: tuple[Path, ...]
    status: str  # MLflow run status
    start_ms: int | None = None  # the timed window, when the record knows it
    end_ms: int | None = None

    @property
    def content(self) -> str:
        """Hash of everything the run carries, artifact bytes included, and of this logger's version."""
        h = hashlib.sha256(json.dumps([LOGGER_VERSION, self.name, self.identity, self.params, self.metrics,
                                       self.series, self.tags, self.status, self.start_ms, self.end_ms],
                                      sort_keys=True, default=str).encode())
        for path in self.artifacts:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        return h.hexdigest()[:24]


@dataclass
class Receipt:
    """What one logging pass did: ``results/<grid>/mlflow/<model>.json`` (the workflow logs each model's records)."""

    uri: str
    experiment: str
    experiment_id: str
    runs: dict[str, str] = dataclasses.field(default_factory=dict)  # run name -> run id
    kept: int = 0
    added: int = 0
    replaced: int = 0

    def summary(self) -> str:
        return (f"sumbench track: experiment {self.experiment} in {self.uri}: {len(self.runs)} runs, {self.added} added, "
                f"{self.replaced} replaced, {self.kept} kept")


# ------------------------------------------------------------------------------------ records -> RunSpecs
def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _key(name: str) -> str:
    """A param, metric or tag key MLflow accepts (letters, digits, _ - . space /)."""
    return re.sub(r"[^\w\-. /]", "_", name)[:250]


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """Nested settings as ``prefix.key.subkey`` -> text; lists stay whole (one param, as JSON)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}", v))
        return out
    return {_key(prefix): _text(value, MAX_PARAM_VALUE)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def record_metrics(record: Any) -> dict[str, float]:
    """Every numeric figure of a CellRecord or SplitProfile, under its field name; ROUGE per analyzer as
    ``rouge_sum.kiwi`` etc. None (not measured) is left out, never logged as 0."""
    out = {}
    for f in dataclasses.fields(record):
        value = _number(getattr(record, f.name))
        if value is not None and f.name not in NOT_METRICS:
            out[f.name] = value
    for analyzer, scores in (getattr(record, "rouge_by_analyzer", None) or {}).items():
        for name, value in scores.items():
            if _number(value) is not None:
                out[_key(f"{name}.{analyzer}")] = float(value)
    return out


def environment_tags(env: dict[str, Any]) -> dict[str, str]:
    """``env.device``, ``env.git_sha``, ... and ``version.<package>``; the git SHA also where MLflow's UI shows it."""
    tags = {_key(f"env.{k}"): _text(v, MAX_TAG_VALUE) for k, v in env.items()
            if k != "packages" and v is not None and not isinstance(v, (dict, list))}
    tags.update({_key(f"version.{k}"): str(v) for k, v in (env.get("packages") or {}).items() if v})
    if env.get("git_sha"):
        tags["mlflow.source.git.commit"] = str(env["git_sha"])
    return tags


def step_series(log: Path) -> dict[str, list[tuple[int, float]]]:
    """Per-step series of a ``train_log.jsonl``: each STEP_SERIES key at the rows that hold it."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in read_jsonl(log) if log.exists() else []:
        for name in STEP_SERIES:
            value = _number(row.get(name))
            if value is not None:
                series.setdefault(f"step/{name}", []).append((int(row["step"]), value))
    return series


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None or not math.isfinite(seconds) else int(seconds * MS_PER_S)


def cell_run(grid: str, path: Path) -> RunSpec:
    """The run of one quality cell, from its ``metrics.json`` and the files beside it."""
    r: CellRecord = read_record(path)
    cap = cap_label(r.max_train_samples)
    name = f"{r.model}/{r.augmentation}/{cap}/bs{r.batch_size}/ga{r.grad_accum}/fold{r.fold}"
    params = {"grid": grid, **flatten("model", r.settings.get("model", {})), **flatten("cell", r.settings.get("cell", {}))}
    tags = {"sumbench.grid": grid, "sumbench.phase": "quality", "model": r.model, "augmentation": r.augmentation,
            "cap": cap, "split": split_label(r.batch_size, r.grad_accum), "fold": str(r.fold), "status": r.status,
            **{k: _text(getattr(r, k), MAX_TAG_VALUE) for k in ("kind", "finetune", "memory_kind", "device",
                                                                 "failed_phase", "message", "metric_version")
               if getattr(r, k) is not None},
            **environment_tags(r.environment)}
    note = r.message or r.split_reason
    if note:
        tags["mlflow.note.content"] = _text(note, MAX_TAG_VALUE)
    return RunSpec(name=name, identity=_hash(grid, "quality", r.model, r.augmentation, cap, r.batch_size,
                                             r.grad_accum, r.fold),
                   params=params, metrics=record_metrics(r), series=step_series(path.with_name("train_log.jsonl")),
                   tags=tags, artifacts=tuple(p for p in (path.with_name(n) for n in CELL_ARTIFACTS) if p.exists()),
                   status=RUN_STATUS[r.status], start_ms=_ms(r.window_start), end_ms=_ms(r.window_end))


def split_runs(grid: str, path: Path) -> list[RunSpec]:
    """The runs of one model's profile: each bs x ga split, and the first one measured again (``.../again``)."""
    p: ModelProfile = read_profile(path)
    base = {"grid": grid, **flatten("model", p.settings.get("model", {})),
            **flatten("profile", p.settings.get("profile", {}))}
    env_tags = environment_tags(p.environment)
    runs = []
    for s in p.splits:
        name = f"{p.model}/profile/bs{s.batch_size}/ga{s.grad_accum}" + ("/again" if s.remeasured else "")
        params = {**base, "split.batch_size": str(s.batch_size), "split.grad_accum": str(s.grad_accum),
                  "split.effective_batch": str(s.effective_batch), "split.remeasured": str(s.remeasured)}
        tags = {"sumbench.grid": grid, "sumbench.phase": "profile", "model": p.model, "split": s.label,
                "status": s.status, **({"message": _text(s.message, MAX_TAG_VALUE)} if s.message else {}),
                **({"kind": p.kind} if p.kind else {}), **({"finetune": p.finetune} if p.finetune else {}),
                **({"ga_check": p.ga_check.status} if p.ga_check else {}),
                **({"memory_kind": s.memory_kind} if s.memory_kind else {}), **env_tags}
        runs.append(RunSpec(name=name, identity=_hash(grid, "profile", p.model, s.batch_size, s.grad_accum,
                                                      s.remeasured),
                            params=params, metrics=record_metrics(s), series={}, tags=tags, artifacts=(path,),
                            status=RUN_STATUS[s.status], start_ms=_ms(s.window_start), end_ms=_ms(s.window_end)))
    return runs


def grid_runs(grid: str, profiles: list[Path], quality: list[Path]) -> list[RunSpec]:
    """Every run of a grid: the profiled splits, then the cells the quality job records list."""
    runs = [run for p in profiles for run in split_runs(grid, Path(p))]
    runs += [cell_run(grid, Path(c)) for q in quality for c in read_quality_job(q).cells]
    names = [r.name for r in runs]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise SumbenchError(f"two records of grid {grid} are the same run {duplicate!r}")
    return runs


# ------------------------------------------------------------------------------------ RunSpecs -> MLflow
def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _experiment(client, name: str, artifact_root: str | None) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = str(Path(artifact_root, name).resolve()) if artifact_root else None
        return client.create_experiment(name, artifact_location=location, tags={"sumbench.grid": name})
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def _existing(client, experiment_id: str) -> dict[str, list]:
    """Active runs of the experiment that sumbench made, by identity."""
    from mlflow.entities import ViewType

    found: dict[str, list] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000,
                                  page_token=token)
        for run in page:
            identity = run.data.tags.get(IDENTITY_TAG)
            if identity:
                found.setdefault(identity, []).append(run)
        token = page.token
        if not token:
            return found


def log_run(client, experiment_id: str, spec: RunSpec, content: str) -> str:
    """Create and fill one run; the content tag and the terminal status come last. A failure part-way deletes
    the half-made run before it raises."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(experiment_id, run_name=spec.name, start_time=spec.start_ms,
                            tags={**spec.tags, IDENTITY_TAG: spec.identity})
    run_id = run.info.run_id
    try:
        stamp = spec.start_ms or 0
        metrics = [Metric(k, v, stamp, 0) for k, v in spec.metrics.items()]
        metrics += [Metric(k, v, stamp, step) for k, points in spec.series.items() for step, v in points]
        for chunk in _chunks([Param(k, v) for k, v in spec.params.items()], PARAMS_PER_BATCH):
            client.log_batch(run_id, params=chunk)
        for chunk in _chunks(metrics, METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=chunk)
        for path in spec.artifacts:
            client.log_artifact(run_id, str(path))
        client.log_batch(run_id, tags=[RunTag(CONTENT_TAG, content)])
        client.set_terminated(run_id, status=spec.status, end_time=spec.end_ms)
    except BaseException:
        client.delete_run(run_id)
        raise
    return run_id


def sync_runs(client, experiment_id: str, specs: list[RunSpec], echo=print) -> Receipt:
    """Make the experiment hold exactly one complete run per spec: keep, replace or add."""
    receipt = Receipt(uri="", experiment="", experiment_id=experiment_id)
    existing = _existing(client, experiment_id)
    for spec in specs:
        content = spec.content
        runs = existing.get(spec.identity, [])
        keep = next((r for r in runs if r.data.tags.get(CONTENT_TAG) == content), None)
        for stale in (r for r in runs if r is not keep):
            client.delete_run(stale.info.run_id)  # another version of the record, or an interrupted logging
        if keep is not None:
            receipt.kept += 1
            run_id, what = keep.info.run_id, "kept"
        else:
            run_id = log_run(client, experiment_id, spec, content)
            receipt.replaced += bool(runs)
            receipt.added += not runs
            what = "replaced" if runs else "added"
        receipt.runs[spec.name] = run_id
        echo(f"sumbench track: {what} {spec.name} ({run_id})", flush=True)
    return receipt


@contextlib.contextmanager
def _store_lock(uri: str):
    """Grids logging at once into one SQLite file take turns (SQLite allows one writer; creating the tables twice
    at once fails). Other stores need no lock here."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri[len("sqlite:///"):])
    db.parent.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    with open(db.with_name(db.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def track_grid(grid: str, profiles: list[Path], quality: list[Path], settings: TrackingSettings,
               echo=print) -> Receipt:
    """Log a grid's records (profile records, quality job records and the cells they list) to MLflow."""
    specs = grid_runs(grid, profiles, quality)  # every record read before MLflow is touched
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # a benchmark's local store has no reason to phone home
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise SumbenchError("MLflow is not installed: pip install -e '.[tracking]' (or tracking: {mlflow: false} in "
                            "the workflow config)") from None
    with _store_lock(settings.uri):
        client = MlflowClient(tracking_uri=settings.uri)
        experiment_id = _experiment(client, grid, settings.artifact_root)
        receipt = sync_runs(client, experiment_id, specs, echo=echo)
    receipt.uri, receipt.experiment = settings.uri, grid
    return receipt


@contextlib.contextmanager
def _mlflow_logs_to(stream):
    """MLflow's own log lines (its logger writes to stderr) go to ``stream`` instead, for as long as this lasts."""
    import importlib
    import logging

    try:
        importlib.import_module("mlflow")  # configures the "mlflow" logger: replace its handlers after that
    except ImportError:
        yield  # track_grid says how to install it
        return
    logger = logging.getLogger("mlflow")
    saved = logger.handlers[:]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(saved[0].formatter if saved else None)
    logger.handlers = [handler]
    try:
        yield
    finally:
        logger.handlers = saved


def log_grid(grid: str, profiles, quality, settings: TrackingSettings, receipt: str | Path, log: str | Path) -> Receipt:
    """The workflow's ``mlflow`` rule (in Snakemake's own process): :func:`track_grid` writing its lines, and MLflow's
    own, to ``log``, then what it did to ``receipt`` (JSON)."""
    with open(log, "w", encoding="utf-8") as fh, _mlflow_logs_to(fh):
        done = track_grid(grid, [Path(p) for p in profiles], [Path(q) for q in quality], settings,
                          echo=lambda line, flush=True: print(line, file=fh, flush=flush))
        print(done.summary(), file=fh)
    atomic_write_json(receipt, dataclasses.asdict(done))
    return done
