"""The cluster route on a real Slurm (.ci/slurm-setup.sh: one node, two GPUs declared, accounting through slurmdbd):
`snakemake --profile workflow/profiles/slurm quick_slurm` completes with every profile and quality job a Slurm job,
its cells equal a local run's, tiny twins asking Slurm for one GPU each share the two GPUs without overlap, and a
quality job cancelled halfway is retried, resumes at its first unfinished cell and retrains nothing finished.

Skipped, saying why, where no cluster answers; required where SUMBENCH_REQUIRE_SLURM=1 (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from sumbench.records import read_record
from sumbench.records.plan import read_plan, read_quality_job

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
GRID = "quick_slurm"
PARTITION = os.environ.get("SUMBENCH_SLURM_PARTITION", "ci")
RUN_S = 1500  # one cluster run of the grid, at most
SACCT_FIELDS = ("JobID", "State", "TimelimitRaw", "Submit", "Eligible", "Start", "End", "WorkDir", "Comment",
                "AllocTRES")


def _cluster_or_skip() -> None:
    reason = None
    if shutil.which("sbatch") is None or shutil.which("sacct") is None:
        reason = "no Slurm client here (bash .ci/slurm-setup.sh start makes a one-node cluster)"
    elif subprocess.run(["scontrol", "ping"], capture_output=True).returncode != 0:
        reason = "no slurmctld answers (bash .ci/slurm-setup.sh start)"
    elif subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True).returncode != 0:
        reason = "sacct cannot reach accounting (slurmdbd): the executor plugin polls with it"
    if reason is None:
        return
    if os.environ.get("SUMBENCH_REQUIRE_SLURM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def sacct(workdir: Path) -> list[dict[str, str]]:
    """This run's jobs (by working directory), one row each, oldest first."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-3hours", "-o", ",".join(f"{f}%300" for f in
                                                                                       SACCT_FIELDS)],
                         capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(SACCT_FIELDS, line.split("|"))) for line in out.splitlines() if line.strip()]
    return [r for r in rows if Path(r["WorkDir"]) == workdir]


