"""Rule-based methods: ``speaker_swap`` and ``turn_shuffle``. Each copy is a pure function of the example and
its seeded random generator; neither needs a model."""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from sumbench.data.augment.registry import Augmenter, join_turns, register, rename_tags, specials, turns
from sumbench.korean import TAG_PARTICLE_RE, josa


@register
class SpeakerSwap(Augmenter):
    """Swap ``#Person1#`` and ``#Person2#`` in dialogue and summary alike and re-fit the particle after each tag
    (``#Person1#은`` -> ``#Person2#는``): the summary stays a correct label."""

    name = "speaker_swap"
    tag_map = {"#Person1#": "#Person2#", "#Person2#": "#Person1#"}

    def augment_one(self, example, rng):
        present = specials(example.dialogue)
        if not (present["#Person1#"] and present["#Person2#"]):
            return None

        def swap(text: str | None) -> str | None:
            if text is None:
                return None
            text = rename_tags(text, self.tag_map)
            return TAG_PARTICLE_RE.sub(lambda m: m.group(1) + josa(m.group(1), m.group(2)), text)

        return dataclasses.replace(example, dialogue=swap(example.dialogue), summary=swap(example.summary))


# turn openings that refer to what came before: such a turn must stay where it is
_BACK_REFERENCE = re.compile(r"^(그럼|그러면|그래서|그런데|근데|그러니까|그렇다면|그렇게|그래도|그건|그거|그게|그것|그때|아까|"
                             r"그중|그리고|또|그 |이거|이건|아, 그|네, 그럼|좋아요, 그럼|좋아, 그럼)")


@register
class TurnShuffle(Augmenter):
    """Swap two adjacent question/answer exchanges; the summary is unchanged.

    An exchange is a turn ending in ``?`` answered by another speaker in a turn that does not end in ``?``;
    neither turn may open with a word that points back (그럼, 그래서, 아까 ...), the turn before the pair may not
    be a question (else the first question is also its answer), and the first and the last turn never move.
    Each question keeps its answer, so the facts the summary states stay true.
    """

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
