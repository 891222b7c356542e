"""Augmentation: the registry, each method's rule, the never-touch-tags guarantee, ratio/seed/cap, the
generative methods on a tiny twin, and the training set a cell is checked against."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sumbench import korean
from sumbench.data import augment as A
from sumbench.config.augment import AugmentSettings, SynonymSettings
from sumbench.data.augment import Augmenter, augment_examples, parse_augmentation, split_fname
from sumbench.data.augment.generative import _TurnRewriter
from sumbench.data.augment.registry import rename_tags, specials, turns
from sumbench.data.augment.synonym import LEXICON, load_lexicon
from sumbench.data.corpus import Example, load_csv, write_csv
from sumbench.data.split import cap, write_folds
from sumbench.data.synth import synthesize
from sumbench.data.trainset import cell_train_set, load_train_set, prepare_train_set
from sumbench.errors import ConfigError, DataError
from sumbench.korean import SPECIAL_TOKEN_RE, josa

CHEAP = ("speaker_swap", "synonym", "turn_shuffle")


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return synthesize(160, seed=5)


def ex(dialogue: str, summary: str = "#Person1#은 #Person2#에게 식당을 예약한다.", fname: str = "t1") -> Example:
    return Example(fname, dialogue, summary, "식당 예약")


# ------------------------------------------------------------------------------------------ registry
def test_registry_names_and_parsing():
    assert set(CHEAP) | {"back_translation", "paraphrase"} <= set(A.REGISTRY)
    assert parse_augmentation("none") == ()
    assert parse_augmentation("speaker_swap+synonym") == ("speaker_swap", "synonym")
    with pytest.raises(ConfigError, match=r"unknown augmentation 'synonyms' \(known: none, back_translation"):
        parse_augmentation("speaker_swap+synonyms")
    with pytest.raises(ConfigError, match="'none' cannot be combined"):
        parse_augmentation("none+synonym")
    with pytest.raises(ConfigError, match="names a method twice"):
        parse_augmentation("synonym+synonym")


def test_registering_a_duplicate_name_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        @A.register
        class Again(Augmenter):
            name = "synonym"


# ------------------------------------------------------------------------------------------ speaker_swap
@pytest.mark.parametrize("tag, particle, fitted", [
    ("#Person1#", "는", "은"), ("#Person2#", "은", "는"), ("#Person1#", "가", "이"), ("#Person2#", "이", "가"),
    ("#Person1#", "와", "과"), ("#Person2#", "과", "와"), ("#Person1#", "으로", "로"), ("#Person3#", "로", "으로"),
    ("#Person2#", "을", "를"), ("#Person1#", "예요", "이에요"), ("#Person1#", "요", "이요"), ("#Person2#", "이랑", "랑"),
])
def test_particle_fits_the_tag_read_aloud(tag, particle, fitted):
    assert josa(tag, particle) == fitted


def test_speaker_swap_swaps_dialogue_and_summary_and_refits_particles():
    e = ex("#Person1#: 안녕하세요, 제 번호는 #PhoneNumber#예요.\n#Person2#: 네, #Person1#님 확인했습니다.\n#Person3#: 저도요.",
           "#Person1#은 #Person2#에게 연락처를 알리고, #Person2#가 #Person1#과 #Person3#을 안내한다.")
    out = A.REGISTRY["speaker_swap"](AugmentSettings()).augment_one(e, random.Random(0))
    assert out.dialogue == ("#Person2#: 안녕하세요, 제 번호는 #PhoneNumber#예요.\n#Person1#: 네, #Person2#님 확인했습니다."
                            "\n#Person3#: 저도요.")
    assert out.summary == "#Person2#는 #Person1#에게 연락처를 알리고, #Person1#이 #Person2#와 #Person3#을 안내한다."


def test_speaker_swap_needs_two_speakers():
    assert A.REGISTRY["speaker_swap"](AugmentSettings()).augment_one(ex("#Person1#: 혼잣말이에요."), random.Random(0)) is None


# ------------------------------------------------------------------------------------------ turn_shuffle
DIALOGUE = "\n".join([
    "#Person1#: 안녕하세요. 예약하려고요.",           # 0 opens: never moves
    "#Person2#: 네, 몇 분이세요?",                   # 1 a question that is also the answer to nothing before it
    "#Person1#: 네 명이요.",                         # 2
    "#Person2#: 창가 자리로 드릴까요?",               # 3
    "#Person1#: 네, 좋아요.",                        # 4
    "#Person2#: 연락처를 알려 주시겠어요?",           # 5
    "#Person1#: #PhoneNumber#예요.",                # 6
    "#Person2#: 예약되었습니다.",                    # 7 closes: never moves
])


def test_turn_shuffle_swaps_two_adjacent_question_answer_pairs():
    method = A.REGISTRY["turn_shuffle"](AugmentSettings())
    parts = turns(DIALOGUE)
    assert method.swappable(parts) == [1, 3]
    out = method.augment_one(ex(DIALOGUE), random.Random(0))
    new = turns(out.dialogue)
    assert Counter(new) == Counter(parts) and new[0] == parts[0] and new[-1] == parts[-1]
    i = next(i for i in range(len(parts)) if new[i] != parts[i])
    assert new[i:i + 4] == parts[i + 2:i + 4] + parts[i:i + 2]  # each question keeps its answer
    assert out.summary == ex(DIALOGUE).summary


def test_turn_shuffle_leaves_back_references_and_answers_to_questions_in_place():
    method = A.REGISTRY["turn_shuffle"](AugmentSettings())
    back_ref = DIALOGUE.replace("창가 자리로 드릴까요?", "그럼 창가 자리로 드릴까요?")
    assert method.swappable(turns(back_ref)) == []
    answering = DIALOGUE.replace("안녕하세요. 예약하려고요.", "예약할 수 있나요?")  # turn 1 now answers turn 0
    assert 1 not in method.swappable(turns(answering))
    assert method.augment_one(ex("#Person1#: 안녕?\n#Person2#: 응.\n#Person1#: 잘 가."), random.Random(0)) is None


# ------------------------------------------------------------------------------------------ synonym
def test_shipped_lexicon_entries_are_tagged_as_kiwipiepy_tags_them():
    lexicon = load_lexicon(str(LEXICON))
    analyser = korean.kiwi()
    assert len(lexicon) >= 80
    for form, tag in {m for members in lexicon.values() for m in members}:
        probe = form + "다" if tag.startswith(("VV", "VA")) else form
        first = analyser.tokenize(probe)[0]
        assert (first.form, first.tag) == (form, tag), probe


def test_synonym_is_morpheme_aware_and_consistent_between_dialogue_and_summary():
    e = ex("#Person1#: 식당을 같이 찾았어요. 자리가 있어요?\n#Person2#: 네, 자리가 있어요. 오기 힘들어요?",
           "#Person1#은 #Person2#와 같이 식당을 찾는다.")
    settings = AugmentSettings(synonym=SynonymSettings(p=1.0))
    out = A.REGISTRY["synonym"](settings).augment_one(e, random.Random(1))
    assert "음식점을" in out.dialogue and "음식점을" in out.summary  # particle re-fitted by kiwipiepy
    assert "함께" in out.dialogue and "함께" in out.summary
    assert "좌석이" in out.dialogue and "어려워요?" in out.dialogue  # 자리가 -> 좌석이, 힘들어요 -> 어려워요
    assert SPECIAL_TOKEN_RE.findall(out.dialogue) == SPECIAL_TOKEN_RE.findall(e.dialogue)


def test_lexicon_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "lex.tsv"
    bad.write_text("# comment\n식당/NNG\t음식점/NNG\n가게/XYZ\t상점/NNG\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"lex.tsv:3: entry '가게/XYZ'"):
        load_lexicon(str(bad))
    dup = tmp_path / "dup.tsv"
    dup.write_text("식당/NNG\t음식점/NNG\n음식점/NNG\t레스토랑/NNG\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dup.tsv:2: 음식점/NNG is already in the group on line 1"):
        load_lexicon(str(dup))


# ------------------------------------------------------------------------------------------ the driver
def test_every_copy_keeps_speaker_tags_and_pii_masks_per_turn(corpus):
    out, added = augment_examples(corpus, CHEAP, AugmentSettings(ratio=1.0), seed=3)
    originals = {e.fname: e for e in corpus}
    assert out[:len(corpus)] == corpus  # originals first, untouched
    assert added["speaker_swap"] >= 0.9 * len(corpus) and added["synonym"] >= 0.8 * len(corpus)
    assert added["turn_shuffle"] >= 10
    for copy in out[len(corpus):]:
        base, method = split_fname(copy.fname)
        orig = originals[base]
        rename = A.REGISTRY[method].tag_map
        expect = [(rename.get(tag, tag), sorted(specials(rename_tags(text, rename)).elements()))
                  for tag, text in turns(orig.dialogue)]
        got = [(tag, sorted(specials(text).elements())) for tag, text in turns(copy.dialogue)]
        assert Counter(map(str, got)) == Counter(map(str, expect)), copy.fname
        assert specials(copy.summary) == specials(rename_tags(orig.summary, rename))
        assert copy.topic == orig.topic and (copy.dialogue, copy.summary) != (orig.dialogue, orig.summary)


def test_ratio_sets_copies_per_method_and_seed_makes_it_deterministic(corpus):
    settings = AugmentSettings(ratio=0.25)
    a, added = augment_examples(corpus, ("speaker_swap", "synonym"), settings, seed=7)
    b, _ = augment_examples(corpus, ("speaker_swap", "synonym"), settings, seed=7)
    c, _ = augment_examples(corpus, ("speaker_swap", "synonym"), settings, seed=8)
    assert added == {"speaker_swap": 40, "synonym": 40} and len(a) == 240
    assert a == b and a != c
    assert len({e.fname for e in a}) == len(a)


def test_a_copy_depends_only_on_seed_method_and_fname(corpus):
    """So a cap changes which originals are copied, never what a copy of a given original looks like."""
    full, _ = augment_examples(corpus, ("synonym",), AugmentSettings(ratio=1.0), seed=2)
    part, _ = augment_examples(corpus[:40], ("synonym",), AugmentSettings(ratio=1.0), seed=2)
    by_name = {e.fname: e for e in full}
    assert all(by_name[e.fname] == e for e in part[40:])


def test_the_guard_rejects_a_method_that_touches_a_pii_mask(corpus):
    @A.register
    class Leaky(Augmenter):
        name = "leaky_test_only"

        def augment_one(self, example, rng):
            return dataclasses.replace(example, dialogue=example.dialogue.replace("#PhoneNumber#", "010-1234-5678")
                                       .replace("요.", "요!"))
    try:
        with_mask = [e for e in corpus if "#PhoneNumber#" in e.dialogue]
        out, added = augment_examples(corpus, ("leaky_test_only",), AugmentSettings(ratio=1.0), seed=0)
        assert with_mask and not any(split_fname(e.fname)[0] in {w.fname for w in with_mask} for e in out[len(corpus):])
        assert 0 < added["leaky_test_only"] < len(corpus)
    finally:
        del A.REGISTRY["leaky_test_only"]


def test_settings_name_the_bad_key():
    with pytest.raises(ConfigError, match=r"cfg: unknown key 'synonym.prob' \(allowed: lexicon, p\)"):
        AugmentSettings.from_config({"synonym": {"prob": 0.2}}, "cfg")
    with pytest.raises(ConfigError, match=r"cfg: key 'ratio': 1.5 is greater than the maximum of 1"):
        AugmentSettings.from_config({"ratio": 1.5}, "cfg")
    with pytest.raises(ConfigError, match=r"--set: key 'back_translation.num_beams': 'four' is not of type 'integer'"):
        AugmentSettings.parse(None, "--set", ["back_translation.num_beams=four"])
    s = AugmentSettings.parse(None, "--set", ["ratio=0.2", "back_translation.model=/x/y", "paraphrase.prefix=paraphrase: "])
    assert (s.ratio, s.back_translation.model, s.paraphrase.prefix) == (0.2, "/x/y", "paraphrase: ")
    with pytest.raises(ConfigError, match=r"back_translation needs a seq2seq model, but key 'back_translation.model' is not set"):
        augment_examples(synthesize(3, 0), ("back_translation",), AugmentSettings(), seed=0)


def test_settings_parse_json_yaml_or_a_file_and_name_where_they_came_from(tmp_path):
    expected = AugmentSettings(ratio=0.25, synonym=SynonymSettings(p=0.5), source="--settings")
    assert AugmentSettings.parse('{"ratio": 0.25, "synonym": {"p": 0.5}}', "--settings") == expected
    assert AugmentSettings.parse("{ratio: 0.25, synonym: {p: 0.5}}", "--settings") == expected
    assert AugmentSettings.parse(None, "--settings") == AugmentSettings(source="--settings")
    assert AugmentSettings.parse("{ratio: 0.25}", "--settings", ["synonym.p=0.5"]) == expected
    path = tmp_path / "aug.yaml"
    path.write_text("ratio: 0.25\nsynonym:\n  p: 0.5\n", encoding="utf-8")
    assert AugmentSettings.parse(str(path), "--settings").to_dict() == expected.to_dict()
    path.write_text("ratio: 0.25\nsynonym: {prob: 0.5}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"aug.yaml: unknown key 'synonym.prob'"):
        AugmentSettings.parse(str(path), "--settings")
    with pytest.raises(ConfigError, match=r"--settings: not valid JSON or YAML at line 1"):
        AugmentSettings.parse('{"ratio": 0.25', "--settings")
    with pytest.raises(ConfigError, match=r"--settings: 'missing.yaml' is neither a mapping of settings .* nor a file"):
        AugmentSettings.parse("missing.yaml", "--settings")
    path.write_text("- ratio: 0.25\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"aug.yaml: expected a mapping of settings, got a list"):
        AugmentSettings.parse(str(path), "--settings")


def test_an_unloadable_model_is_one_line(tmp_path):
    s = AugmentSettings.parse(None, "--set", [f"paraphrase.model={tmp_path / 'nothing'}"])
    with pytest.raises(ConfigError) as exc:
        augment_examples(synthesize(3, 0), ("paraphrase",), s, seed=0)
    assert "paraphrase.model" in str(exc.value) and "cannot load a seq2seq model" in str(exc.value)
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------------------------------ folds, caps, files
@pytest.fixture(scope="module")
def folds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("augfolds")
    write_csv(root / "train.csv", synthesize(60, seed=1))
    write_csv(root / "dev.csv", [dataclasses.replace(e, fname=f"dev_{i}") for i, e in enumerate(synthesize(8, seed=99))])
    write_folds(root / "train.csv", root / "dev.csv", k=2, seed=4, out_dir=root / "folds")
    return root / "folds"


def test_prepare_caps_originals_first_then_augments(folds, tmp_path):
    paths = prepare_train_set(folds, 1, "speaker_swap+turn_shuffle", max_train_samples=20, seed=4,
                              settings=AugmentSettings(ratio=0.5), out_dir=tmp_path / "aug")
    rows = load_csv(paths[0])
    info = json.loads(paths[1].read_text(encoding="utf-8"))
    fold_train = load_csv(folds / "fold1" / "train.csv")
    assert rows[:20] == cap(fold_train, 20, seed=4)
    assert info["originals"] == 20 and info["added"]["speaker_swap"] == 10 and len(rows) == info["examples"]
    assert load_train_set(paths[0], fold_train, folds / "fold1" / "train.csv", ("speaker_swap", "turn_shuffle"), 20) == rows


def test_a_training_set_is_checked_against_its_fold(folds, tmp_path):
    fold_train = load_csv(folds / "fold0" / "train.csv")
    heldout = load_csv(folds / "fold0" / "heldout.csv")
    leak = tmp_path / "leak.csv"
    write_csv(leak, fold_train[:5] + heldout[:1])
    with pytest.raises(DataError, match=rf"leak.csv:\d+: fname '{heldout[0].fname}' is not in .*fold0/train.csv"):
        load_train_set(leak, fold_train, folds / "fold0" / "train.csv", (), 6)
    short = tmp_path / "short.csv"
    write_csv(short, fold_train[:5])
    with pytest.raises(DataError, match="short.csv: 5 original examples, expected 30"):
        load_train_set(short, fold_train, folds / "fold0" / "train.csv", (), None)
    other = tmp_path / "other.csv"
    write_csv(other, fold_train[:5] + [dataclasses.replace(fold_train[0], fname=fold_train[0].fname + "::synonym")])
    with pytest.raises(DataError, match="a 'synonym' copy, but the cell's augmentation is 'speaker_swap'"):
        load_train_set(other, fold_train, folds / "fold0" / "train.csv", ("speaker_swap",), 5)


def test_cli_augment_writes_train_csv_and_info(folds, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", "data", "augment", "--data", str(folds), "--fold", "0",
                           "--augmentation", "speaker_swap", "--max-train-samples", "10", "--ratio", "1", "--seed", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(load_csv(out / "train.csv")) == 20
    assert json.loads((out / "augment.json").read_text(encoding="utf-8"))["added"] == {"speaker_swap": 10}


# ------------------------------------------------------------------------------------------ generative, tiny twin
@pytest.fixture(scope="module")
def twin(tmp_path_factory, folds) -> Path:
    """A tiny-bart twin (seeded random init, tokenizer trained on the corpus), loadable like a hub seq2seq model.
    It rewrites every turn into a repeated word: nonsense, but decodable text without #...# tokens."""
    import torch

    from sumbench.config.model import load_model
    from sumbench.training.warmstart import warmstart

    out = tmp_path_factory.mktemp("twin") / "tiny-bart"
    spec = load_model("tiny-bart", overrides=["tiny.warmstart_corpus_size=40", "tiny.vocab_size=2000"])
    torch.manual_seed(0)
    return warmstart(spec, folds / "fold0" / "train.csv", out, steps=0)


