"""Training-data augmentation: registered methods selected by name; ``+`` combines them.

    sumbench data augment --data results/quick_aug/data/folds --fold 0 --augmentation speaker_swap+synonym \\
        --max-train-samples 100 --ratio 0.5 --seed 42 --out /tmp/aug      # -> /tmp/aug/train.csv, augment.json

Order of operations (DESIGN.md §2, step 3): only the training part of a fold is touched; the
``max_train_samples`` cap picks the original examples first; then each method adds
``round(ratio × originals)`` copies of its own, so ``speaker_swap+synonym`` at ratio 0.5 trains on
100 originals + 50 swapped + 50 synonym copies. A method walks a seeded permutation of the originals and
skips those it cannot change (no second speaker, no lexicon word, no swappable turns), so the count is
met whenever enough examples qualify. A rule-based copy is a pure function of ``(seed, method, fname)``
(a generated one also of the batch it was generated in), and its fname is ``<original fname>::<method>``.
The workflow runs this once per (grid, augmentation, cap, fold) (rule ``augment``, seeded by the grid) and
every train job of that setting reads the result through ``sumbench train --train-csv``, which checks it
against the fold (:func:`load_train_set`).

Methods (each a class registered under its name; adding one = adding a class):

- ``speaker_swap``: exchanges ``#Person1#`` and ``#Person2#`` in dialogue and summary alike and re-fits
  the particle after each tag (``#Person1#은`` -> ``#Person2#는``). The label stays correct.
- ``synonym``: morpheme-aware replacement (kiwipiepy) from the shipped lexicon
  ``resources/synonyms_ko.tsv``; a fraction ``p`` of the lexicon words found in the dialogue is replaced,
  with one choice per word applied to dialogue and summary alike, and kiwipiepy re-attaches the particle
  or ending (식당을 -> 음식점을, 힘들어요 -> 어려워요). An eojeol is rewritten only if kiwipiepy's analysis
  of it joins back to the original text exactly.
- ``turn_shuffle``: swaps two adjacent question/answer exchanges. An exchange is a turn ending in ``?``
  answered by another speaker in a turn that does not end in ``?``; neither turn may open with a word that
  points back (그럼, 그래서, 아까 ...), the turn before the pair may not be a question (else the first
  question is also its answer), and the first and the last turn never move. Each question keeps its
  answer, so the facts the summary states stay true; the summary is unchanged.
- ``back_translation``: each turn's text goes source -> pivot -> source through a configured seq2seq model
  (``back_translation.model``, a hub id or local directory; ``reverse_model`` for the way back when it is a
  different model, e.g. a Marian pair; ``src_lang``/``pivot_lang`` for many-to-many models such as NLLB:
  ``kor_Hang``/``eng_Latn``). The summary is the label and is kept.
- ``paraphrase``: each turn's text through a configured Korean paraphrase model (``paraphrase.model``,
  optional ``prefix`` such as ``"paraphrase: "``). The summary is kept.

Every method leaves speaker tags and PII masks alone: a copy whose ``#...#`` tokens (as a multiset, per
turn) differ from the original's is rejected, whatever the method did; for ``speaker_swap`` the
comparison is made after the swap. Generation is greedy or beam search, never sampling, so it is
deterministic too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

from sumbench.data.corpus import SPECIAL_TOKEN_RE, TURN_RE, Example
from sumbench.data.split import cap
from sumbench.errors import ConfigError, DataError, SumbenchError

NONE = "none"
SEPARATOR = "::"  # fname of an augmented copy: "<original fname>::<method>"
LEXICON = Path(__file__).parents[1] / "resources" / "synonyms_ko.tsv"


# ------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SynonymSettings:
    p: float = 0.3  # fraction of the dialogue's lexicon words replaced (at least one)
    lexicon: str | None = None  # another lexicon file in the same format (default: the shipped one)


@dataclass(frozen=True)
class BackTranslationSettings:
    model: str | None = None  # hub id or local directory of a seq2seq model (source -> pivot)
    reverse_model: str | None = None  # pivot -> source (default: `model`, for many-to-many models)
    src_lang: str | None = None  # language code as the tokenizer spells it (NLLB: kor_Hang)
    pivot_lang: str | None = None  # NLLB: eng_Latn
    num_beams: int = 1
    min_new_tokens: int = 1  # a model that stops at once yields no copy rather than an empty turn
    max_new_tokens: int = 128
    batch_size: int = 16


@dataclass(frozen=True)
class ParaphraseSettings:
    model: str | None = None  # hub id or local directory of a Korean seq2seq paraphraser
    prefix: str = ""  # prepended to each input, e.g. "paraphrase: " for T5-style models
    num_beams: int = 1
    min_new_tokens: int = 1  # a model that stops at once yields no copy rather than an empty turn
    max_new_tokens: int = 128
    batch_size: int = 16


@dataclass(frozen=True)
class AugmentSettings:
    """Settings of every method; a grid's ``augment:`` section or ``sumbench data augment --set``."""

    ratio: float = 0.5  # copies added per original example, per method (0 < ratio <= 1)
    synonym: SynonymSettings = field(default_factory=SynonymSettings)
    back_translation: BackTranslationSettings = field(default_factory=BackTranslationSettings)
    paraphrase: ParaphraseSettings = field(default_factory=ParaphraseSettings)
    source: str = "augment"  # where the settings came from, for error messages (not a setting)

    def __post_init__(self) -> None:
        if not 0 < self.ratio <= 1:
            raise ConfigError(f"{self.source}: key 'ratio' must be in (0, 1], got {self.ratio}")
        if not 0 < self.synonym.p <= 1:
            raise ConfigError(f"{self.source}: key 'synonym.p' must be in (0, 1], got {self.synonym.p}")
        for name in ("back_translation", "paraphrase"):
            s = getattr(self, name)
            for key in ("num_beams", "min_new_tokens", "max_new_tokens", "batch_size"):
                if getattr(s, key) < 1:
                    raise ConfigError(f"{self.source}: key '{name}.{key}' must be >= 1, got {getattr(s, key)}")

    @classmethod
    def from_dict(cls, data: dict | None, source: str = "augment") -> AugmentSettings:
        """Typed settings from a (possibly nested) dict; an unknown key or a wrong type names the key."""
        data = dict(data or {})
        kwargs: dict[str, Any] = {}
        sections = {f.name: f.default_factory for f in dataclasses.fields(cls) if f.name not in ("ratio", "source")}
        for key, value in data.items():
            if key == "ratio":
                kwargs[key] = _typed(value, (int, float), source, key)
            elif key in sections:
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: key {key!r} must be a mapping, got {value!r}")
                section_cls = type(sections[key]())
                known = {f.name: f for f in dataclasses.fields(section_cls)}
                for sub, sub_value in value.items():
                    if sub not in known:
                        raise ConfigError(f"{source}: unknown key '{key}.{sub}' (allowed: {', '.join(known)})")
                    kwargs.setdefault(key, {})[sub] = _typed(sub_value, _types(known[sub]), source, f"{key}.{sub}")
                kwargs[key] = section_cls(**kwargs.get(key, {}))
            else:
                raise ConfigError(f"{source}: unknown key {key!r} (allowed: ratio, {', '.join(sections)})")
        return cls(source=source, **kwargs)

    @classmethod
    def from_overrides(cls, overrides: Sequence[str], base: dict | None = None,
                       source: str = "augment") -> AugmentSettings:
        """``KEY=VALUE`` items (``ratio=0.3``, ``back_translation.model=DIR``) on top of ``base``."""
        from sumbench.overrides import parse_value

        data = json.loads(json.dumps(base or {}))
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. synonym.p=0.2")
            parts = key.split(".")
            if len(parts) > 2:
                raise ConfigError(f"--set {item!r}: unknown key {key!r}")
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            value = raw if parts[-1] in ("model", "reverse_model", "lexicon", "prefix", "src_lang", "pivot_lang") \
                else parse_value(raw)
            node[parts[-1]] = None if raw in ("null", "") and parts[-1] != "prefix" else value
        return cls.from_dict(data, source)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        return data


