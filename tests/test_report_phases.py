"""The report of a grid run in two phases: profile records, the plan, quality job records and their cells.

Three models: tiny-bart on a GPU (an OOM split, a split skipped after it, a split near full memory, a drift of
8 %, a passing GA check), tiny-llama on a CPU whose GA check failed so every split of its effective batch
trained, and tiny-oom whose every split ran out of memory (a profile and no quality cells).
"""

from __future__ import annotations

import csv
import io

from sumbench.cli import main
from sumbench.records import CellRecord, GaCheck, ModelProfile, SplitProfile
from sumbench.records.plan import ModelPlan, PlanRecord, PlannedCell, QualityJobRecord
from sumbench.report.diagnostics import diagnose
from sumbench.report.speed import speed_csv
from sumbench.report.summary import render_markdown

GIB = 2**30
GPU = dict(cuda_device_total_bytes=24 * GIB, memory_kind="cuda_max_allocated")
CPU = dict(host_memory_bytes=64 * GIB, cgroup_memory_limit_bytes=8 * GIB, memory_kind="cpu_peak_rss")
OOM_MESSAGE = "OutOfMemoryError: CUDA out of memory. Tried | to allocate 2.00 GiB"
GA_FAIL = "bs1/ga2 gives x2.00 the gradient norm of bs2/ga1 (bs2/ga1 1, bs1/ga2 2)"


def split(bs, ga, sps=None, reserved_gib=None, status="ok", **kw) -> SplitProfile:
    if status != "ok":
        return SplitProfile(batch_size=bs, grad_accum=ga, status=status, **kw)
    timing = dict(s_per_step_median=bs * ga / sps, s_per_step_p10=0.9 * bs * ga / sps,
                  s_per_step_p90=1.2 * bs * ga / sps, samples_per_s=sps, tokens_per_s=100 * sps, tokens_counted="real")
    memory = dict(GPU, peak_memory_bytes=reserved_gib * GIB // 2, cuda_max_reserved_bytes=reserved_gib * GIB,
                  cuda_alloc_retries=0, mfu=0.12) if reserved_gib else dict(CPU, peak_memory_bytes=GIB)
    return SplitProfile(batch_size=bs, grad_accum=ga, **{**timing, **memory, **kw})


PROFILES = [
    ModelProfile(model="tiny-bart", warmup_steps=3, timed_steps=10, drift=0.08, drift_split="bs4_ga1", splits=[
        split(4, 1, 40.0, 6), split(8, 1, 70.0, 22, cuda_alloc_retries=2), split(4, 2, 60.0, 6), split(8, 2, 50.0, 12),
        split(16, 1, status="oom", message=OOM_MESSAGE),
        split(16, 2, status="skipped", message="skipped: micro-batch 16 ran out of memory, so 16 would too"),
        split(4, 1, 37.0, 6, remeasured=True)],
        ga_check=GaCheck(status="pass", effective_batch=8, detail="same gradient for every split of batch 8")),
    ModelProfile(model="tiny-llama", warmup_steps=1, timed_samples=32, drift=0.01, drift_split="bs2_ga1", splits=[
        split(2, 1, 5.0), split(1, 2, 4.0), split(2, 1, 4.95, remeasured=True)],
        ga_check=GaCheck(status="fail", effective_batch=2, detail=GA_FAIL)),
    ModelProfile(model="tiny-oom", splits=[split(1, 1, status="oom", message="CUDA out of memory")],
                 ga_check=GaCheck(status="error", detail="no split ran, so no equivalence check")),
]

REASON_16 = "fastest split of effective batch 16 in the profile: bs8_ga2 at 50 samples/s"
REASON_LLAMA = f"every split of effective batch 2 trains: tiny-llama's gradient-accumulation check failed ({GA_FAIL})"


def cell(model, bs, ga, fold, rouge_sum, sps, reason, memory, gn=1.0, train_s=100.0, **kw) -> CellRecord:
    r = CellRecord(model=model, batch_size=bs, grad_accum=ga, fold=fold, split_reason=reason, **{**memory, **kw})
    if r.status == "ok":
        r.rouge1, r.rouge2, r.rougeL = rouge_sum / 2, rouge_sum / 6, rouge_sum / 3
        r.rouge_sum, r.samples_per_s, r.eval_loss, r.grad_norm_first = rouge_sum, sps, 1.5, gn
        r.time_to_train_s, r.time_to_quality_s = train_s, train_s + 50
    return r


