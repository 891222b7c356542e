"""Records -> report: ``summary.md``, ``summary.csv``, plots, diagnostics, recommendation, ``sumbench diff``.
Pure functions of :mod:`sumbench.records`; nothing here imports training, data or config code (a test in
tests/test_report.py parses every module's imports to keep it so)."""