def _types(f: dataclasses.Field) -> tuple[type, ...]:
    text = str(f.type)
    types: tuple[type, ...] = ()
    if "str" in text:
        types += (str,)
    if "float" in text:
        types += (int, float)
    elif "int" in text:
        types += (int,)
    if "None" in text:
        types += (type(None),)
    return types


def _typed(value: Any, types: tuple[type, ...], source: str, key: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, types):
        wanted = " or ".join(sorted({"null" if t is type(None) else t.__name__ for t in types}))
        raise ConfigError(f"{source}: key {key!r} must be {wanted}, got {value!r}")
    return value


# ------------------------------------------------------------------------------------------- registry
REGISTRY: dict[str, type[Augmenter]] = {}


def register(cls: type[Augmenter]) -> type[Augmenter]:
    """Class decorator: make ``cls`` selectable by ``cls.name``; a duplicate name is an error."""
    if not re.fullmatch(r"[a-z_]+", cls.name) or cls.name == NONE:
        raise ValueError(f"augmentation name {cls.name!r} must match [a-z_]+ and not be {NONE!r}")
    if cls.name in REGISTRY:
        raise ValueError(f"augmentation {cls.name!r} is already registered by {REGISTRY[cls.name].__qualname__}")
    REGISTRY[cls.name] = cls
    return cls


