"""Validated configuration: one YAML per model (``model.py``), the workflow's grids (``grid.py``), and the
JSON-schema check both go through (``schema.py``). Imports nothing of training, data or report code."""
