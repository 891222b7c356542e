"""Records -> report: ``summary.md``, ``summary.csv``, plots, diagnostics, recommendation, ``sumbench diff``.
Pure functions of :mod:`sumbench.records`; nothing here imports training or data code."""
