"""JSON-schema validation of the YAML configs, with one-line errors that name the file and the key.

The schemas live in ``workflow/schemas/`` (``additionalProperties: false`` everywhere, so a misspelled key
fails loudly); the workflow and the package validate against the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sumbench.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = REPO_ROOT / "workflow" / "schemas"
MODEL_SCHEMA = SCHEMAS / "model.schema.yaml"
CONFIG_SCHEMA = SCHEMAS / "config.schema.yaml"


def validate_with_schema(data: Any, schema_path: Path, source: str, definition: str | None = None) -> None:
    """Validate ``data`` against a JSON schema (YAML file), or against its ``$defs/<definition>`` entry; raise
    ConfigError naming the file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
    with open(schema_path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    if definition is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    err = errors[0]
    path = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = err.schema.get("properties", {})
        extra = sorted(set(err.instance) - set(allowed))
        raise ConfigError(f"{source}: unknown key {'.'.join(path + extra[:1])!r} (allowed: {', '.join(sorted(allowed))})")
    raise ConfigError(f"{source}: key {'.'.join(path) or '<top>'!r}: {err.message}")


