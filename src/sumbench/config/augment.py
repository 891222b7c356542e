"""Settings of the augmentation methods: a grid's ``augment:`` section, or ``sumbench data augment --settings``.

Keys, types and ranges are defined once, under ``$defs/augment`` in workflow/schemas/config.schema.yaml; a dict
is validated against that schema and then becomes these frozen dataclasses. A grid and the CLI pass the whole
section as one structure (a JSON string on the command line), never as flattened ``key=value`` options.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from sumbench.config.schema import CONFIG_SCHEMA, validate_with_schema
from sumbench.errors import ConfigError
from sumbench.overrides import apply_overrides

SCHEMA_DEFINITION = "augment"  # $defs entry of CONFIG_SCHEMA


@dataclass(frozen=True)
class SynonymSettings:
    p: float = 0.3  # fraction of the dialogue's lexicon words replaced (at least one)
    lexicon: str | None = None  # another lexicon file in the same format (default: the shipped one)


@dataclass(frozen=True)
class BackTranslationSettings:
    model: str | None = None  # hub id or local directory of a seq2seq model (source -> pivot)
    reverse_model: str | None = None  # pivot -> source (default: `model`, for many-to-many models)
    src_lang: str | None = None  # language code as the tokenizer spells it (NLLB: kor_Hang)
    pivot_lang: str | None = None  # NLLB: eng_Latn
    num_beams: int = 1
    min_new_tokens: int = 1  # a model that stops at once yields no copy rather than an empty turn
    max_new_tokens: int = 128
    batch_size: int = 16


@dataclass(frozen=True)
class ParaphraseSettings:
    model: str | None = None  # hub id or local directory of a Korean seq2seq paraphraser
    prefix: str = ""  # prepended to each input, e.g. "paraphrase: " for T5-style models
    num_beams: int = 1
    min_new_tokens: int = 1  # a model that stops at once yields no copy rather than an empty turn
    max_new_tokens: int = 128
    batch_size: int = 16


_SECTIONS = {"synonym": SynonymSettings, "back_translation": BackTranslationSettings, "paraphrase": ParaphraseSettings}


@dataclass(frozen=True)
class AugmentSettings:
    """Settings of every method. Build it with :meth:`from_config` (a dict) or :meth:`parse` (a CLI argument)."""

    ratio: float = 0.5  # copies added per original example, per method (0 < ratio <= 1)
    synonym: SynonymSettings = field(default_factory=SynonymSettings)
    back_translation: BackTranslationSettings = field(default_factory=BackTranslationSettings)
    paraphrase: ParaphraseSettings = field(default_factory=ParaphraseSettings)
    source: str = "augment"  # where the settings came from, named in error messages (not a setting)

    @classmethod
    def from_config(cls, data: dict | None, source: str) -> AugmentSettings:
        """Typed settings from a (possibly nested) dict, validated against the config schema's ``$defs/augment``;
        errors name ``source`` and the key."""
        data = {} if data is None else data
        validate_with_schema(data, CONFIG_SCHEMA, source, definition=SCHEMA_DEFINITION)
        sections = {name: section(**data.get(name, {})) for name, section in _SECTIONS.items()}
        return cls(**{k: v for k, v in data.items() if k not in _SECTIONS}, **sections, source=source)

    @classmethod
    def parse(cls, arg: str | None, source: str, overrides: Sequence[str] = ()) -> AugmentSettings:
        """Settings from a JSON or YAML string, or from a YAML/JSON file named by ``arg`` (None: the defaults),
        with ``KEY=VALUE`` overrides (``synonym.p=0.2``) on top. Errors name the file, else ``source``."""
        data, where = ({}, source) if arg is None else _read(arg, source)
        if overrides:
            data = apply_overrides(data, overrides, where)
        return cls.from_config(data, where)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        return data


def _read(arg: str, source: str) -> tuple[dict, str]:
    """``(settings dict, name for errors)`` from a JSON/YAML string or a file."""
    try:
        is_file = Path(arg).is_file()
    except (OSError, ValueError):  # a long JSON string is no file name
        is_file = False
    where, text = source, arg
    if is_file:
        where = arg
        try:
            text = Path(arg).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid JSON or YAML{at} ({getattr(exc, 'problem', None) or exc})") from None
    if data is None:
        return {}, where
    if isinstance(data, dict):
        return data, where
    if is_file:
        raise ConfigError(f"{where}: expected a mapping of settings, got a {type(data).__name__}")
    raise ConfigError(f"{where}: {arg!r} is neither a mapping of settings (JSON or YAML) nor a file")