def parse_augmentation(spec: str, where: str = "--augmentation") -> tuple[str, ...]:
    """``"none"`` -> ``()``; ``"speaker_swap+synonym"`` -> ``("speaker_swap", "synonym")``."""
    if spec == NONE:
        return ()
    names = tuple(spec.split("+"))
    for name in names:
        if name == NONE:
            raise ConfigError(f"{where}: {spec!r}: 'none' cannot be combined with other methods")
        if name not in REGISTRY:
            raise ConfigError(f"{where}: unknown augmentation {name!r} (known: none, {', '.join(sorted(REGISTRY))})")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: {spec!r} names a method twice")
    return names


def check_settings(spec: str, settings: AugmentSettings, where: str = "--augmentation") -> tuple[str, ...]:
    """Parse ``spec`` and check that each method has what it needs (e.g. a model), without loading it."""
    names = parse_augmentation(spec, where)
    for name in names:
        REGISTRY[name].check(settings)
    return names


def split_fname(fname: str) -> tuple[str, str | None]:
    """``"train_0001::synonym"`` -> ``("train_0001", "synonym")``; an original -> ``(fname, None)``."""
    base, sep, method = fname.rpartition(SEPARATOR)
    return (base, method) if sep else (fname, None)


# ------------------------------------------------------------------------------------- dialogue parts
def turns(dialogue: str) -> list[tuple[str, str]]:
    """``[(tag, text), ...]`` for a dialogue of ``#PersonN#: text`` lines (a line without a tag joins the previous)."""
    out: list[tuple[str, str]] = []
    for line in dialogue.split("\n"):
        m = TURN_RE.match(line)
        if m:
            out.append((m.group(1), line[m.end():].strip()))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
        else:
            out.append(("", line))
    return out


def join_turns(parts: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"{tag}: {text}" if tag else text for tag, text in parts)


def specials(text: str) -> Counter:
    return Counter(SPECIAL_TOKEN_RE.findall(text))


def _turn_signature(dialogue: str) -> Counter:
    """Multiset of (speaker, special tokens in the turn) pairs: what no method may change."""
    return Counter((tag, tuple(sorted(specials(text).elements()))) for tag, text in turns(dialogue))


# ----------------------------------------------------------------------------------------- the methods
class Augmenter:
    """Base class. Subclasses set ``name`` and implement :meth:`augment_one` (or :meth:`augment_batch`)."""

    name: ClassVar[str]
    # tag renaming this method applies by design (speaker_swap); everything else must come back unchanged
    tag_map: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: AugmentSettings):
        self.check(settings)
        self.settings = settings

    @classmethod
    def check(cls, settings: AugmentSettings) -> None:
        """Raise ConfigError if ``settings`` lack what this method needs (cheap; loads nothing)."""

    def augment_one(self, example: Example, rng: random.Random) -> Example | None:
        raise NotImplementedError

    def augment_batch(self, examples: Sequence[Example], rngs: Sequence[random.Random]) -> list[Example | None]:
        return [self.augment_one(ex, rng) for ex, rng in zip(examples, rngs)]


def _rename(text: str, mapping: dict[str, str]) -> str:
    return SPECIAL_TOKEN_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), text) if mapping else text


