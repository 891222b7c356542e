"""A deterministic synthetic Korean dialogue corpus in the DialogSum-ko layout, for offline runs.

Each dialogue comes from a topic scene: slots (day, time, place, item, amount, reason ...) are drawn,
turns are phrased in one of several ways (해요체 or 반말 where the speakers are friends), optional turns
vary the length, and the summary restates the slots the dialogue mentions in one fixed style
("#Person1#은 #Person2#에게 토요일 저녁 7시에 4명 자리를 예약한다."). Example ``i`` of a stream is a pure
function of ``(seed, stream, i)``, so corpora are byte-identical across runs and prefix-stable in ``n``.

Modules, in reading order: ``scene`` (a dialogue under construction and the shared slot fillers), ``services``
and ``everyday`` (the topic scenes), ``generate`` (drawing examples, writing train.csv and dev.csv).
"""

from sumbench.data.synth.generate import MAX_CHARS, MAX_TURNS, MIN_TURNS, TOPICS, synthesize, write_corpus

__all__ = ["MAX_CHARS", "MAX_TURNS", "MIN_TURNS", "TOPICS", "synthesize", "write_corpus"]
