"""``KEY=VALUE`` overrides (``--set``) of a nested settings dict: model YAMLs and augmentation settings.

Dotted keys address nested sections (``training.learning_rate=1e-4``); values are YAML scalars. The caller
validates the result against its schema, so a misspelled key fails there, naming the key.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from sumbench.errors import ConfigError


def apply_overrides(data: dict, overrides: list[str], source: str) -> dict:
    """Apply ``KEY=VALUE`` overrides (dotted keys, YAML values) to a model dict; validation follows."""
    data = yaml.safe_load(yaml.safe_dump(data))  # deep copy
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. training.learning_rate=1e-4")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section of {source}")
        node[parts[-1]] = parse_value(raw)
    return data


def parse_value(raw: str) -> Any:
    """A YAML scalar, except that ``3e-4`` is a number (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


