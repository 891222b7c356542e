"""One dialogue under construction: speakers, turns, slots and summary sentences, and the slot fillers every
topic scene shares (a day, a time and the hour after it, an amount of won).

Turn and summary templates name slots with an optional particle after them: ``"{A:은} {item:을} 샀다"`` fills
speaker A's tag and the item, each followed by the particle form that fits it (``#Person1#은 셔츠를 샀다``).
"""

from __future__ import annotations

import random
import string

from sumbench.korean import josa


class _ParticleFormatter(string.Formatter):
    """``"{A:은} {item:을}"`` → the slot value followed by the particle form that fits it."""

    def format_field(self, value, format_spec):
        return value + josa(value, format_spec) if format_spec else value


_fill = _ParticleFormatter().format


class Scene:
    """Turns, summary sentences and slots of one dialogue; speakers are "A".."D" (#Person1#..#Person4#)."""

    def __init__(self, rng: random.Random, n_speakers: int, casual: bool, chattiness: float):
        self.rng = rng
        self.casual = casual
        self.chattiness = chattiness
        self.tags = [f"#Person{i}#" for i in range(1, n_speakers + 1)]
        group = f"{self.tags[0]}{josa(self.tags[0], '과')} {self.tags[1]}" if n_speakers == 2 else ", ".join(self.tags)
        self.slots = dict(zip("ABCD", self.tags), G=group)
        self.turns: list[list[str]] = []  # [speaker, text]
        self.gist = ""
        self.extras: list[str] = []

    def has(self, speaker: str) -> bool:
        return "ABCD".index(speaker) < len(self.tags)

    def pick(self, options):
        return self.rng.choice(options)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    def optional(self, p: float) -> bool:
        """Whether to include an optional exchange; terse scenes include fewer, chatty ones more."""
        return self.rng.random() < p * self.chattiness

    def set(self, **slots: str) -> None:
        self.slots.update(slots)

    def say(self, speaker: str, polite: str | tuple[str, ...], casual: str | tuple[str, ...] | None = None) -> None:
        """Add a turn (joined to the previous one if the same speaker goes on); ``casual`` (반말) variants
        are used when the scene is casual and they are given."""
        options = casual if self.casual and casual is not None else polite
        text = _fill(options if isinstance(options, str) else self.pick(options), **self.slots)
        if self.turns and self.turns[-1][0] == speaker:
            self.turns[-1][1] += " " + text
        else:
            self.turns.append([speaker, text])

    def dialogue(self) -> str:
        return "\n".join(f"{self.slots[speaker]}: {text}" for speaker, text in self.turns)

    def summarize(self, sentence: str) -> None:
        """The summary's first sentence (the gist)."""
        self.gist = _fill(sentence, **self.slots)

    def extra(self, sentence: str) -> None:
        """A detail the dialogue just added; the first one becomes the summary's second sentence."""
        self.extras.append(_fill(sentence, **self.slots))

    def summary(self) -> str:
        return " ".join([self.gist] + self.extras[:1])


# --- slot fillers every scene may use ---------------------------------------------------------------
_DAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
_HOURS = {"오전": (9, 10), "낮": (11, 12), "오후": (1, 2, 3, 4), "저녁": (6, 7, 8)}


def pick_day(s: Scene) -> str:
    return f"{s.pick(('이번 주', '다음 주'))} {s.pick(_DAYS)}"


def pick_times(s: Scene, parts: tuple[str, ...]) -> tuple[str, str]:
    """A time and one an hour later, in the same part of the day (e.g. 저녁 7시, 저녁 8시)."""
    part = s.pick(parts)
    hour = s.pick(_HOURS[part])
    half = " 반" if s.maybe(0.25) else ""
    return f"{part} {hour}시{half}", f"{part} {hour % 12 + 1}시{half}"


def pick_won(s: Scene, low: int, high: int) -> str:
    return f"{s.rng.randint(low, high) * 1000:,}원"
