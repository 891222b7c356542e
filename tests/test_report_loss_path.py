"""The report says which loss path (summary or full logits, and why) every profile split and quality cell took."""

from __future__ import annotations

from sumbench.records import CellRecord, ModelProfile, SplitProfile
from sumbench.report.folds import group_by_setting
from sumbench.report.quality import quality_section
from sumbench.report.speed import speed_table

SUMMARY = ("summary", "training.logits: summary; the head is a plain linear map of the hidden states")
FULL = ("full", "training.logits: summary is not possible: its logits are not a plain linear map")


def split(bs: int, ga: int, path: tuple[str, str] | None, **kw) -> SplitProfile:
    return SplitProfile(batch_size=bs, grad_accum=ga, samples_per_s=1.0, s_per_step_median=1.0,
                        loss_path=path[0] if path else None, loss_path_reason=path[1] if path else None, **kw)


def test_one_sentence_when_every_split_took_the_same_path():
    profile = ModelProfile(model="m", splits=[split(2, 1, SUMMARY), split(1, 2, SUMMARY),
                                              split(4, 1, None, status="oom", message="out of memory")])
    assert f"Loss from **summary logits** in every split: {SUMMARY[1]}." in speed_table(profile)


def test_splits_that_took_another_path_are_named():
    profile = ModelProfile(model="m", splits=[split(2, 1, SUMMARY), split(1, 2, FULL),
                                              split(2, 1, FULL, remeasured=True)])
    lines = speed_table(profile)
    assert "Loss paths **differ** between splits:" in lines
    assert f"- **summary logits** ({SUMMARY[1]}): bs2_ga1" in lines
    assert f"- **full logits** ({FULL[1]}): bs1_ga2, bs2_ga1 (again)" in lines


def test_quality_cells_and_records_without_a_path():
    cells = [CellRecord(model="m", batch_size=2, grad_accum=1, fold=f, loss_path="full",
                        loss_path_reason="seq2seq: the loss is on the decoder's logits") for f in (0, 1)]
    text = "\n".join(quality_section(group_by_setting(cells), None, {}))
    assert "Loss from **full logits** in every cell: seq2seq: the loss is on the decoder's logits." in text
    older = [CellRecord(model="m", batch_size=2, grad_accum=1, fold=0)]  # written before records had a loss path
    assert "Loss " not in "\n".join(quality_section(group_by_setting(older), None, {}))
