"""Korean text helpers (sumbench.korean): the two tag patterns and the one shared analyser. Particle choice is
tested where it is used: tests/test_data_synth.py (after words in templates) and tests/test_augment.py (after
speaker tags, in speaker_swap)."""

from __future__ import annotations

from sumbench import korean
from sumbench.korean import ANY_TAG_RE, PII_MASKS, SPECIAL_TOKEN_RE, TAG_PARTICLE_RE, TURN_RE


def test_the_corpus_pattern_knows_its_masks_and_the_rouge_pattern_keeps_any_tag_whole():
    text = "#Person1#은 #PhoneNumber#로 #Foo2# 보냈다"
    assert SPECIAL_TOKEN_RE.findall(text) == ["#Person1#", "#PhoneNumber#"]  # only the corpus's own tokens
    assert ANY_TAG_RE.findall(text) == ["#Person1#", "#PhoneNumber#", "#Foo2#"]  # a model may write any of them
    assert all(ANY_TAG_RE.fullmatch(mask) for mask in PII_MASKS)
    assert TURN_RE.findall("#Person1#: 안녕\n#Person2#: #Person1#: 인용\n그냥 줄") == ["#Person1#", "#Person2#"]


def test_a_particle_after_a_tag_is_matched_only_where_it_ends_the_word():
    found = [m.groups() for m in TAG_PARTICLE_RE.finditer("#Person1#은 #Person2#이에요 #Person1#가방 #Person2#와")]
    assert found == [("#Person1#", "은"), ("#Person2#", "이에요"), ("#Person2#", "와")]


def test_one_analyser_per_process_for_rouge_and_the_synonym_augmentation():
    from sumbench.data.augment import synonym
    from sumbench.evaluation import rouge

    assert synonym.kiwi is korean.kiwi and rouge.kiwi is korean.kiwi  # the same cached loader, not two
    assert rouge.tokenize_ko("#Person1#와 식당을 찾았다")[:2] == ["#Person1#", "와"]
    assert korean.kiwi() is korean.kiwi() and korean.kiwi.cache_info().currsize == 1
