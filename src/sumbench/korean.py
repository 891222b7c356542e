"""Korean text helpers shared by corpus synthesis, augmentation and ROUGE.

- Particles (조사): the form that fits after a word depends on its final consonant (받침): ``서울로`` but
  ``저녁 7시 반으로``; a speaker tag is read by its last digit (``#Person1#은``, ``#Person2#는``).
- Speaker tags and PII masks: the competition data marks speakers ``#Person1#`` .. and personal data with a
  fixed list of masks (``#PhoneNumber#`` ...).
- One text form: every text entering sumbench is Unicode NFC (composed Hangul), see :func:`nfc`.
- The kiwipiepy morpheme analyser, loaded once per process.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from sumbench.errors import SumbenchError


# --- one text form ------------------------------------------------------------------------------------------
def nfc(text: str) -> str:
    """``text`` in Unicode NFC. Some systems write Hangul decomposed into jamo (NFD: ``하`` as ``ᄒ`` + ``ᅡ``); such
    text looks the same but compares unequal, and a tokenizer sees jamo. The loaders and ``score`` call this first."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


# --- particles ----------------------------------------------------------------------------------------------
# (form after a final consonant, form after a vowel)
PARTICLES = (
    ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이에요", "예요"), ("이야", "야"),
    ("이요", "요"), ("이면", "면"), ("이라고", "라고"), ("이라며", "라며"), ("이라서", "라서"), ("이래", "래"),
    ("이래요", "래요"), ("이랑", "랑"), ("이나", "나"),
)
_PAIR_OF = {form: pair for pair in PARTICLES for form in pair}
# Final consonant index (0 none, 1 ㄱ, 8 ㄹ, 16 ㅁ, 21 ㅇ) of each digit's reading: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT_CODA = dict(zip("0123456789", (21, 8, 0, 16, 0, 0, 1, 8, 8, 0)))
_RIEUL = 8


def _coda(word: str) -> int:
    """Final-consonant index of the word's last sound; tags like ``#Person1#`` are read by their digit."""
    last = word.rstrip("#")[-1]
    if "가" <= last <= "힣":
        return (ord(last) - ord("가")) % 28
    return _DIGIT_CODA.get(last, 0)


def josa(word: str, particle: str) -> str:
    """The form of ``particle`` (given either way, e.g. "은" or "는") that fits after ``word``.

    ``으로``/``로`` is the exception to "consonant or not": a word ending in ㄹ takes ``로`` (``서울로``).
    """
    with_coda, without_coda = _PAIR_OF[particle]
    coda = _coda(word)
    if with_coda == "으로":
        return "로" if coda in (0, _RIEUL) else "으로"
    return with_coda if coda else without_coda


# --- speaker tags and PII masks -----------------------------------------------------------------------------
PII_MASKS = (
    "#PhoneNumber#",
    "#Address#",
    "#CarNumber#",
    "#Email#",
    "#DateOfBirth#",
    "#SSN#",
    "#PassportNumber#",
    "#CardNumber#",
)
# The corpus's own special tokens: speaker tags and the known PII masks, nothing else.
SPECIAL_TOKEN_RE = re.compile(r"#Person\d+#|" + "|".join(re.escape(m) for m in PII_MASKS))
# A turn opens a line with its speaker tag and a colon: ``#Person1#: 안녕하세요.``
TURN_RE = re.compile(r"^(#Person\d+#):", re.MULTILINE)
# Anything shaped like a tag or mask (``#Person1#``, ``#PhoneNumber#``, also a mask the list above lacks): ROUGE
# scores model output, which may contain such tokens, and keeps every one of them whole.
ANY_TAG_RE = re.compile(r"#[A-Za-z]+\d*#")
# A speaker tag followed by a particle that ends the word (``#Person1#은``, not the ``이`` of ``#Person1#이에요``).
TAG_PARTICLE_RE = re.compile(r"(#Person\d+#)(" + "|".join(sorted(_PAIR_OF, key=len, reverse=True)) + r")(?![가-힣])")


# --- morpheme analysis --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def kiwi():
    """The process-wide kiwipiepy analyser (loading its model takes a second or two)."""
    try:
        from kiwipiepy import Kiwi
    except ImportError as exc:
        raise SumbenchError(f"Korean morpheme analysis (ROUGE, synonym augmentation) needs kiwipiepy ({exc}); "
                            f"pip install kiwipiepy") from None
    return Kiwi()
