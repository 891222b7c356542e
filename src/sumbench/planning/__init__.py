"""Planning the grid: what the quality phase trains and what it costs, before anything runs and after the
profile (``plan.py``); where throughputs come from (``throughput.py``); where a running grid stands
(``status.py``). Reads configs and records; writes :class:`sumbench.records.PlanRecord`."""
