"""Where the planner's throughputs (samples/s per bs x ga split) come from, best first:

1. the model's profile record (measured here, on this device);
2. a throughput YAML the user writes from earlier runs (``sumbench plan --throughput FILE``)::

       # samples/s = training samples / seconds of training, per split (bs<B>_ga<G>), e.g. from a Trainer log
       kobart: {bs8_ga2: 99.4, bs16_ga2: 165.1}
       llama-3.2-korean-3b: {bs8_ga2: 4.85}

   a split the file does not list takes the nearest listed split of the same model (by effective batch, then
   micro-batch), marked as assumed;
3. for a model with neither, the known model of the same kind nearest in size, scaled by the ratio of their
   ``parameters`` (model YAML): samples/s x N_known / N_model. An assumption, stated as one.

Otherwise the model's throughput is unknown and its hours are left out of every total (and said so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sumbench.errors import ConfigError
from sumbench.records import ModelProfile, split_label

SPLIT_RE = re.compile(r"^bs(\d+)_ga(\d+)$")


@dataclass(frozen=True)
class Rates:
    """samples/s per split label of one model (a profiled DeepSpeed setting's splits under their own labels, e.g.
    ``bs8_ga2+zero2``), and where they come from."""

    source: str  # profile | throughput file | scaled from <model> ... | unknown
    samples_per_s: dict[str, float] = field(default_factory=dict)
    assumed: dict[str, str] = field(default_factory=dict)  # split label -> the split its figure was taken from

    def of(self, batch_size: int, grad_accum: int, deepspeed: str = "off") -> float | None:
        return self.samples_per_s.get(split_label(batch_size, grad_accum, deepspeed))


def read_throughput_file(path: str | Path, known_models: set[str]) -> dict[str, dict[str, float]]:
    """``{model: {split label: samples/s}}`` from a throughput YAML; a bad entry is one line naming it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the throughput file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of model -> {{bs<B>_ga<G>: samples/s}}")
    out: dict[str, dict[str, float]] = {}
    for model, splits in data.items():
        if model not in known_models:
            raise ConfigError(f"{path}: unknown model {model!r} (known: {', '.join(sorted(known_models))})")
        if not isinstance(splits, dict) or not splits:
            raise ConfigError(f"{path}: key {model!r} must map splits (bs8_ga2) to samples/s")
        for label, value in splits.items():
            if not SPLIT_RE.match(str(label)):
                raise ConfigError(f"{path}: key '{model}.{label}' is not a split like bs8_ga2")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{path}: key '{model}.{label}' must be a positive samples/s, got {value!r}")
        out[model] = {str(k): float(v) for k, v in splits.items()}
    return out


def _parse(label: str) -> tuple[int, int]:
    b, g = SPLIT_RE.match(label).groups()
    return int(b), int(g)


def fill_splits(known: dict[str, float], splits: list[tuple[int, int]]) -> tuple[dict[str, float], dict[str, str]]:
    """Every split of the grid, a known figure or the nearest known split's (by effective batch, then micro-batch)."""
    rates, assumed = {}, {}
    for b, g in splits:
        label = split_label(b, g)
        if label in known:
            rates[label] = known[label]
            continue
        nearest = min(known, key=lambda k: (abs(_parse(k)[0] * _parse(k)[1] - b * g), abs(_parse(k)[0] - b)))
        rates[label], assumed[label] = known[nearest], nearest
    return rates, assumed


def profile_rates(profile: ModelProfile) -> Rates:
    """Measured samples/s of the profile's splits that ran (the first measurement of each; not the re-measure)."""
    rates = {s.label: s.samples_per_s for s in profile.splits
             if s.status == "ok" and not s.remeasured and s.samples_per_s}
    return Rates("profile", rates)


def model_rates(models: dict[str, object], splits: list[tuple[int, int]], profiles: dict[str, ModelProfile],
                file_rates: dict[str, dict[str, float]]) -> dict[str, Rates]:
    """:class:`Rates` of every model (``models``: name -> ModelSpec), by the order of preference above."""
    out: dict[str, Rates] = {}
    for name in models:
        if name in profiles:
            out[name] = profile_rates(profiles[name])
        elif name in file_rates:
            rates, assumed = fill_splits(file_rates[name], splits)
            out[name] = Rates("throughput file", rates, assumed)
    measured = dict(out)  # only measured figures scale: never a figure that is itself scaled
    for name, spec in models.items():
        if name in out:
            continue
        size = getattr(spec, "parameters", None)
        donors = [(n, measured[n]) for n, s in models.items() if n in measured and measured[n].samples_per_s
                  and s.kind == spec.kind and getattr(s, "parameters", None)]
        if not size or not donors:
            out[name] = Rates("unknown")
            continue
        donor, rates = min(donors, key=lambda d: abs(getattr(models[d[0]], "parameters") - size))
        ratio = getattr(models[donor], "parameters") / size
        out[name] = Rates(f"scaled from {donor} by parameter count ({_billions(getattr(models[donor], 'parameters'))}"
                          f" -> {_billions(size)}; an assumption, not a measurement)",
                          {k: v * ratio for k, v in rates.samples_per_s.items()}, dict(rates.assumed))
    return out


def _billions(n: float) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"
