import pytest

from sumbench.records import CellRecord
from sumbench.report.diagnostics import diagnose, ga_equivalence, memory_saturation
from sumbench.report.recommend import recommend
from sumbench.report.folds import group_by_setting
from sumbench.report.plots import pareto_front
from sumbench.report.speed import split_speeds

GIB = 2**30


def rec(bs, ga, fold=0, rouge_sum=1.0, sps=10.0, peak=GIB, total=24 * GIB, gn=1.0, **kw):
    r = CellRecord(model="m", batch_size=bs, grad_accum=ga, fold=fold, **kw)
    r.rouge_sum, r.samples_per_s, r.peak_memory_bytes, r.cuda_device_total_bytes = rouge_sum, sps, peak, total
    r.grad_norm_first = gn
    return r


def speeds(records):
    """Split speeds of cells alone (no profile), as a report of bare metrics.json files sees them."""
    return split_speeds([], group_by_setting(records))


def test_recommends_fastest_within_fold_noise_and_memory():
    records = [rec(4, 1, 0, 1.00, 10), rec(4, 1, 1, 0.90, 10),  # best mean 0.95, std 0.0707
               rec(8, 1, 0, 0.90, 30), rec(8, 1, 1, 0.90, 30),  # 0.90 >= 0.879: within noise, fastest
               rec(16, 1, 0, 0.50, 90), rec(16, 1, 1, 0.50, 90),  # fast but worse
               rec(32, 1, 0, 0.95, 99, peak=23 * GIB), rec(32, 1, 1, 0.95, 99, peak=23 * GIB)]  # > 90% memory
    pick = recommend(group_by_setting(records))
    assert pick.setting.label == "bs8_ga1"
    assert "30.0 samples/s" in pick.reason and "within 1 std" in pick.reason


def test_saturation_is_flagged_when_a_bigger_batch_is_slower_per_sample():
    findings = memory_saturation(speeds([rec(8, 1, sps=100), rec(16, 1, sps=60), rec(32, 1, sps=61)]))
    assert len(findings) == 1 and "from 100.0 at bs8_ga1 to 60.0 at bs16_ga1 (-40%)" in findings[0].message


def test_alloc_retries_and_reserved_memory_are_saturation():
    r = rec(8, 1)
    r.cuda_alloc_retries, r.cuda_max_reserved_bytes = 3, 23 * GIB
    messages = " ".join(f.message for f in memory_saturation(speeds([r])))
    assert "3 CUDA allocator retries" in messages and "memory 96% of the device" in messages


def test_cpu_memory_fraction_is_the_training_machines_not_the_report_machines():
    """On a CPU the recommendation and the saturation finding divide peak RSS by min(host RAM, cgroup limit) of
    the machine that trained, so a setting at 95 % of its 8 GiB cgroup is out, whatever machine reports."""
    tight = [rec(16, 1, f, 1.0, 90, peak=int(7.6 * GIB), total=None, host_memory_bytes=64 * GIB,
                 cgroup_memory_limit_bytes=8 * GIB) for f in (0, 1)]
    roomy = [rec(8, 1, f, 1.0, 30, peak=2 * GIB, total=None, host_memory_bytes=64 * GIB,
                 cgroup_memory_limit_bytes=8 * GIB) for f in (0, 1)]
    assert recommend(group_by_setting(tight + roomy)).setting.batch_size == 8
    assert "bs16_ga1: memory 95% of the device" in " ".join(f.message for f in memory_saturation(speeds(tight)))


def test_ga_non_equivalence_is_flagged_only_beyond_tolerance():
    assert ga_equivalence([rec(8, 1, gn=1.0), rec(4, 2, gn=1.05)]) == []
    bad = ga_equivalence([rec(8, 1, gn=1.0), rec(4, 2, gn=2.0)])
    assert len(bad) == 1 and "x2.00" in bad[0].message and "bs4_ga2" in bad[0].message


def test_padding_truncation_and_spikes():
    r = rec(8, 1)
    r.padding_efficiency, r.source_truncation_rate, r.grad_norm_spikes = 0.3, 0.2, [5]
    r.grad_norm_max, r.grad_norm_median = 40.0, 1.0
    kinds = {f.kind for f in diagnose([r])}
    assert kinds == {"padding waste", "truncation", "gradient spikes"}


def test_pareto_front():
    assert sorted(pareto_front([(1, 5), (2, 4), (3, 1), (1, 1), (2, 2)])) == [0, 1, 2]


@pytest.mark.parametrize("status", ["oom", "error"])
def test_failed_cells_are_neither_recommended_nor_diagnosed(status):
    failed = rec(64, 1, sps=500, rouge_sum=9, status=status)
    assert recommend(group_by_setting([rec(8, 1), failed])).setting.batch_size == 8
    assert ga_equivalence([failed, rec(32, 2, gn=50)]) == []
