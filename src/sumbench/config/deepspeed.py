"""DeepSpeed settings: a ZeRO stage with optional CPU offload, or a user's own DeepSpeed config file.

A model YAML lists the settings its profile times (the DeepSpeed axis; default ``[off]``)::

    deepspeed: [off, zero2, zero2+optimizer, zero3]          # ZeRO stage, + offload to the CPU
    deepspeed: [off, {zero_stage: 2, offload_optimizer: cpu}, configs/deepspeed/ds_zero2.json]

A string is ``off``, ``zero1``/``zero2``/``zero3`` optionally followed by ``+optimizer`` and/or ``+params``
(offload the optimizer state / the parameters to the CPU), or the path of a DeepSpeed JSON or YAML file (relative
to the working directory). ``sumbench train --deepspeed SETTING`` trains one cell under one of them.

:func:`trainer_config` gives the Trainer the DeepSpeed JSON of a setting at one split: "auto" values stay "auto"
and the Trainer fills them from its arguments (learning rate, batch sizes, clipping, precision); the one it fills
wrongly, ``train_batch_size`` (with world size 1, before the processes exist), is left out so that DeepSpeed
derives it (micro-batch x accumulation x world size). A number in a user's file that contradicts the split is an
error. ``zero_force_ds_cpu_optimizer: false`` keeps the YAML's optimizer under offload (DeepSpeed would otherwise
refuse it and want its compiled CPU Adam).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sumbench.errors import ConfigError

STAGES = (0, 1, 2, 3)  # 0 = DeepSpeed's engine without ZeRO partitioning
OFF = "off"
_NAME = re.compile(r"^zero(?P<stage>\d+)(?P<offload>(\+[a-z_]+)*)$")
OFFLOAD_WORDS = {"optimizer": "offload_optimizer", "params": "offload_param"}


@dataclass(frozen=True)
class DeepSpeedSetting:
    """One point of the DeepSpeed axis. ``zero_stage`` None = no DeepSpeed (the plain Trainer)."""

    zero_stage: int | None = None
    offload_optimizer: bool = False
    offload_param: bool = False
    config_file: str | None = None  # a user's DeepSpeed JSON/YAML; its contents are ``file_config``
    file_config: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def enabled(self) -> bool:
        return self.zero_stage is not None

    @property
    def name(self) -> str:
        """``off``, ``zero2``, ``zero2+optimizer``, ``zero3+optimizer+params``, or the file's path."""
        if self.config_file:
            return self.config_file
        if not self.enabled:
            return OFF
        return f"zero{self.zero_stage}" + "+optimizer" * self.offload_optimizer + "+params" * self.offload_param

    @property
    def has_optimizer_block(self) -> bool:
        """A user's file that names its own optimizer: DeepSpeed builds it (its compiled CPU Adam under offload)."""
        return bool(self.file_config and "optimizer" in self.file_config)


NO_DEEPSPEED = DeepSpeedSetting()


def _checked(setting: DeepSpeedSetting, where: str) -> DeepSpeedSetting:
    if setting.zero_stage is not None and setting.zero_stage not in STAGES:
        raise ConfigError(f"{where}: unknown ZeRO stage {setting.zero_stage} (one of off, 0, 1, 2, 3)")
    if (setting.offload_optimizer or setting.offload_param) and not setting.enabled:
        raise ConfigError(f"{where}: offload needs DeepSpeed: set a ZeRO stage (e.g. zero2+optimizer)")
    if setting.offload_optimizer and setting.zero_stage == 0:
        raise ConfigError(f"{where}: offloading the optimizer needs ZeRO stage 1, 2 or 3, not 0")
    if setting.offload_param and setting.zero_stage != 3:
        raise ConfigError(f"{where}: offloading the parameters needs ZeRO stage 3, not {setting.zero_stage}")
    return setting


def parse_setting(value: Any, where: str) -> DeepSpeedSetting:
    """A setting from its YAML/CLI form (a name, a file path, or ``{zero_stage, offload_optimizer, offload_param}``)."""
    if value is False:  # YAML 1.1 reads a bare `off` as false
        return NO_DEEPSPEED
    if isinstance(value, dict):
        stage = value.get("zero_stage", OFF)
        stage = OFF if stage is False else stage
        unknown = sorted(set(value) - {"zero_stage", "offload_optimizer", "offload_param"})
        if unknown:
            raise ConfigError(f"{where}: unknown DeepSpeed key {unknown[0]!r} (zero_stage, offload_optimizer, "
                              f"offload_param)")
        if stage != OFF and not isinstance(stage, int):
            raise ConfigError(f"{where}: unknown ZeRO stage {stage!r} (one of off, 0, 1, 2, 3)")
        return _checked(DeepSpeedSetting(zero_stage=None if stage == OFF else stage,
                                         offload_optimizer=value.get("offload_optimizer", "none") == "cpu",
                                         offload_param=value.get("offload_param", "none") == "cpu"), where)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: a DeepSpeed setting is off, zero1/zero2/zero3[+optimizer][+params], a file path "
                          f"or an object, got {value!r}")
    if value == OFF:
        return NO_DEEPSPEED
    if value.endswith((".json", ".yaml", ".yml")):
        return load_file(value)
    found = _NAME.match(value)
    if not found:
        raise ConfigError(f"{where}: unknown DeepSpeed setting {value!r} (off, zero1, zero2, zero3, each optionally "
                          f"+optimizer and/or +params, or a .json/.yaml file)")
    words = [w for w in found.group("offload").split("+") if w]
    bad = [w for w in words if w not in OFFLOAD_WORDS]
    if bad:
        raise ConfigError(f"{where}: unknown offload {bad[0]!r} in {value!r} (+optimizer, +params)")
    return _checked(DeepSpeedSetting(zero_stage=int(found.group("stage")), offload_optimizer="optimizer" in words,
                                     offload_param="params" in words), where)


