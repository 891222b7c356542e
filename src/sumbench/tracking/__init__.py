"""Where practitioners already look: a grid's finished records as MLflow runs (:mod:`.mlflow_runs`) and as the
HTML tables of Snakemake's report (:mod:`.pages`).

Both read only records that are already written; nothing here runs while a cell trains.
The workflow config's ``tracking:`` section (:class:`TrackingSettings`) says where the runs go, or switches them off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from sumbench.errors import ConfigError

# A local store that needs no server: one SQLite file for every grid (experiment = grid). MLflow 3 refuses the old
# file store (./mlruns) unless MLFLOW_ALLOW_FILE_STORE is set, so the default is a database.
DEFAULT_URI = "sqlite:///results/mlflow.db"
DEFAULT_ARTIFACTS = "results/mlartifacts"  # <artifacts>/<grid>/<run id>/artifacts/metrics.json, ...
LOCAL_SCHEMES = ("sqlite:", "file:", "postgresql", "mysql", "mssql")  # stores this process writes artifacts for


@dataclass(frozen=True)
class TrackingSettings:
    """The workflow config's ``tracking:`` section (validated by the config schema before it gets here)."""

    mlflow: bool = True  # log each grid's cells and profiled splits as MLflow runs
    uri: str = DEFAULT_URI  # MLflow tracking URI: a database URI, or a server (http://host:5000)
    artifacts: str = DEFAULT_ARTIFACTS  # artifact folder of a grid's experiment in a local store; a server keeps its own

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrackingSettings:
        return cls(**(config.get("tracking") or {}))

    @property
    def artifact_root(self) -> str | None:
        """Where a new experiment's artifacts go: the configured folder for a store this process writes itself,
        None (the server's own default) for a tracking server."""
        return self.artifacts if self.uri.startswith(LOCAL_SCHEMES) else None

    def check(self, source: str = "configs/config.yaml") -> None:
        """MLflow is importable when runs are asked for: one line at workflow start, not a failed job at the end."""
        if self.mlflow and importlib.util.find_spec("mlflow") is None:
            raise ConfigError(f"{source}: tracking.mlflow is on but MLflow is not installed: "
                              f"pip install -e '.[tracking]', or set tracking: {{mlflow: false}}")