def when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rule_of(row: dict[str, str]) -> str:
    return row["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def make_copy(root: Path, quick_test_run: Path, extra: dict, copy_from: Path | None = None) -> tuple[Path, Path]:
    """A copy of the repository whose quick_slurm grid starts from quick_test's synthetic data, folds and warm
    starts (the same corpus, split and seeds; made once by the local run), and its config file (absolute path)."""
    shutil.copytree(REPO, root, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache"))
    for part in ("data/source", "data/folds", "base/tiny-bart", "base/tiny-llama"):
        shutil.copytree(quick_test_run / "results/quick_test" / part, root / "results" / GRID / part)
    if copy_from is not None:  # the profile records of an earlier cluster run
        shutil.copytree(copy_from / "results" / GRID / "profile", root / "results" / GRID / "profile")
    config = yaml.safe_load((REPO / "configs/config.yaml").read_text(encoding="utf-8"))
    config["grids"] = {GRID: {**config["grids"][GRID], **extra}}
    config["tracking"] = {"mlflow": False}
    path = root / "test_config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return root, path


def snakemake(root: Path, config: Path, **popen) -> subprocess.Popen:
    """The grid through the SLURM profile, on the test's partition; the partition's MaxTime is 30 minutes."""
    command = ["timeout", "-k", "10", str(RUN_S), "snakemake", "--profile", "workflow/profiles/slurm", GRID,
               "--configfile", str(config), "--config", "job_grouping=fit", "max_job_hours=0.5",
               "--default-resources", f"slurm_partition={PARTITION}", "mem_mb=1000", "runtime=10",
               "--slurm-init-seconds-before-status-checks", "5"]  # tiny jobs: poll sacct from 5 s on, not 40
    return subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=RUN_S + 30)
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture(scope="session")
def slurm_cluster():
    """A cluster answers (checked before the local quick_test run the tests compare with: a session fixture too)."""
    _cluster_or_skip()


@pytest.fixture(scope="module")
def gpu_run(slurm_cluster, tmp_path_factory, quick_test_run):
    """quick_slurm on the cluster, its tiny twins asking Slurm for one GPU each (scheduler_gpus: 1) and each quality
    cell its own job (cluster_gpus: 4), so that four quality jobs want the two GPUs at once."""
    root, config = make_copy(tmp_path_factory.mktemp("slurm") / "repo", quick_test_run,
                             {"scheduler_gpus": 1, "quality_jobs": {"grouping": "fit", "gpus": 4, "margin": 3,
                                                                    "startup_minutes": 4}})
    started = time.monotonic()
    out = finish(snakemake(root, config))
    print(f"quick_slurm on the cluster: {time.monotonic() - started:.0f} s")
    return root, out, sacct(root.resolve())


def test_the_grid_completes_with_every_profile_and_quality_job_a_completed_slurm_job(gpu_run, quick_test_run):
    root, _, rows = gpu_run
    plan = read_plan(root / "results" / GRID / "plan.json")
    by_id = {r["JobID"]: r for r in rows}
    profiles = [r for r in rows if rule_of(r) == "profile"]
    assert len(profiles) == 2 and all(r["State"] == "COMPLETED" for r in profiles), profiles
    assert all(r["TimelimitRaw"] == "30" for r in profiles)  # the tiny YAMLs' runtime, in minutes
    assert len(plan.jobs) == 4  # one cell each
    quality = []
    for job in plan.jobs:
        record = read_quality_job(root / "results" / GRID / "quality" / job.model / f"job{job.index}.json")
        mine = [plan.cells[i] for i in job.cells]  # the job trained its own cells, no other
        assert [Path(c).parent.name for c in record.cells] == [f"fold{c.fold}" for c in mine]
        assert all(f"/{job.model}/" in c for c in record.cells)
        row = by_id[record.scheduler["SLURM_JOB_ID"]]
        assert row["State"] == "COMPLETED" and rule_of(row) == "quality"
        assert int(row["TimelimitRaw"]) == job.runtime_min  # the plan's request, not the YAML's runtime x cells
        quality.append(row)
    assert len([r for r in rows if rule_of(r) == "quality"]) == 4
    # at least two quality jobs ran at the same time
    spans = sorted((when(r["Start"]), when(r["End"])) for r in quality)
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans
    # each quality cell equals the local run's cell of the same split, fold and seeds
    here = cells_of(root, GRID)
    local = {k: v for k, v in cells_of(quick_test_run, "quick_test").items() if k in here}
    assert len(here) == 4 and set(local) == set(here)
    assert here == local


def cells_of(root: Path, grid: str) -> dict[str, dict]:
    """Each quality cell's ROUGE (dev and held-out, every analyzer), by its folder below runs/."""
    runs = root / "results" / grid / "runs"
    out = {}
    for path in sorted(runs.rglob("metrics.json")):
        r = read_record(path)
        out[str(path.parent.relative_to(runs))] = {
            "rouge": (r.rouge1, r.rouge2, r.rougeL, r.rouge_sum),
            "heldout": (r.heldout_rouge1, r.heldout_rouge2, r.heldout_rougeL),
            "by_analyzer": r.rouge_by_analyzer}
    return out


def test_twins_asking_for_one_gpu_each_get_distinct_devices_and_never_more_than_two_at_once(gpu_run):
    root, _, rows = gpu_run
    gpu_rows = [r for r in rows if "gres/gpu=1" in r["AllocTRES"]]
    assert {rule_of(r) for r in gpu_rows} == {"profile", "quality"} and len(gpu_rows) == 6
    assert all("gres/gpu" not in r["AllocTRES"] for r in rows if r not in gpu_rows)  # data and report jobs ask none
    events = sorted([(when(r["Start"]), 1) for r in gpu_rows] + [(when(r["End"]), -1) for r in gpu_rows])
    running, most = 0, 0
    for _, step in events:  # an end before a start at the same second
        running += step
        most = max(most, running)
    assert most == 2
    # a GPU job was ready while two others held both GPUs, and started later
    def busy_while_ready(r) -> int:
        """The most other GPU jobs running at once between ``r`` becoming ready and ``r`` starting."""
        ready, start = when(r["Eligible"]), when(r["Start"])
        others = [s for s in gpu_rows if s is not r]
        moments = [t for t in [ready] + [when(s["Start"]) for s in others] if ready <= t < start]
        return max((sum(when(s["Start"]) <= t < when(s["End"]) for s in others) for t in moments), default=0)

    waited = [r for r in gpu_rows if busy_while_ready(r) == 2]
    assert waited, [(r["Comment"], r["Eligible"], r["Start"], r["End"]) for r in gpu_rows]
    # jobs that overlapped in time were given different devices; the twins trained on the CPU all the same
    records = [read_quality_job(p) for p in (root / "results" / GRID / "quality").glob("*/job*.json")]
    span = {rec.scheduler["SLURM_JOB_ID"]: next((when(r["Start"]), when(r["End"])) for r in rows
                                                if r["JobID"] == rec.scheduler["SLURM_JOB_ID"]) for rec in records}
    assert {rec.scheduler["CUDA_VISIBLE_DEVICES"] for rec in records} == {"0", "1"}
    for a in records:
        assert a.device.startswith("cpu")
        for b in records:
            sa, sb = span[a.scheduler["SLURM_JOB_ID"]], span[b.scheduler["SLURM_JOB_ID"]]
            if a is not b and sa[0] < sb[1] and sb[0] < sa[1]:
                assert a.scheduler["CUDA_VISIBLE_DEVICES"] != b.scheduler["CUDA_VISIBLE_DEVICES"]


def test_a_cancelled_quality_job_is_retried_and_resumes_at_its_first_unfinished_cell(gpu_run, quick_test_run,
                                                                                     tmp_path):
    first_run = gpu_run[0]
    # one quality job per model, two cells each: cancel tiny-bart's once its first cell is written
    root, config = make_copy(tmp_path / "repo", quick_test_run, {"quality_jobs": {"grouping": "per_model",
                                                                                  "margin": 3, "startup_minutes": 4}},
                             copy_from=first_run)
    proc = snakemake(root, config)
    first_cell = root / "results" / GRID / "runs/tiny-bart/aug-none_cap-all/bs4_ga1/fold0/metrics.json"
    comment = f"rule_quality_wildcards_{GRID}_tiny-bart_0"
    deadline, job_id = time.monotonic() + RUN_S, None
    try:
        while job_id is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()[-4000:]
            if first_cell.exists():
                queue = subprocess.run(["squeue", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True).stdout
                job_id = next((line.split("|")[0] for line in queue.splitlines()
                               if line.split("|")[1] == comment and line.split("|")[2] == "RUNNING"), None)
                if job_id:
                    kept = first_cell.stat().st_mtime_ns
                    subprocess.run(["scancel", job_id], check=True)
            time.sleep(0.2)
        assert job_id, "tiny-bart's quality job was not seen running after its first cell"
        finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = [r for r in sacct(root.resolve()) if r["Comment"] == comment]
    assert [r["State"].split()[0] for r in rows] == ["CANCELLED", "COMPLETED"], rows
    record = read_quality_job(root / "results" / GRID / "quality/tiny-bart/job0.json")
    assert record.scheduler["SLURM_JOB_ID"] == rows[1]["JobID"] and record.resumed == 1
    assert first_cell.stat().st_mtime_ns == kept  # finished by the first attempt: kept, not retrained
    assert cells_of(root, GRID) == cells_of(first_run, GRID)  # the same cells as the uninterrupted run
