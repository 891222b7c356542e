"""``KEY=VALUE`` overrides (``--set``) of a nested settings dict: model YAMLs and augmentation settings.

Dotted keys address nested sections (``training.learning_rate=1e-4``, ``synonym.p=0.2``); values are YAML
scalars (``null`` or nothing at all is null, ``''`` the empty string), and text that YAML would read as a mapping
(``paraphrase.prefix=paraphrase: ``) stays text. The caller validates the result against its schema, so a
misspelled key fails there, naming the key.
"""

from __future__ import annotations

from typing import Any, Sequence

import yaml

from sumbench.errors import ConfigError


def apply_overrides(data: dict, overrides: Sequence[str], source: str) -> dict:
    """A copy of ``data`` with ``KEY=VALUE`` overrides (dotted keys, YAML values) applied; validation follows."""
    data = yaml.safe_load(yaml.safe_dump(data))  # deep copy
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. training.learning_rate=1e-4 or synonym.p=0.2")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section of {source}")
        node[parts[-1]] = parse_value(raw)
    return data


def parse_value(raw: str) -> Any:
    """A YAML value: a scalar, or a flow mapping/list (``{enable_thinking: false}``, ``[q_proj, v_proj]``).

    ``3e-4`` is a number (YAML 1.1 reads it as a string). Text that YAML would read as a block mapping
    (``paraphrase: ``, ``a: b``) or cannot read (an unclosed quote) stays that text."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, dict) and not raw.lstrip().startswith("{"):
        return raw
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