@pytest.mark.parametrize("method", ["back_translation", "paraphrase"])
def test_generative_methods_run_on_a_tiny_twin(twin, corpus, method):
    settings = AugmentSettings.from_config({"ratio": 1.0, method: {"model": str(twin), "max_new_tokens": 6,
                                                                    "batch_size": 64}}, "test")
    first, added = augment_examples(corpus[:6], (method,), settings, seed=0)
    again, _ = augment_examples(corpus[:6], (method,), settings, seed=0)
    assert first == again and added[method] >= 1
    originals = {e.fname: e for e in corpus}
    for copy in first[6:]:
        orig = originals[split_fname(copy.fname)[0]]
        assert copy.summary == orig.summary  # the label is kept
        assert [(t, sorted(specials(x).elements())) for t, x in turns(copy.dialogue)] == \
               [(t, sorted(specials(x).elements())) for t, x in turns(orig.dialogue)]


def test_turn_rewriter_keeps_only_clean_rewrites():
    """A rewritten turn is kept only if it is non-empty, changed, decodable and has the same #...# tokens."""
    class Stub(_TurnRewriter):
        name, section = "stub", "paraphrase"

        def __init__(self):  # no model
            self.settings = AugmentSettings()

        def rewrite(self, texts):
            table = {"전화번호는 #PhoneNumber#예요.": "번호는 #PhoneNumber#입니다.",  # kept: same mask
                     "네, 알겠습니다.": "네, #Address#로 갈게요.",                 # dropped: a new mask
                     "감사합니다.": "감\ufffd합니다.",                            # dropped: broken text
                     "안녕하세요.": "안녕하세요."}                                 # unchanged
            return [table.get(t, "") for t in texts]

    a = ex("#Person1#: 전화번호는 #PhoneNumber#예요.\n#Person2#: 네, 알겠습니다.")
    b = ex("#Person1#: 안녕하세요.\n#Person2#: 감사합니다.", fname="t2")
    out = Stub().augment_batch([a, b], [random.Random(0)] * 2)
    assert out[0].dialogue == "#Person1#: 번호는 #PhoneNumber#입니다.\n#Person2#: 네, 알겠습니다."
    assert out[0].summary == a.summary and out[1] is None