def gpu(reserved_gib):
    return dict(GPU, peak_memory_bytes=reserved_gib * GIB // 2, cuda_max_reserved_bytes=reserved_gib * GIB)


CELLS = [
    cell("tiny-bart", 4, 1, 0, 0.90, 40, "only split of effective batch 4", gpu(6)),
    cell("tiny-bart", 4, 1, 1, 1.00, 40, "only split of effective batch 4", gpu(6)),
    # within fold noise of the best and faster, but at 92 % of device memory: not recommendable
    cell("tiny-bart", 8, 1, 0, 0.92, 90, "fastest split of effective batch 8 in the profile", gpu(22)),
    cell("tiny-bart", 8, 1, 1, 0.92, 90, "fastest split of effective batch 8 in the profile", gpu(22)),
    cell("tiny-bart", 8, 2, 0, 0.93, 80, REASON_16, gpu(12), train_s=100.0),
    cell("tiny-bart", 8, 2, 1, 0.93, 80, REASON_16, gpu(12), train_s=120.0),
    # GA check failed: both splits of effective batch 2 trained, and their first gradients differ
    cell("tiny-llama", 2, 1, 0, 0.50, 5, REASON_LLAMA, dict(CPU, peak_memory_bytes=GIB), gn=1.0),
    cell("tiny-llama", 1, 2, 0, 0.48, 4, REASON_LLAMA, dict(CPU, peak_memory_bytes=GIB), gn=2.0),
    cell("tiny-llama", 1, 2, 1, 0.0, 0, REASON_LLAMA, CPU, status="error", failed_phase="eval",
         message="RuntimeError: boom"),
]


def planned(model, bs, ga, fold, predicted_s):
    return PlannedCell(model=model, augmentation="none", max_train_samples=None, batch_size=bs, grad_accum=ga,
                       fold=fold, steps=10, samples=100, predicted_s=predicted_s, split_reason="")


PLAN = PlanRecord(grid="quick_test", stage="after-profile", k_folds=2, folds=[0, 1], max_train_samples=[None],
                  models=[ModelPlan(model="tiny-bart", throughput_source="profile", quality_s=1800.0, naive_s=7200.0,
                                    ga_equivalent=True, pruned={"bs16_ga1": OOM_MESSAGE}),
                          ModelPlan(model="tiny-llama", throughput_source="profile", quality_s=1800.0,
                                    naive_s=3600.0, ga_equivalent=False)],
                  cells=[planned("tiny-bart", 8, 2, 0, 90.0), planned("tiny-bart", 8, 2, 1, 110.0),
                         planned("tiny-bart", 4, 1, 0, 50.0)])
JOBS = [QualityJobRecord(model="tiny-bart", grid="quick_test", wall_s=2100.0, lock_wait_s=300.0),
        QualityJobRecord(model="tiny-llama", grid="quick_test", wall_s=2400.0, resumed=1)]


def render() -> str:
    return render_markdown(CELLS, "T", plan=PLAN, profiles=PROFILES, jobs=JOBS)


def section(md: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same level."""
    level = heading.split()[0]
    body = md.split(heading + "\n", 1)[1]
    return body.split(f"\n{level} ", 1)[0]


# ------------------------------------------------------------------------------------------- the top
def test_top_section_puts_predicted_beside_measured_and_the_naive_cost():
    md = render()
    assert md.index("## Predicted vs measured") < md.index("## Environment") < md.index("## tiny-bart")
    top = section(md, "## Predicted vs measured")
    assert "**Measured**: the model's quality jobs' wall times minus the time they waited for another job's timed " \
           "window, summed." in top
    assert "**Predicted**:" in top and "**Naive**:" in top
    # tiny-bart: 2100 s wall - 300 s waiting = 1800 s measured, as predicted
    assert "| tiny-bart | 0.500 (1,800 s) | 0.500 (1,800 s) | +0% |" in top
    assert "| tiny-llama | 0.500 (1,800 s) | 0.667 (2,400 s) | +33% (1 cells resumed) |" in top
    assert "| **total** | 1.00 | 1.17 | +17% |" in top
    assert "Naive cost **3.00 h**, planned **1.00 h**: the plan avoided 2.00 h (3.0x less)." in top


def test_top_section_without_finished_jobs():
    md = render_markdown(CELLS, "T", plan=PLAN, profiles=PROFILES, jobs=[])
    assert "_No quality job has finished yet._" in section(md, "## Predicted vs measured")


# ------------------------------------------------------------------------------------------- speed
def test_speed_table_lists_every_split_with_status_and_the_remeasured_one():
    speed = section(render(), "### Speed (profile phase)")
    assert "7 split runs in the order they ran: each 3 warm-up steps untimed, then 10 timed steps; tokens/s " \
           "counts real tokens." in speed
    assert ("| split | bs | ga | eff. batch | s/step median (p10–p90) | samples/s | tokens/s | peak MiB | mem. % "
            "| reserved MiB | alloc retries | MFU | status |") in speed
    assert "| bs4_ga1 | 4 | 1 | 4 | 0.100 (0.090–0.120) | 40.00 | 4,000 | 3,072 | 25% | 6,144 | 0 | 12.0% | ok |" in speed
    assert "| bs8_ga1 | 8 | 1 | 8 | 0.114 (0.103–0.137) | 70.00 | 7,000 | 11,264 | 92% | 22,528 | 2 | 12.0% | ok |" \
        in speed
    assert ("| bs16_ga1 | 16 | 1 | 16 | – | – | – | – | – | – | – | – | **oom**: OutOfMemoryError: CUDA out of "
            "memory. Tried \\| to allocate 2.00 GiB |") in speed
    assert "| bs16_ga2 | 16 | 2 | 32 | – | – | – | – | – | – | – | – | **skipped**: micro-batch 16 ran out of " \
           "memory, so 16 would too |" in speed
    assert ("| bs4_ga1 (again) | 4 | 1 | 4 | 0.108 (0.097–0.130) | 37.00 | 3,700 | 3,072 | 25% | 6,144 | 0 | 12.0% "
            "| ok, measured again at the end |") in speed


def test_cpu_speed_table_has_no_gpu_columns_and_uses_the_cgroup_limit():
    md = render()
    speed = section(section(md, "## tiny-llama"), "### Speed (profile phase)")
    assert "reserved MiB" not in speed and "MFU" not in speed and "32 timed samples" in speed
    assert "| bs2_ga1 | 2 | 1 | 2 | 0.400 (0.360–0.480) | 5.00 | 500 | 1,024 | 12% | ok |" in speed  # 1 GiB / 8 GiB


def test_ga_check_and_drift_per_model():
    md = render()
    bart, llama = section(md, "## tiny-bart"), section(md, "## tiny-llama")
    assert "- **Gradient-accumulation equivalence**: pass: same gradient for every split of batch 8" in bart
    assert "- **Isolation drift**: +8.0% (bs4_ga1 measured again at the end, s/step against its first run): " \
           "**above ±5%**" in bart
    assert f"- **Gradient-accumulation equivalence**: **fail**: {GA_FAIL}" in llama
    assert "- **Isolation drift**: +1.0% (bs2_ga1 measured again at the end, s/step against its first run), " \
           "within ±5%" in llama


# ------------------------------------------------------------------------------------------- quality
def test_quality_table_is_per_effective_batch_with_its_split_and_times():
    quality = section(section(render(), "## tiny-bart"), "### Quality (quality phase)")
    assert "Every cell: augmentation none, max_train_samples all." in quality
    assert ("| eff. batch | split | samples/s | mem. % | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Sum | eval loss "
            "| time to train h | time to quality h | status |") in quality
    rows = [line for line in quality.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[:2] for row in rows] == [["| 4", "bs4_ga1"], ["| 8", "bs8_ga1"], ["| 16", "bs8_ga2"]]
    assert rows[2] == ("| 16 | bs8_ga2 | 80.00 | 50% | 0.465 ± 0.000 | 0.155 ± 0.000 | 0.310 ± 0.000 | 0.930 ± 0.000 "
                       "| 1.500 ± 0.000 | 0.031 (110 s) | 0.044 (160 s) | 2/2 ok |")
    assert f"- bs8_ga2: {REASON_16}" in quality


def test_recommendation_uses_the_memory_fraction_and_the_plans_prediction():
    quality = section(render(), "## tiny-bart")
    # bs8_ga1 is within fold noise and faster, but at 92 % of device memory; bs8_ga2 is the fastest that fits.
    # These cells carry no per-example dev scores, so "no worse" is the 1-std rule, and the reason says so.
    assert ("**Recommendation**: effective batch **16**, trained as **bs8_ga2**: 80.0 samples/s, the fastest of 2 "
            "setting(s) whose ROUGE-Sum 0.930 is within 1 std (0.071) of the best, bs4_ga1 at 0.950; peak memory "
            "6,144 MiB; memory 50% of the device; 1-std rule, not a bootstrap interval: no per-example dev "
            "scores.") in quality
    # predicted: mean of the plan's 90 s and 110 s; measured: mean of 100 s and 120 s
    assert ("One full training of it: predicted **0.028 (100 s) h** by the plan (training and its evaluation), "
            "measured **0.031 (110 s) h** to train and 0.044 (160 s) h to its final ROUGE (mean over 2 fold(s)).") \
        in quality


def test_ga_failed_model_has_a_row_per_split_and_its_failures():
    quality = section(section(render(), "## tiny-llama"), "### Quality (quality phase)")
    rows = [line for line in quality.splitlines() if line.startswith("| 2 |")]
    assert [row.split(" | ")[1] for row in rows] == ["bs1_ga2", "bs2_ga1"]
    assert rows[0].endswith("| 1/2 error, 1/2 ok |")
    assert f"- bs1_ga2, bs2_ga1: {REASON_LLAMA}" in quality
    assert "- bs1_ga2 fold 1: **ERROR** in eval: RuntimeError: boom" in quality


def test_model_without_quality_cells_still_gets_its_speed_table():
    oom = section(render(), "## tiny-oom")
    assert "| bs1_ga1 | 1 | 1 | 1 |" in oom and "_No quality cells for this model._" in oom
    assert "- **Gradient-accumulation equivalence**: **error**: no split ran" in oom
    assert "not measured: fewer than two splits ran" in oom


# ------------------------------------------------------------------------------------------- findings
def test_diagnostics_read_the_profile():
    found = {}
    for f in diagnose(CELLS, PROFILES):
        found.setdefault(f.kind, []).append(f"{f.model}: {f.message}")
    saturation = " / ".join(found["memory saturation"])
    assert "tiny-bart: samples/s falls from 60.0 at bs4_ga2 to 50.0 at bs8_ga2 (-17%)" in saturation
    assert "tiny-bart: bs8_ga1: 2 CUDA allocator retries" in saturation
    assert "tiny-bart: bs8_ga1: memory 92% of the device" in saturation
    assert len(found["memory saturation"]) == 3  # the quality cells of profiled models are not read twice
    ga = found["gradient accumulation"]
    assert f"tiny-llama: profile check **fail**: {GA_FAIL}" in ga
    assert any(g.startswith("tiny-llama: effective batch 2, fold 0: first-step grad norm 2 at bs1_ga2 vs 1 at "
                            "bs2_ga1 (x2.00)") for g in ga)
    assert any(g.startswith("tiny-oom: profile check **error**") for g in ga)
    assert len(found["isolation drift"]) == 1 and found["isolation drift"][0].startswith("tiny-bart: +8.0%")
    assert found["pruned splits"] == [f"tiny-bart: bs16_ga1 oom: {OOM_MESSAGE}",
                                      "tiny-bart: bs16_ga2 skipped: micro-batch 16 ran out of memory, so 16 would too",
                                      "tiny-oom: bs1_ga1 oom: CUDA out of memory"]


def test_diagnostics_section_counts_each_kind():
    diagnostics = section(render(), "## Diagnostics")
    assert "- **Isolation drift**: 1 finding(s)" in diagnostics
    assert "- **Pruned splits**: 3 finding(s)" in diagnostics
    assert "- **Padding waste**: none found." in diagnostics


def test_plan_section_is_rendered():
    md = render()
    assert "## Plan: quick_test, after the profile" in md and md.index("## tiny-oom") < md.index("## Plan:")


# ------------------------------------------------------------------------------------------- files
def test_speed_csv_has_one_row_per_profiled_split():
    rows = list(csv.DictReader(io.StringIO(speed_csv(PROFILES))))
    assert len(rows) == 11
    assert [r["model"] for r in rows] == ["tiny-bart"] * 7 + ["tiny-llama"] * 3 + ["tiny-oom"]
    assert rows[6]["remeasured"] == "True" and rows[4]["status"] == "oom" and rows[5]["status"] == "skipped"
    assert float(rows[1]["memory_fraction"]) == 22 / 24


def test_cli_report_reads_plan_profiles_and_quality_jobs(tmp_path):
    profiles, quality = [], []
    for p in PROFILES:
        profiles.append(str(p.write(tmp_path / "profile" / f"{p.model}.json")))
    for job in JOBS:
        cells = [r for r in CELLS if r.model == job.model]
        job.cells = [str(r.write(tmp_path / "runs" / job.model / f"c{i}" / "metrics.json"))
                     for i, r in enumerate(cells)]
        quality.append(str(job.write(tmp_path / "quality" / f"{job.model}.json")))
    plan = str(PLAN.write(tmp_path / "plan.json"))
    out = tmp_path / "summary.md"
    assert main(["report", "--plan", plan, "--profiles", *profiles, "--quality", *quality, "--out", str(out),
                 "--title", "T"]) == 0
    written = out.read_text(encoding="utf-8")
    assert written.startswith(render()) and "![samples/s against effective batch" in written
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "summary.csv").read_text(encoding="utf-8"))))) == 9
    assert len((tmp_path / "speed.csv").read_text(encoding="utf-8").splitlines()) == 12
    assert (tmp_path / "plots" / "throughput_vs_effective_batch.png").read_bytes()[:4] == b"\x89PNG"
