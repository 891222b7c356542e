"""``synonym``: morpheme-aware replacement from a lexicon of synonym groups (kiwipiepy).

The shipped lexicon is ``resources/synonyms_ko.tsv``: one group per line, tab-separated ``form/TAG`` entries
with TAG a kiwipiepy tag of NNG, VV, VA or MAG (``식당/NNG<TAB>음식점/NNG``). A fraction ``p`` of the lexicon words
found in a dialogue is replaced, one choice per word for dialogue and summary alike, and kiwipiepy re-attaches
the particle or ending (식당을 -> 음식점을, 힘들어요 -> 어려워요). An eojeol (a whitespace-separated word) is
rewritten only if kiwipiepy's analysis of it joins back to the original text exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

from sumbench.data.augment.registry import Augmenter, register
from sumbench.errors import DataError
from sumbench.korean import SPECIAL_TOKEN_RE, kiwi

LEXICON = Path(__file__).parents[2] / "resources" / "synonyms_ko.tsv"
_COARSE_TAGS = ("NNG", "VV", "VA", "MAG")  # nouns, verbs, adjectives, adverbs


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