# ------------------------------------------------------------------------------------------ the grid's axes
def shipped_grid(name: str):
    import yaml

    from sumbench.config.grid import load_grids
    from sumbench.config.schema import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "configs" / "config.yaml").read_text(encoding="utf-8"))
    return config, load_grids(config)[name]


def test_grid_routes_capped_or_augmented_cells_through_the_augment_rule():
    from sumbench.config.grid import load_grids

    config, grid = shipped_grid("quick_aug")
    assert len(grid.augmentation) >= 2 and "none" in grid.augmentation and len(grid.max_train_samples) >= 2
    assert grid.train_set("none", "all", 0) is None  # the fold's own train.csv
    assert grid.train_set("none", "50", 1) == "results/quick_aug/data/train/aug-none_cap-50/fold1/train.csv"
    section = {"ratio": 0.25, "paraphrase": {"model": "my dir", "prefix": ""}}
    config["grids"]["quick_aug"]["augment"] = section
    grid = load_grids(config)["quick_aug"]
    options = grid.augment_options("50")
    assert options[:5] == ["--seed", "42", "--max-train-samples", "50", "--settings"] and len(options) == 6
    assert json.loads(options[5]) == section  # the whole section, one structured argument
    assert grid.augment_options("all")[:2] == ["--seed", "42"] and "--max-train-samples" not in grid.augment_options("all")
    parsed = AugmentSettings.parse(options[5], "--settings")
    assert parsed.to_dict() == AugmentSettings.from_config(section, "grid").to_dict()
    assert (parsed.paraphrase.model, parsed.paraphrase.prefix, parsed.ratio) == ("my dir", "", 0.25)