# Particles whose form depends on the final consonant of the word before them: (after a consonant, after a vowel).
_PARTICLES = (("이라고", "라고"), ("이에요", "예요"), ("이랑", "랑"), ("이면", "면"), ("이야", "야"), ("이나", "나"),
              ("으로", "로"), ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"))
_PARTICLE_FORMS = {form: pair for pair in _PARTICLES for form in pair}
_PARTICLE_RE = re.compile(r"(#Person\d+#)(" + "|".join(sorted(_PARTICLE_FORMS, key=len, reverse=True)) + r")(?![가-힣])")
# Final consonant of each digit's reading (영 일 이 삼 사 오 육 칠 팔 구): None, "ㄹ" or another consonant.
_DIGIT_CODA = dict(zip("0123456789", ("ㅇ", "ㄹ", None, "ㅁ", None, None, "ㄱ", "ㄹ", "ㄹ", None)))


def fit_particle(tag: str, particle: str) -> str:
    """The form of ``particle`` that fits after a speaker tag read aloud (``#Person2#`` ends in 이: no coda)."""
    with_coda, without_coda = _PARTICLE_FORMS[particle]
    coda = _DIGIT_CODA[tag.rstrip("#")[-1]]
    if with_coda == "으로":
        return "로" if coda in (None, "ㄹ") else "으로"
    return with_coda if coda else without_coda


@register
class SpeakerSwap(Augmenter):
    """Swap ``#Person1#`` and ``#Person2#`` in dialogue and summary; re-fit the particles after them."""

    name = "speaker_swap"
    tag_map = {"#Person1#": "#Person2#", "#Person2#": "#Person1#"}

    def augment_one(self, example, rng):
        present = specials(example.dialogue)
        if not (present["#Person1#"] and present["#Person2#"]):
            return None

        def swap(text: str | None) -> str | None:
            if text is None:
                return None
            text = _rename(text, self.tag_map)
            return _PARTICLE_RE.sub(lambda m: m.group(1) + fit_particle(m.group(1), m.group(2)), text)

        return dataclasses.replace(example, dialogue=swap(example.dialogue), summary=swap(example.summary))


# turn openings that refer to what came before: such a turn must stay where it is
_BACK_REFERENCE = re.compile(r"^(그럼|그러면|그래서|그런데|근데|그러니까|그렇다면|그렇게|그래도|그건|그거|그게|그것|그때|아까|"
                             r"그중|그리고|또|그 |이거|이건|아, 그|네, 그럼|좋아요, 그럼|좋아, 그럼)")


@register
class TurnShuffle(Augmenter):
    """Swap two adjacent question/answer exchanges (the rule is in the module docstring)."""

    name = "turn_shuffle"

    @staticmethod
    def _exchange(parts: Sequence[tuple[str, str]], i: int) -> bool:
        """Is ``parts[i], parts[i+1]`` a self-contained question and its answer?"""
        if i + 1 >= len(parts):
            return False
        (q_tag, q), (a_tag, a) = parts[i], parts[i + 1]
        return (bool(q_tag) and bool(a_tag) and q_tag != a_tag and q.rstrip().endswith("?")
                and not a.rstrip().endswith("?") and not _BACK_REFERENCE.match(q) and not _BACK_REFERENCE.match(a))

    def swappable(self, parts: Sequence[tuple[str, str]]) -> list[int]:
        """Start indices ``i`` such that exchanges ``i`` and ``i+2`` may trade places."""
        return [i for i in range(1, len(parts) - 4)  # turn 0 opens, the last turn closes: neither moves
                if self._exchange(parts, i) and self._exchange(parts, i + 2)
                and not parts[i - 1][1].rstrip().endswith("?")]  # the question is not also an answer

    def augment_one(self, example, rng):
        parts = turns(example.dialogue)
        options = self.swappable(parts)
        if not options:
            return None
        i = rng.choice(options)
        parts[i:i + 4] = parts[i + 2:i + 4] + parts[i:i + 2]
        return dataclasses.replace(example, dialogue=join_turns(parts))


# --- synonym ------------------------------------------------------------------------------------------
_COARSE_TAGS = ("NNG", "VV", "VA", "MAG")


def _coarse(tag: str) -> str:
    return tag.split("-")[0]


@functools.lru_cache(maxsize=4)
def load_lexicon(path: str) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """``(form, coarse tag) -> other members of its group as (form, tag)``; a malformed line is a DataError."""
    groups: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    first_line: dict[tuple[str, str], int] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the synonym lexicon ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        members = []
        for entry in line.split("\t"):
            form, sep, tag = entry.strip().partition("/")
            if not sep or not form or _coarse(tag) not in _COARSE_TAGS:
                raise DataError(f"{path}:{number}: entry {entry!r} is not form/TAG with TAG in "
                                f"{', '.join(_COARSE_TAGS)}")
            members.append((form, tag))
        if len(members) < 2:
            raise DataError(f"{path}:{number}: a group needs at least two words")
        for form, tag in members:
            key = (form, _coarse(tag))
            if key in first_line:
                raise DataError(f"{path}:{number}: {form}/{tag} is already in the group on line {first_line[key]}")
            first_line[key] = number
            groups[key] = tuple(m for m in members if m != (form, tag))
    return groups


@functools.lru_cache(maxsize=1)
def kiwi():
    """One kiwipiepy analyser per process (loading the model takes about a second)."""
    try:
        from kiwipiepy import Kiwi
    except ImportError as exc:
        raise SumbenchError(f"the synonym augmentation needs kiwipiepy ({exc}); pip install kiwipiepy") from None
    return Kiwi()


def _eojeols(text: str):
    """``(start, end, tokens)`` per whitespace-separated word of ``text`` outside speaker tags and PII masks."""
    analyser = kiwi()
    for piece in re.finditer(r"[^#]+|#[^#]*#?", text):  # split around #...# tokens, which are never analysed
        chunk = piece.group(0)
        if SPECIAL_TOKEN_RE.fullmatch(chunk) or chunk.startswith("#"):
            continue
        tokens = analyser.tokenize(chunk)
        for word in re.finditer(r"\S+", chunk):
            s, e = word.span()
            yield piece.start() + s, piece.start() + e, [t for t in tokens if s <= t.start < e]


@register
class Synonym(Augmenter):
    """Replace lexicon words, morpheme-aware, with one choice per word for dialogue and summary alike."""

    name = "synonym"

    def __init__(self, settings):
        super().__init__(settings)
        self.lexicon = load_lexicon(str(settings.synonym.lexicon or LEXICON))

    def _candidates(self, text: str) -> list[tuple[str, str]]:
        found = {}
        for _, _, tokens in _eojeols(text):
            for t in tokens:
                key = (t.form, _coarse(t.tag))
                if key in self.lexicon:
                    found[key] = None
        return list(found)

    def _rewrite(self, text: str, choice: dict[tuple[str, str], tuple[str, str]]) -> str:
        analyser = kiwi()
        pieces, last = [], 0
        for start, end, tokens in _eojeols(text):
            keys = [(t.form, _coarse(t.tag)) for t in tokens]
            if not any(k in choice for k in keys):
                continue
            original = text[start:end]
            morphs = [(t.form, t.tag) for t in tokens]
            if analyser.join(morphs) != original:  # kiwipiepy cannot rebuild this word exactly: leave it
                continue
            new = analyser.join([choice.get(k, m) for k, m in zip(keys, morphs)])
            if new == original or re.search(r"\s", new):
                continue
            pieces += [text[last:start], new]
            last = end
        return "".join(pieces + [text[last:]])

    def augment_one(self, example, rng):
        candidates = self._candidates(example.dialogue)
        if not candidates:
            return None
        chosen = [c for c in candidates if rng.random() < self.settings.synonym.p] or [rng.choice(candidates)]
        choice = {key: rng.choice(self.lexicon[key]) for key in chosen}
        dialogue = self._rewrite(example.dialogue, choice)
        if dialogue == example.dialogue:
            return None
        summary = self._rewrite(example.summary, choice) if example.summary else example.summary
        return dataclasses.replace(example, dialogue=dialogue, summary=summary)


# --- generative methods ---------------------------------------------------------------------------------
class Seq2SeqRewriter:
    """A seq2seq model (hub id or local directory) that rewrites a batch of texts; greedy/beam, no sampling."""

    def __init__(self, model_id: str, key: str, *, num_beams: int, min_new_tokens: int, max_new_tokens: int,
                 batch_size: int):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_id)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model_id).eval()
        except (OSError, ValueError, KeyError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{key} {model_id!r}: cannot load a seq2seq model ({reason})") from None
        self.num_beams, self.batch_size = num_beams, batch_size
        self.min_new_tokens, self.max_new_tokens = min_new_tokens, max_new_tokens

    def __call__(self, texts: Sequence[str], *, src_lang: str | None = None, tgt_lang: str | None = None,
                 prefix: str = "") -> list[str]:
        import torch

        tok = self.tokenizer
        if src_lang:
            tok.src_lang = src_lang
        extra = {}
        if tgt_lang:
            extra["forced_bos_token_id"] = tok.convert_tokens_to_ids(tgt_lang)
        todo = [i for i, t in enumerate(texts) if t.strip()]  # an empty text (e.g. a failed first leg) stays empty
        out = [""] * len(texts)
        for start in range(0, len(todo), self.batch_size):
            index = todo[start:start + self.batch_size]
            enc = tok([prefix + texts[i] for i in index], return_tensors="pt", padding=True, truncation=True,
                      max_length=512)
            if enc["input_ids"].shape[-1] == 0:
                continue
            with torch.no_grad():
                gen = self.model.generate(**enc, num_beams=self.num_beams, do_sample=False,
                                          min_new_tokens=self.min_new_tokens, max_new_tokens=self.max_new_tokens,
                                          **extra)
            for i, text in zip(index, tok.batch_decode(gen, skip_special_tokens=True)):
                out[i] = " ".join(text.split())
        return out


class _TurnRewriter(Augmenter):
    """Rewrite each turn's text with a seq2seq model. A turn whose output is empty, unchanged, broken
    (U+FFFD, a newline) or has other ``#...#`` tokens than the input keeps its original text; a dialogue
    with no rewritten turn yields no copy."""

    section: ClassVar[str]

    @classmethod
    def check(cls, settings):
        if not getattr(settings, cls.section).model:
            raise ConfigError(f"{settings.source}: {cls.name} needs a seq2seq model, but key '{cls.section}.model' "
                              f"is not set (a hub id or local directory{cls.example})")

    example: ClassVar[str] = ""

    def rewrite(self, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def augment_batch(self, examples, rngs):
        slots = [(k, j, text) for k, ex in enumerate(examples) for j, (_, text) in enumerate(turns(ex.dialogue))
                 if text.strip()]
        new_texts = self.rewrite([text for _, _, text in slots]) if slots else []
        changed: dict[int, dict[int, str]] = {}
        for (k, j, old), new in zip(slots, new_texts):
            if new and new != old and specials(new) == specials(old) and not set(new) & {"\n", "\ufffd"}:
                changed.setdefault(k, {})[j] = new
        out: list[Example | None] = []
        for k, ex in enumerate(examples):
            if k not in changed:
                out.append(None)
                continue
            parts = [(tag, changed[k].get(j, text)) for j, (tag, text) in enumerate(turns(ex.dialogue))]
            out.append(dataclasses.replace(ex, dialogue=join_turns(parts)))
        return out


@register
class BackTranslation(_TurnRewriter):
    name = "back_translation"
    section = "back_translation"
    example = ", e.g. facebook/nllb-200-distilled-600M with src_lang kor_Hang and pivot_lang eng_Latn"

    def __init__(self, settings):
        super().__init__(settings)
        s = settings.back_translation
        opts = dict(num_beams=s.num_beams, min_new_tokens=s.min_new_tokens, max_new_tokens=s.max_new_tokens,
                    batch_size=s.batch_size)
        self.forward = Seq2SeqRewriter(s.model, f"{settings.source}: back_translation.model", **opts)
        self.backward = (self.forward if not s.reverse_model or s.reverse_model == s.model else
                         Seq2SeqRewriter(s.reverse_model, f"{settings.source}: back_translation.reverse_model", **opts))

    def rewrite(self, texts):
        s = self.settings.back_translation
        pivot = self.forward(texts, src_lang=s.src_lang, tgt_lang=s.pivot_lang)
        return self.backward(pivot, src_lang=s.pivot_lang, tgt_lang=s.src_lang)


@register
class Paraphrase(_TurnRewriter):
    name = "paraphrase"
    section = "paraphrase"

    def __init__(self, settings):
        super().__init__(settings)
        s = settings.paraphrase
        self.model = Seq2SeqRewriter(s.model, f"{settings.source}: paraphrase.model", num_beams=s.num_beams,
                                     min_new_tokens=s.min_new_tokens, max_new_tokens=s.max_new_tokens,
                                     batch_size=s.batch_size)

    def rewrite(self, texts):
        return self.model(texts, prefix=self.settings.paraphrase.prefix)


# ------------------------------------------------------------------------------------------ the driver
def _preserves_specials(original: Example, copy: Example, tag_map: dict[str, str]) -> bool:
    """Speaker tags and PII masks: the same per turn (after the method's own renaming), and in the summary."""
    renamed = Example(original.fname, _rename(original.dialogue, tag_map),
                      _rename(original.summary, tag_map) if original.summary else original.summary, original.topic)
    same_summary = specials(renamed.summary or "") == specials(copy.summary or "")
    return _turn_signature(renamed.dialogue) == _turn_signature(copy.dialogue) and same_summary


def augment_examples(originals: Sequence[Example], spec: str, settings: AugmentSettings | None = None,
                     seed: int = 0) -> tuple[list[Example], dict[str, int]]:
    """The originals followed by each method's copies, and how many copies each method added."""
    settings = settings or AugmentSettings()
    names = check_settings(spec, settings)
    out, added = list(originals), {}
    quota = round(settings.ratio * len(originals))
    for name in names:
        method = REGISTRY[name](settings)
        order = list(range(len(originals)))
        random.Random(f"sumbench-augment:{seed}:{name}:order").shuffle(order)
        copies: list[Example] = []
        position = 0
        while len(copies) < quota and position < len(order):
            chunk = [originals[i] for i in order[position:position + quota - len(copies)]]
            position += len(chunk)
            rngs = [random.Random(f"sumbench-augment:{seed}:{name}:{ex.fname}") for ex in chunk]
            for ex, new in zip(chunk, method.augment_batch(chunk, rngs)):
                if new is None or (new.dialogue, new.summary) == (ex.dialogue, ex.summary):
                    continue
                if not _preserves_specials(ex, new, method.tag_map):
                    continue
                copies.append(dataclasses.replace(new, fname=f"{ex.fname}{SEPARATOR}{name}"))
        out += copies
        added[name] = len(copies)
    return out, added


def prepare_train_set(data_dir: str | os.PathLike, fold: int, spec: str, *, max_train_samples: int | None,
                      seed: int, settings: AugmentSettings | None = None,
                      out_dir: str | os.PathLike) -> list[Path]:
    """Cap then augment the training part of ``fold``: ``out_dir/train.csv`` and ``out_dir/augment.json``.

    Everything is checked (spec, settings, fold file, cap) before the first file is written.
    """
    from sumbench.data.corpus import load_csv, write_csv
    from sumbench.io import atomic_write_json

    settings = settings or AugmentSettings()
    check_settings(spec, settings)
    train_csv = Path(data_dir) / f"fold{fold}" / "train.csv"
    if not train_csv.exists():
        raise DataError(f"{train_csv}: missing train file for fold {fold} (make it with `sumbench data split`)")
    train = load_csv(train_csv)
    originals = cap(train, max_train_samples, seed, train_csv)
    started = time.perf_counter()
    examples, added = augment_examples(originals, spec, settings, seed)
    info = {"augmentation": spec, "fold": fold, "max_train_samples": max_train_samples, "seed": seed,
            "source": str(train_csv), "available": len(train), "originals": len(originals), "added": added,
            "examples": len(examples), "seconds": round(time.perf_counter() - started, 3),
            "settings": settings.to_dict()}
    out = Path(out_dir)
    return [write_csv(out / "train.csv", examples), atomic_write_json(out / "augment.json", info)]


def load_train_set(path: Path, fold_train: Sequence[Example], fold_csv: Path, spec: str,
                   max_train_samples: int | None) -> list[Example]:
    """A training set written by :func:`prepare_train_set`, checked against the fold it claims to come from:
    every example (original or copy) stems from ``fold_csv``, the originals number the cap (or the whole fold),
    and every copy was made by a method of ``spec``. Held-out or dev rows can therefore never slip in."""
    from sumbench.data.corpus import load_rows

    if not Path(path).exists():
        raise DataError(f"{path}: missing training set (make it with `sumbench data augment`)")
    methods = set(parse_augmentation(spec))
    known = {e.fname for e in fold_train}
    rows = load_rows(path)
    originals = 0
    for row, ex in rows:
        base, method = split_fname(ex.fname)
        if base not in known:
            raise DataError(f"{path}:{row}: fname {base!r} is not in {fold_csv}; only the fold's training part "
                            f"may be trained on")
        if method is None:
            originals += 1
        elif method not in methods:
            raise DataError(f"{path}:{row}: a {method!r} copy, but the cell's augmentation is {spec!r}")
    expected = max_train_samples or len(fold_train)
    if originals != expected:
        raise DataError(f"{path}: {originals} original examples, expected {expected} "
                        f"(max_train_samples={max_train_samples}, {len(fold_train)} in {fold_csv})")
    return [ex for _, ex in rows]
