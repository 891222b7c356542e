"""The method registry, the base class every method derives from, and the dialogue parts methods work on.

A method is a class registered under its name (adding one = adding a class); ``+`` combines names:
``"speaker_swap+synonym"`` -> ``("speaker_swap", "synonym")``, ``"none"`` -> ``()``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import ClassVar, Sequence

from sumbench.config.augment import AugmentSettings
from sumbench.data.corpus import Example
from sumbench.errors import ConfigError
from sumbench.korean import SPECIAL_TOKEN_RE, TURN_RE

NONE = "none"
SEPARATOR = "::"  # fname of an augmented copy: "<original fname>::<method>"

REGISTRY: dict[str, type[Augmenter]] = {}


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


def register(cls: type[Augmenter]) -> type[Augmenter]:
    """Class decorator: make ``cls`` selectable by ``cls.name``; a duplicate name is an error."""
    if not re.fullmatch(r"[a-z_]+", cls.name) or cls.name == NONE:
        raise ValueError(f"augmentation name {cls.name!r} must match [a-z_]+ and not be {NONE!r}")
    if cls.name in REGISTRY:
        raise ValueError(f"augmentation {cls.name!r} is already registered by {REGISTRY[cls.name].__qualname__}")
    REGISTRY[cls.name] = cls
    return cls


def parse_augmentation(augmentation: str, where: str = "--augmentation") -> tuple[str, ...]:
    """The methods an ``--augmentation`` value names: ``"none"`` -> ``()``; ``"a+b"`` -> ``("a", "b")``."""
    if augmentation == NONE:
        return ()
    methods = tuple(augmentation.split("+"))
    for name in methods:
        if name == NONE:
            raise ConfigError(f"{where}: {augmentation!r}: 'none' cannot be combined with other methods")
        if name not in REGISTRY:
            raise ConfigError(f"{where}: unknown augmentation {name!r} (known: none, {', '.join(sorted(REGISTRY))})")
    if len(set(methods)) != len(methods):
        raise ConfigError(f"{where}: {augmentation!r} names a method twice")
    return methods


def check_settings(methods: Sequence[str], settings: AugmentSettings) -> None:
    """Each method has what it needs in ``settings`` (e.g. a model), checked without loading anything."""
    for name in methods:
        REGISTRY[name].check(settings)


def augmentation_label(methods: Sequence[str]) -> str:
    """The ``--augmentation`` value of ``methods``: ``("a", "b")`` -> ``"a+b"``, ``()`` -> ``"none"``."""
    return "+".join(methods) or NONE


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
    """Speaker tags and PII masks in ``text``, as a multiset."""
    return Counter(SPECIAL_TOKEN_RE.findall(text))


def rename_tags(text: str, mapping: dict[str, str]) -> str:
    """``text`` with each speaker tag or mask in ``mapping`` replaced by its image."""
    return SPECIAL_TOKEN_RE.sub(lambda m: mapping.get(m.group(0), m.group(0)), text) if mapping else text
