"""Draw examples from the topic scenes: which topic, how many speakers, polite or casual, terse or chatty.

Example ``i`` of a stream ("train", "dev") is a pure function of ``(seed, stream, i)``: its own random generator
draws it, and draws again while the dialogue is too short, too long, or already in the corpus. So corpora are
byte-identical across runs and prefix-stable in ``n``.
"""

from __future__ import annotations

import os
import random
from itertools import count
from pathlib import Path
from typing import Callable

from sumbench.data.corpus import Example, write_csv
from sumbench.data.synth.everyday import birthday, directions, exercise, homework, interview, moving, phone_plan, trip
from sumbench.data.synth.scene import Scene
from sumbench.data.synth.services import bank, clinic, hotel, parcel, refund, restaurant
from sumbench.errors import SumbenchError

MIN_TURNS, MAX_TURNS = 4, 12
MAX_CHARS = 420

# (topic name, scene, most speakers the scene supports)
TOPICS: tuple[tuple[str, Callable[[Scene], None], int], ...] = (
    ("식당 예약", restaurant, 3),
    ("병원 진료", clinic, 3),
    ("쇼핑/환불", refund, 3),
    ("여행 계획", trip, 4),
    ("이사", moving, 3),
    ("면접", interview, 3),
    ("길 찾기", directions, 3),
    ("은행 업무", bank, 2),
    ("생일 파티", birthday, 4),
    ("수업/과제", homework, 4),
    ("운동", exercise, 3),
    ("택배/배송", parcel, 2),
    ("호텔 체크인", hotel, 3),
    ("전화 약속", phone_plan, 2),
)
_SPEAKER_WEIGHTS = {2: 70, 3: 22, 4: 8}
_CHATTINESS = (0.0, 0.5, 1.0, 1.6)


def _draw(rng: random.Random) -> tuple[str, str, str]:
    """One (topic, dialogue, summary) from ``rng``."""
    topic, scene_fn, most = rng.choice(TOPICS)
    n_speakers = min(most, rng.choices(list(_SPEAKER_WEIGHTS), weights=list(_SPEAKER_WEIGHTS.values()))[0])
    scene = Scene(rng, n_speakers, casual=rng.random() < 0.5, chattiness=rng.choice(_CHATTINESS))
    scene_fn(scene)
    return topic, scene.dialogue(), scene.summary()


def _generate(seed: int, stream: str, indices: range, seen: set[str]) -> list[tuple[int, str, str, str]]:
    """``(index, topic, dialogue, summary)`` per index; redraws a dialogue already in ``seen`` or too long or short."""
    rows = []
    for index in indices:
        for attempt in count():
            topic, dialogue, summary = _draw(random.Random(f"sumbench-synth:{seed}:{stream}:{index}:{attempt}"))
            fits = MIN_TURNS <= dialogue.count("\n") + 1 <= MAX_TURNS and len(dialogue) <= MAX_CHARS
            if fits and dialogue not in seen:
                break
        seen.add(dialogue)
        rows.append((index, topic, dialogue, summary))
    return rows


def synthesize(n: int, seed: int, *, start_index: int = 0) -> list[Example]:
    """Examples ``start_index .. start_index + n - 1`` of the training stream, fnames ``synth_00000``..."""
    rows = _generate(seed, "train", range(start_index, start_index + n), set())
    return [Example(f"synth_{i:05d}", dialogue, summary, topic) for i, topic, dialogue, summary in rows]


def write_corpus(out_dir: str | os.PathLike, *, n: int, seed: int, dev_n: int | None = None) -> list[Path]:
    """Write ``train.csv`` (n rows) and ``dev.csv`` (dev_n rows, default max(20, n // 10)); no shared dialogues."""
    dev_n = max(20, n // 10) if dev_n is None else dev_n
    if n < 1 or dev_n < 1:
        raise SumbenchError(f"synth: n and dev_n must be at least 1 (got n={n}, dev_n={dev_n})")
    seen: set[str] = set()
    paths = []
    for split, size in (("train", n), ("dev", dev_n)):
        width = max(4, len(str(size - 1)))
        rows = _generate(seed, split, range(size), seen)
        examples = [Example(f"{split}_{i:0{width}d}", dialogue, summary, topic) for i, topic, dialogue, summary in rows]
        paths.append(write_csv(Path(out_dir) / f"{split}.csv", examples))
    return paths