def parse_axis(values: Any, where: str) -> tuple[DeepSpeedSetting, ...]:
    """The settings a model is profiled under, each once, in the YAML's order."""
    items = values if isinstance(values, list) else [values]
    settings = tuple(parse_setting(v, f"{where}: key deepspeed[{i}]") for i, v in enumerate(items))
    names = [s.name for s in settings]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise ConfigError(f"{where}: key deepspeed names {twice!r} twice")
    return settings


def _offloaded(zero: dict, key: str) -> bool:
    block = zero.get(key)
    return isinstance(block, dict) and block.get("device", "none") not in ("none", None)


def load_file(path: str) -> DeepSpeedSetting:
    """A user's DeepSpeed JSON or YAML; one line naming the file when it is missing, does not parse or is not one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the DeepSpeed config ({exc.strerror or exc})") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if p.suffix == '.json' else 'YAML'} "
                          f"({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a DeepSpeed config is a mapping of settings, got {type(data).__name__}")
    zero = data.get("zero_optimization") or {}
    if not isinstance(zero, dict):
        raise ConfigError(f"{path}: key zero_optimization must be a mapping")
    stage = zero.get("stage", 0)
    if not isinstance(stage, int) or stage not in STAGES:
        raise ConfigError(f"{path}: key zero_optimization.stage: unknown ZeRO stage {stage!r} (one of 0, 1, 2, 3)")
    return _checked(DeepSpeedSetting(zero_stage=stage, offload_optimizer=_offloaded(zero, "offload_optimizer"),
                                     offload_param=_offloaded(zero, "offload_param"), config_file=path,
                                     file_config=data), path)


def check_for_model(setting: DeepSpeedSetting, spec) -> None:
    """Combinations the libraries do not support, named with the model's file."""
    if setting.zero_stage == 3 and spec.quantization.enabled:
        bits = "4-bit" if spec.quantization.load_in_4bit else "8-bit"
        raise ConfigError(f"{spec.source_file}: DeepSpeed {setting.name} with {bits} weights (quantization) is not "
                          f"supported: ZeRO-3 partitions parameters and bitsandbytes' packed weights cannot be split; "
                          f"use zero2 or no quantization")


def trainer_config(setting: DeepSpeedSetting, *, batch_size: int, grad_accum: int, world_size: int) -> dict | None:
    """The DeepSpeed JSON the Trainer gets for ``setting`` at one split (None without DeepSpeed).

    A number in a user's file must agree with the split: ``train_micro_batch_size_per_gpu`` = batch size,
    ``gradient_accumulation_steps`` = grad accumulation, ``train_batch_size`` = their product x world size.
    """
    if not setting.enabled:
        return None
    if setting.file_config is not None:
        config = copy.deepcopy(setting.file_config)
        expected = {"train_micro_batch_size_per_gpu": batch_size, "gradient_accumulation_steps": grad_accum,
                    "train_batch_size": batch_size * grad_accum * world_size}
        for key, want in expected.items():
            got = config.get(key, "auto")
            if got != "auto" and got != want:
                raise ConfigError(f"{setting.config_file}: key {key} is {got!r} but the split bs{batch_size}/"
                                  f"ga{grad_accum} x {world_size} process(es) needs {want} (or \"auto\")")
    else:
        zero: dict[str, Any] = {"stage": setting.zero_stage}
        if setting.offload_optimizer:
            zero["offload_optimizer"] = {"device": "cpu"}
        if setting.offload_param:
            zero["offload_param"] = {"device": "cpu"}
        config = {"zero_optimization": zero, "train_micro_batch_size_per_gpu": "auto",
                  "gradient_accumulation_steps": "auto", "gradient_clipping": "auto",
                  "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"}}
    config.pop("train_batch_size", None)  # DeepSpeed derives it; the Trainer would fill "auto" with world size 1
    config.setdefault("zero_force_ds_cpu_optimizer", False)
    return config