def _as_rows(examples: list[Example]) -> list[tuple[str, str, str | None]]:
    return [(e.fname, e.dialogue, e.summary) for e in examples]


AUGMENTED_CELL = ("speaker_swap+synonym", 50, 0)  # (augmentation, cap, fold) of a quick_aug cell


@pytest.fixture(scope="module")
def quick_aug_rule_output(tmp_path_factory) -> Path:
    """A scratch copy of the repo in which Snakemake ran the quick_aug grid's `augment` rule for AUGMENTED_CELL
    (after its synth_data and split_folds rules): the training set exactly as the workflow makes it."""
    import shutil

    from sumbench.config.schema import REPO_ROOT

    repo = tmp_path_factory.mktemp("workflow") / "repo"
    shutil.copytree(REPO_ROOT, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache"))
    augmentation, cap_, fold = AUGMENTED_CELL
    _, grid = shipped_grid("quick_aug")
    target = grid.train_set(augmentation, str(cap_), fold)
    proc = subprocess.run(["snakemake", "--cores", "1", "--printshellcmds", target], cwd=repo, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "--settings" in proc.stdout + proc.stderr  # the rule passes the grid's `augment:` section whole
    return repo


def test_the_augment_rule_and_train_without_train_csv_give_the_same_examples(quick_aug_rule_output):
    """The workflow's `augment` rule and `sumbench train` without --train-csv (cell_train_set with the grid's
    seed and `augment:` settings) train a cell on identical examples, in the same order."""
    _, grid = shipped_grid("quick_aug")
    augmentation, cap_, fold = AUGMENTED_CELL
    assert augmentation in grid.augmentation and cap_ in grid.max_train_samples
    folds = quick_aug_rule_output / grid.root / "data" / "folds"
    by_rule = quick_aug_rule_output / grid.train_set(augmentation, str(cap_), fold)
    settings = grid.augment_settings()
    in_memory = cell_train_set(folds, fold, augmentation, max_train_samples=cap_, seed=grid.seed, settings=settings)
    assert _as_rows(in_memory) == _as_rows(load_csv(by_rule))
    methods = Counter(split_fname(e.fname)[1] for e in in_memory)
    assert methods == {None: 50, "speaker_swap": 25, "synonym": 25}  # ratio 0.5 of 50 originals, per method
    # the rule's file read back as `sumbench train --train-csv` reads it: the same examples again
    assert cell_train_set(folds, fold, augmentation, max_train_samples=cap_, seed=grid.seed, train_csv=by_rule) == \
        in_memory
    # the grid's seed is what makes them equal: another seed caps other originals
    other = cell_train_set(folds, fold, augmentation, max_train_samples=cap_, seed=grid.seed + 1, settings=settings)
    assert _as_rows(other) != _as_rows(in_memory)
