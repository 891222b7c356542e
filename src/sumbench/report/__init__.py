"""Records -> report: ``summary.md``, ``summary.csv``, ``speed.csv``, plots, diagnostics, recommendation,
``sumbench diff``. The profile phase gives the speed tables (speed.py), the quality phase the quality tables and
the recommendation (quality.py, recommend.py), the plan the predicted time (plan.py); summary.py puts them in one
document. The files beside each metrics.json (per-example scores, train logs) come in as plain data (cellfiles.py).
Pure functions of :mod:`sumbench.records`; nothing here imports training, data or config code (a test in
tests/test_report.py parses every module's imports to keep it so)."""
