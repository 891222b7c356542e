"""Token-length and truncation statistics of a training set, computed at train time and stored in the record."""

from __future__ import annotations

from sumbench.data.corpus import Example
from sumbench.data.stats import data_statistics, quantiles


def test_data_statistics_counts_originals_tokens_and_copies(toy_tokenizer):
    train = [Example("a", "#Person1#: 안녕하세요 오늘 식당 예약", "#Person1#은 예약한다", "식당 예약"),
             Example("b", "#Person1#: 병원 진료 시간 " * 20, "#Person1#은 묻는다", "병원 진료"),
             Example("a::speaker_swap", "#Person2#: 안녕하세요 오늘 식당 예약", "#Person2#는 예약한다", "식당 예약")]
    s = data_statistics(train, toy_tokenizer, source_len=16, target_len=64)
    assert s["examples"] == 2 and s["augmented"] == {"speaker_swap": 1}
    assert s["topics"] == {"식당 예약": 1, "병원 진료": 1}
    assert s["dialogue_over_source_len"] == 0.5 and s["summary_over_target_len"] == 0.0
    assert s["dialogue_tokens"]["max"] > 16 >= s["dialogue_tokens"]["min"]


def test_quantiles_nearest_rank():
    q = quantiles(list(range(1, 101)))
    assert (q["min"], q["p10"], q["p50"], q["p90"], q["max"], q["mean"]) == (1, 10, 50, 90, 100, 50.5)
    assert quantiles([]) == {}
