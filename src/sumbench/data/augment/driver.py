"""The driver: each method adds ``round(ratio × originals)`` copies, and no copy may touch a tag or a mask.

A method walks a seeded permutation of the originals and skips those it cannot change (no second speaker,
no lexicon word, no swappable turns), so the count is met whenever enough examples qualify. A rule-based
copy is a pure function of ``(seed, method, fname)`` (a generated one also of the batch it was generated
in), and its fname is ``<original fname>::<method>``.

Every method leaves speaker tags and PII masks alone: a copy whose ``#...#`` tokens (as a multiset, per
turn) differ from the original's is rejected, whatever the method did; for ``speaker_swap`` the comparison
is made after the swap.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Sequence

from sumbench.data.augment.registry import REGISTRY, SEPARATOR, check_settings, rename_tags, specials, turns
from sumbench.config.augment import AugmentSettings
from sumbench.data.corpus import Example


def augment_examples(originals: Sequence[Example], methods: Sequence[str], settings: AugmentSettings | None = None,
                     seed: int = 0) -> tuple[list[Example], dict[str, int]]:
    """The originals followed by each method's copies, and how many copies each method added.

    ``methods`` are registered names, e.g. ``parse_augmentation("speaker_swap+synonym")``; ``()`` adds nothing.
    """
    if isinstance(methods, str):
        raise TypeError(f"methods must be a sequence of names, not the string {methods!r} (use parse_augmentation)")
    settings = settings or AugmentSettings()
    check_settings(methods, settings)
    out, added = list(originals), {}
    quota = round(settings.ratio * len(originals))
    for name in methods:
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


def _turn_signature(dialogue: str) -> Counter:
    """Multiset of (speaker, special tokens in the turn) pairs: what no method may change."""
    return Counter((tag, tuple(sorted(specials(text).elements()))) for tag, text in turns(dialogue))


def _preserves_specials(original: Example, copy: Example, tag_map: dict[str, str]) -> bool:
    """Speaker tags and PII masks: the same per turn (after the method's own renaming), and in the summary."""
    renamed = Example(original.fname, rename_tags(original.dialogue, tag_map),
                      rename_tags(original.summary, tag_map) if original.summary else original.summary, original.topic)
    same_summary = specials(renamed.summary or "") == specials(copy.summary or "")
    return _turn_signature(renamed.dialogue) == _turn_signature(copy.dialogue) and same_summary
