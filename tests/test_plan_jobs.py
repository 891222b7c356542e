"""Quality jobs: a model's planned cells grouped into jobs that fit a partition, what each asks the scheduler for, and
the plan's wall time on N GPUs by list scheduling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sumbench.config.grid import Grid, load_grids
from sumbench.errors import ConfigError, SumbenchError
from sumbench.planning.jobs import JobModel, JobSettings, group_jobs, job_of
from sumbench.planning.schedule import Task, list_schedule, wall_time
from sumbench.records.plan import ModelPlan, PlanRecord, PlannedCell, PlannedJob, read_plan

REPO = Path(__file__).resolve().parents[1]
HOUR = 3600.0


def cells(model: str, hours: list[float | None]) -> list[PlannedCell]:
    return [PlannedCell(model=model, augmentation="none", max_train_samples=None, batch_size=4, grad_accum=1, fold=f,
                        steps=10, samples=40, predicted_s=None if h is None else h * HOUR, split_reason="")
            for f, h in enumerate(hours)]


EXACT = JobSettings(margin=1.0, startup_minutes=0.0)  # requests equal predictions: arithmetic easy to follow
ONE_GPU = JobModel(startup_s=0.0, gpus=1, fallback_minutes=240)


def test_per_model_is_one_job_per_model_asking_predicted_times_margin_plus_startup():
    planned = cells("a", [1.0, 2.0]) + cells("b", [0.5])
    models = {"a": JobModel(startup_s=60.0, gpus=1, fallback_minutes=240),
              "b": JobModel(startup_s=0.0, gpus=2, fallback_minutes=240)}
    jobs = group_jobs(planned, models, JobSettings())
    assert [(j.model, j.index, j.cells, j.gpus) for j in jobs] == [("a", 0, [0, 1], 1), ("b", 0, [2], 2)]
    # (3 h x 1.5 + 60 s) / 60 + 5 min = 276 min; never the YAML's runtime x cells (480)
    assert jobs[0].runtime_min == 276 and jobs[0].predicted_s == 60.0 + 3 * HOUR
    assert jobs[1].runtime_min == 50  # 0.5 h x 1.5 = 45 min + 5


def test_fit_packs_longest_first_into_the_fewest_jobs_within_max_job_hours():
    planned = cells("a", [10.0, 8.0, 6.0, 4.0, 2.0])  # 30 h: two jobs of at most 16 h
    jobs = group_jobs(planned, {"a": ONE_GPU}, JobSettings(grouping="fit", max_job_hours=16, margin=1.0,
                                                           startup_minutes=0.0))
    assert len(jobs) == 2
    assert sorted(i for j in jobs for i in j.cells) == [0, 1, 2, 3, 4]  # every cell in exactly one job
    assert all(j.runtime_min <= 16 * 60 for j in jobs)
    # longest first to the least-loaded job: 10, 8, then 6 -> the 8 h job, 4 -> the 10 h job, 2 -> the first of equals
    assert [j.cells for j in jobs] == [[0, 3, 4], [1, 2]] and jobs[0].index == 0
    assert [j.predicted_s / HOUR for j in jobs] == [16.0, 14.0]


def test_fit_with_gpus_splits_until_each_job_is_about_the_grids_work_per_gpu():
    planned = cells("a", [1.0] * 8) + cells("b", [1.0] * 4)
    jobs = group_jobs(planned, {"a": ONE_GPU, "b": ONE_GPU}, JobSettings(grouping="fit", gpus=4, margin=1.0,
                                                                         startup_minutes=0.0))
    # 12 GPU-hours on 4 GPUs: jobs of at most 3 h -> a: 3 jobs (3, 3, 2 cells), b: 2 jobs (2, 2)
    assert [len(j.cells) for j in jobs if j.model == "a"] == [3, 3, 2]
    assert [len(j.cells) for j in jobs if j.model == "b"] == [2, 2]
    plan = PlanRecord(grid="g", stage="after-profile", cells=planned, jobs=jobs,
                      models=[ModelPlan(model="a", throughput_source="p", profile_s=0.0),
                              ModelPlan(model="b", throughput_source="p", profile_s=0.0)])
    # 5 jobs (3, 3, 2, 2, 2 h) on 4 GPUs: 4 h, where one job per model would take a's 8 h
    assert wall_time(plan, 4).quality_s == pytest.approx(4 * HOUR)
    assert wall_time(plan, 1).quality_s == pytest.approx(12 * HOUR)


def test_a_cell_that_cannot_fit_max_job_hours_alone_is_a_one_line_plan_error():
    planned = cells("a", [1.0, 30.0])
    with pytest.raises(SumbenchError) as err:
        group_jobs(planned, {"a": ONE_GPU}, JobSettings(grouping="fit", max_job_hours=24))
    message = str(err.value)
    assert "\n" not in message
    assert "cell a aug-none_cap-all/bs4_ga1/fold1" in message and "predicted 30.0 h" in message
    assert "max_job_hours 24" in message


def test_one_job_per_model_that_exceeds_max_job_hours_says_to_split_it():
    with pytest.raises(SumbenchError, match=r"a's one quality job asks 30\.0 h.*grouping: fit"):
        group_jobs(cells("a", [10.0, 10.0, 10.0]), {"a": ONE_GPU}, JobSettings(grouping="per_model", max_job_hours=24,
                                                                                margin=1.0, startup_minutes=0.0))
    assert JobSettings(max_job_hours=24).grouping == "fit" and JobSettings().grouping == "per_model"


def test_cells_without_a_prediction_stay_in_one_job_asking_the_partitions_limit():
    jobs = group_jobs(cells("a", [None, 1.0]), {"a": ONE_GPU}, JobSettings(grouping="fit", max_job_hours=24))
    assert [(j.cells, j.predicted_s, j.runtime_min) for j in jobs] == [([0, 1], None, 24 * 60)]
    jobs = group_jobs(cells("a", [None]), {"a": ONE_GPU}, JobSettings())
    assert jobs[0].runtime_min == 240  # no limit set: the model YAML's runtime for the job


def test_job_settings_reject_bad_values_naming_the_key():
    with pytest.raises(ConfigError, match="quality_jobs.grouping"):
        JobSettings(grouping="round_robin")
    with pytest.raises(ConfigError, match="quality_jobs.margin"):
        JobSettings(margin=0.5)


def test_list_scheduling_longest_first_and_multi_gpu_jobs_wait_for_enough_free_gpus():
    tasks = [Task("a", 2, 1), Task("b", 3, 1), Task("c", 2, 1), Task("d", 3, 1), Task("e", 2, 1)]
    assert list_schedule(tasks, 2) == 7  # 3 | 3, then 2 + 2 on one and 2 on the other
    assert list_schedule(tasks, 5) == 3
    assert list_schedule([Task("one", 4, 1), Task("two", 1, 2)], 2) == 5  # the 2-GPU job waits for both
    with pytest.raises(ValueError, match="needs 4 GPUs, more than 2"):
        list_schedule([Task("big", 1, 4)], 2)


def test_wall_time_runs_the_profile_phase_then_the_quality_phase():
    planned = cells("a", [2.0, 2.0])
    plan = PlanRecord(grid="g", stage="after-profile", cells=planned,
                      jobs=[PlannedJob(model="a", index=0, cells=[0], gpus=1, predicted_s=2 * HOUR, runtime_min=1),
                            PlannedJob(model="a", index=1, cells=[1], gpus=1, predicted_s=2 * HOUR, runtime_min=1)],
                      models=[ModelPlan(model="a", throughput_source="p", profile_s=0.5 * HOUR)])
    w = wall_time(plan, 2)
    assert (w.profile_s, w.quality_s, w.total_s) == (0.5 * HOUR, 2 * HOUR, 2.5 * HOUR)
    unknown = wall_time(PlanRecord(grid="g", stage="before-profile", models=plan.models, cells=planned,
                                   jobs=[PlannedJob(model="a", index=0, cells=[0, 1], gpus=1, predicted_s=None,
                                                    runtime_min=1)]), 2)
    assert unknown.quality_s is None and unknown.total_s is None and "unknown" in unknown.why


def test_job_of_names_the_missing_job():
    jobs = [PlannedJob(model="a", index=0, cells=[0], gpus=0, predicted_s=1.0, runtime_min=1)]
    assert job_of(jobs, "a", 0) is jobs[0]
    with pytest.raises(SumbenchError, match="no quality job 1 of a.*a/0"):
        job_of(jobs, "a", 1)


def config_with(**top) -> dict:
    grid = {"models": ["m"], "batch_sizes": [4], "grad_accum": [1], "k_folds": 2, "data": {"synth": {"n": 100}}}
    return {"grids": {"plain": dict(grid), "own": {**grid, "quality_jobs": {"grouping": "per_model"}}}, **top}


def test_a_profiles_flat_config_keys_set_every_grids_grouping_unless_the_grid_sets_its_own():
    grids = load_grids(config_with(job_grouping="fit", max_job_hours=24, cluster_gpus=8))
    assert grids["plain"].quality_jobs == {"grouping": "fit", "max_job_hours": 24, "gpus": 8}
    assert grids["own"].quality_jobs == {"grouping": "per_model", "max_job_hours": 24, "gpus": 8}
    assert load_grids(config_with())["plain"].quality_jobs == {}
    assert Grid.from_json(grids["plain"].to_json()).quality_jobs == grids["plain"].quality_jobs
    with pytest.raises(ConfigError, match="job_grouping"):
        load_grids(config_with(job_grouping="spread"))
    bad = config_with()
    bad["grids"]["plain"]["quality_jobs"] = {"margin": 0.5}
    with pytest.raises(ConfigError, match="grids.plain.quality_jobs.margin"):
        load_grids(bad)


def test_the_slurm_profile_packs_quality_jobs_to_fit_and_retries():
    profile = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["config"]["job_grouping"] == "fit" and profile["config"]["max_job_hours"] > 0
    assert profile["retries"] >= 1 and profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"  # sacct's "CANCELLED by <uid>" is never taken for an end


def sumbench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sumbench.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_plan_full_states_the_wall_time_on_each_gpu_count_and_no_job_asks_more_than_max_job_hours(tmp_path):
    out = tmp_path / "plan.json"
    proc = sumbench("plan", "full", "--throughput", "configs/throughput/user-24gb.yaml", "--examples", "12457,499",
                    "--gpus", "1,8,32", "--grouping", "fit", "--max-job-hours", "24", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("|")[1].strip(): line for line in proc.stdout.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in ("1", "8", "32")}
    assert set(rows) == {"1", "8", "32"} and all("**" in row for row in rows.values())
    plan = read_plan(out)
    assert [w.gpus for w in plan.wall_times] == [1, 8, 32]
    assert [w.quality_s for w in plan.wall_times] == [wall_time(plan, n).quality_s for n in (1, 8, 32)]
    assert max(j.runtime_min for j in plan.jobs) <= 24 * 60
    assert sorted(i for j in plan.jobs for i in j.cells) == list(range(len(plan.cells)))
    polyglot = [j for j in plan.jobs if j.model == "polyglot-ko-12.8b"]
    assert len(polyglot) > 1  # ~62 GPU-hours cannot be one 24-hour job
    one, eight, many = (wall_time(plan, n).quality_s for n in (1, 8, 32))
    assert one == pytest.approx(sum(j.predicted_s for j in plan.jobs))  # one GPU: every job in a row
    assert one > eight >= many >= max(j.predicted_s for j in plan.jobs)
    assert (tmp_path / "plan.md").read_text().count("Wall time on N GPUs") == 1
    # told to spread over 32 GPUs, the plan splits jobs further and 32 GPUs finish sooner
    spread = tmp_path / "spread.json"
    proc = sumbench("plan", "full", "--throughput", "configs/throughput/user-24gb.yaml", "--examples", "12457,499",
                    "--gpus", "32", "--grouping", "fit", "--max-job-hours", "24", "--cluster-gpus", "32",
                    "--out", str(spread))
    assert proc.returncode == 0, proc.stderr
    assert len(read_plan(spread).jobs) > len(plan.jobs)
    assert read_plan(spread).wall_times[0].quality_s < many
    # a limit alone packs to fit it too; one job per model, asked for, cannot fit 24 h: the plan says how to split it
    proc = sumbench("plan", "full", "--throughput", "configs/throughput/user-24gb.yaml", "--examples", "12457,499",
                    "--max-job-hours", "24", "--out", str(tmp_path / "limit.json"))
    assert proc.returncode == 0, proc.stderr
    assert [j.cells for j in read_plan(tmp_path / "limit.json").jobs] == [j.cells for j in plan.jobs]
    proc = sumbench("plan", "full", "--throughput", "configs/throughput/user-24gb.yaml", "--examples", "12457,499",
                    "--grouping", "per_model", "--max-job-hours", "24")
    assert proc.returncode != 0 and "grouping: fit" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert json.loads(out.read_text())["jobs"][0]["runtime_min"] == plan.jobs[0].runtime_min


def test_status_counts_a_model_done_when_every_one_of_its_quality_jobs_has_its_record(tmp_path):
    from sumbench.planning.status import grid_status
    from sumbench.records.plan import QualityJobRecord

    grid = Grid(name="g", models=("a",), batch_sizes=(4,), grad_accum=(1,), k_folds=2, data={"synth": {"n": 100}})
    planned = cells("a", [1.0, 1.0])
    jobs = [PlannedJob(model="a", index=k, cells=[k], gpus=0, predicted_s=HOUR, runtime_min=90) for k in (0, 1)]
    root = tmp_path / "results" / "g"
    PlanRecord(grid="g", stage="after-profile", cells=planned, jobs=jobs).write(root / "plan.json")
    QualityJobRecord(model="a", grid="g", job=0).write(root / "quality/a/job0.json")
    assert [s.state for s in grid_status(grid, tmp_path) if s.phase == "quality"] == ["pending"]
    QualityJobRecord(model="a", grid="g", job=1).write(root / "quality/a/job1.json")
    assert [s.state for s in grid_status(grid, tmp_path) if s.phase == "quality"] == ["done"]
