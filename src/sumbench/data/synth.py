"""A deterministic synthetic Korean dialogue corpus in the DialogSum-ko layout, for offline runs.

Each dialogue comes from a topic scene: slots (day, time, place, item, amount, reason ...) are drawn,
turns are phrased in one of several ways (해요체 or 반말 where the speakers are friends), optional turns
vary the length, and the summary restates the slots the dialogue mentions in one fixed style
("#Person1#은 #Person2#에게 토요일 저녁 7시에 4명 자리를 예약한다."). Example ``i`` of a stream is a pure
function of ``(seed, stream, i)``, so corpora are byte-identical across runs and prefix-stable in ``n``.
"""

from __future__ import annotations

import os
import random
import string
from itertools import count
from pathlib import Path
from typing import Callable

from sumbench.data.corpus import Example, write_csv
from sumbench.errors import SumbenchError

MIN_TURNS, MAX_TURNS = 4, 12
MAX_CHARS = 420

# --- Korean particles after a word, chosen by its final consonant (받침) ---------------------------

_JOSA_PAIRS = (
    ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이에요", "예요"),
    ("이야", "야"), ("이요", "요"), ("이면", "면"), ("이라고", "라고"), ("이라며", "라며"),
    ("이라서", "라서"), ("이래", "래"), ("이래요", "래요"),
)
_JOSA = {form: pair for pair in _JOSA_PAIRS for form in pair}
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
    """The form of ``particle`` (given either way, e.g. "은" or "는") that fits after ``word``."""
    with_coda, without_coda = _JOSA[particle]
    coda = _coda(word)
    if with_coda == "으로":
        return "로" if coda in (0, _RIEUL) else "으로"
    return with_coda if coda else without_coda


class _JosaFormatter(string.Formatter):
    """``"{A:은} {item:을}"`` → the slot value followed by the particle form that fits it."""

    def format_field(self, value, format_spec):
        return value + josa(value, format_spec) if format_spec else value


_fmt = _JosaFormatter().format


# --- a dialogue under construction ---------------------------------------------------------------

class _Scene:
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
        text = _fmt(options if isinstance(options, str) else self.pick(options), **self.slots)
        if self.turns and self.turns[-1][0] == speaker:
            self.turns[-1][1] += " " + text
        else:
            self.turns.append([speaker, text])

    def dialogue(self) -> str:
        return "\n".join(f"{self.slots[speaker]}: {text}" for speaker, text in self.turns)

    def summarize(self, sentence: str) -> None:
        """The summary's first sentence (the gist)."""
        self.gist = _fmt(sentence, **self.slots)

    def extra(self, sentence: str) -> None:
        """A detail the dialogue just added; the first one becomes the summary's second sentence."""
        self.extras.append(_fmt(sentence, **self.slots))

    def summary(self) -> str:
        return " ".join([self.gist] + self.extras[:1])


# --- shared slot fillers -------------------------------------------------------------------------

_DAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
_HOURS = {"오전": (9, 10), "낮": (11, 12), "오후": (1, 2, 3, 4), "저녁": (6, 7, 8)}


def _day(s: _Scene) -> str:
    return f"{s.pick(('이번 주', '다음 주'))} {s.pick(_DAYS)}"


def _times(s: _Scene, parts: tuple[str, ...]) -> tuple[str, str]:
    """A time and one an hour later, in the same part of the day (e.g. 저녁 7시, 저녁 8시)."""
    part = s.pick(parts)
    hour = s.pick(_HOURS[part])
    half = " 반" if s.maybe(0.25) else ""
    return f"{part} {hour}시{half}", f"{part} {hour % 12 + 1}시{half}"


def _won(s: _Scene, low: int, high: int) -> str:
    return f"{s.rng.randint(low, high) * 1000:,}원"


# --- topic scenes --------------------------------------------------------------------------------

def _restaurant(s: _Scene) -> None:
    time, later = _times(s, ("낮", "저녁"))
    s.set(place=s.pick(("한빛 식당", "바다 횟집", "라온 레스토랑", "소담 한정식", "로마 파스타", "청기와 갈비")),
          day=_day(s), time=time, later=later, people=f"{s.rng.randint(2, 8)}명",
          seat=s.pick(("창가", "룸", "테라스", "안쪽 조용한")),
          occasion=s.pick(("생일", "결혼기념일", "부모님 생신", "승진 축하")))
    if s.optional(0.5):
        s.say("B", ("감사합니다, {place}입니다.", "네, {place}입니다. 무엇을 도와드릴까요?"))
    s.say("A", ("{day} {time}에 {people} 예약하고 싶은데요.", "안녕하세요. {day} {time}에 {people} 자리 있을까요?",
                "{day} {time}에 {people:으로} 예약할 수 있을까요?"))
    if s.maybe(0.35):
        s.say("B", ("죄송하지만 {time}에는 자리가 다 찼습니다. {later:은} 어떠세요?",
                    "그 시간은 예약이 꽉 찼어요. {later}에는 가능합니다."))
        s.say("A", ("그럼 {later:으로} 할게요.", "아쉽네요. 그럼 {later:으로} 해 주세요."))
        s.summarize("{A:은} {B}에게 {day} {time}에 {people} 자리를 예약하려 했지만 자리가 없어서 {later:으로} 예약한다.")
    else:
        s.say("B", ("네, {day} {time}에 {people} 가능합니다.", "잠시만요. 네, 그 시간에 자리 있습니다."))
        s.summarize("{A:은} {B}에게 {day} {time}에 {people} 자리를 예약한다.")
    if s.optional(0.4):
        s.say("A", ("혹시 {seat} 자리로 해 주실 수 있나요?", "가능하면 {seat} 자리로 부탁드려요."))
        s.say("B", ("네, {seat} 자리로 준비해 두겠습니다.", "네, 메모해 두겠습니다."))
        s.extra("{A:은} {seat} 자리를 부탁한다.")
    if s.optional(0.3):
        s.say("A", "{occasion:이라서} 케이크를 가져가도 될까요?")
        s.say("B", ("물론이죠. 냉장고에 보관해 드릴게요.", "네, 가져오셔도 됩니다."))
        s.extra("{A:은} {occasion:이라서} 케이크를 가져가도 되는지 묻는다.")
    if s.has("C"):
        line, answer, note = s.pick((
            ("아이랑 같이 가는데 아기 의자도 하나 준비해 주세요.", "네, 아기 의자 하나 준비해 두겠습니다.", "{C:은} 아기 의자를 부탁한다."),
            ("거기 주차할 곳이 있나요?", "네, 건물 뒤에 무료 주차장이 있습니다.", "{C:은} 주차가 되는지 묻는다."),
            ("저는 해산물 알레르기가 있는데 괜찮을까요?", "네, 미리 말씀해 주시면 따로 준비해 드립니다.",
             "{C:은} 해산물 알레르기가 있다고 알린다."),
        ))
        s.say("C", line)
        s.say("B", answer)
        s.extra(note)
    if s.optional(0.5):
        s.say("B", ("예약자 연락처를 알려 주시겠어요?", "연락처 하나만 남겨 주세요."))
        s.say("A", ("#PhoneNumber#예요.", "제 번호는 #PhoneNumber#입니다."))
        s.extra("{A:은} 연락처를 남긴다.")
    s.say("B", ("예약되었습니다. {day}에 뵙겠습니다.", "예약 완료되었습니다. 감사합니다."))
    if s.optional(0.5):
        s.say("A", ("감사합니다.", "네, 수고하세요."))


_SYMPTOMS = (
    # (patient's words, symptom, doctor's finding, finding in the summary, advice, advice in the summary)
    ("머리가 계속 아파요", "두통", "스트레스와 수면 부족 때문인 것 같아요", "스트레스와 수면 부족 때문",
     "진통제를 처방해 드릴 테니 잠을 충분히 주무세요", "진통제를 처방하고 잠을 충분히 자라고"),
    ("기침이 나고 목이 따끔거려요", "기침과 목 통증", "목감기인 것 같네요", "목감기",
     "감기약을 처방해 드릴게요. 따뜻한 물을 자주 드세요", "감기약을 처방하고 따뜻한 물을 자주 마시라고"),
    ("배가 아프고 설사를 해요", "복통과 설사", "장염인 것 같아요", "장염",
     "약을 드릴 테니 하루 이틀은 죽만 드세요", "약을 주고 하루 이틀은 죽만 먹으라고"),
    ("허리가 너무 아파서 앉아 있기가 힘들어요", "허리 통증", "오래 앉아 있어서 근육이 뭉친 것 같아요", "근육 뭉침",
     "물리치료를 받고 한 시간마다 스트레칭을 하세요", "물리치료를 받고 자주 스트레칭을 하라고"),
    ("열이 나고 온몸이 쑤셔요", "발열과 몸살", "독감 증상이에요", "독감",
     "해열제를 처방해 드릴게요. 며칠 집에서 푹 쉬세요", "해열제를 처방하고 며칠 푹 쉬라고"),
    ("눈이 가렵고 빨갛게 부었어요", "눈 가려움과 부기", "알레르기성 결막염이에요", "알레르기성 결막염",
     "안약을 넣으시고 눈은 비비지 마세요", "안약을 처방하고 눈을 비비지 말라고"),
    ("발목을 삐었는데 부어서 걷기가 힘들어요", "발목 부상", "인대가 조금 늘어난 것 같아요", "인대 손상",
     "붕대를 감아 드릴 테니 일주일 정도 무리하지 마세요", "붕대를 감아 주고 일주일 정도 무리하지 말라고"),
)


def _clinic(s: _Scene) -> None:
    words, symptom, finding, finding_sum, advice, advice_sum = s.pick(_SYMPTOMS)
    s.set(words=words, symptom=symptom, finding=finding, finding_sum=finding_sum, advice=advice, advice_sum=advice_sum,
          since=s.pick(("이틀 전부터", "사흘 전부터", "일주일 전부터", "어제 저녁부터", "지난 주말부터", "오늘 아침부터")),
          follow=s.pick(("사흘 뒤", "다음 주 월요일", "일주일 뒤", "이번 주 금요일")))
    if s.optional(0.3):
        s.say("A", ("먼저 생년월일을 말씀해 주세요.", "진료 전에 생년월일 확인할게요."))
        s.say("B", ("#DateOfBirth#예요.", "#DateOfBirth#입니다."))
    s.say("A", ("어디가 불편해서 오셨어요?", "안녕하세요. 오늘은 어떻게 오셨어요?", "어디가 아프세요?"))
    s.say("B", ("{since} {words}.", "선생님, {since} {words}."))
    if s.optional(0.4):
        question, answer = s.pick((("다른 증상은 없으세요?", "그것 말고는 괜찮아요."),
                                   ("약은 드셨어요?", "아니요, 아직 아무 약도 안 먹었어요.")))
        s.say("A", question)
        s.say("B", answer)
    s.say("A", ("{finding}.", "한번 볼게요. 음, {finding}."))
    s.say("B", ("심각한 건 아니죠?", "그럼 어떻게 해야 하나요?"))
    s.say("A", ("걱정하지 마세요. {advice}.", "{advice}."))
    s.summarize("{B:은} {since} 계속된 {symptom:으로} 진료를 받고, {A:은} {finding_sum:이라며} {advice_sum} 말한다.")
    if s.has("C"):
        line, answer, note = s.pick((
            ("선생님, 약은 하루에 몇 번 먹어야 해요?", "하루 세 번, 식후 30분에 드세요.", "{C:은} 약을 하루에 몇 번 먹어야 하는지 묻는다."),
            ("가족인데요, 집에서 따로 조심할 건 없을까요?", "충분히 쉬게 하시고 물을 자주 챙겨 주세요.", "{C:은} 집에서 조심할 점을 묻는다."),
        ))
        s.say("C", line)
        s.say("A", answer)
        s.extra(note)
    if s.optional(0.4):
        s.say("A", ("{follow}에 다시 한번 오세요.", "{follow}에 한 번 더 보러 오세요."))
        s.say("B", ("네, 그때 올게요.", "네, 알겠습니다."))
        s.extra("{B:은} {follow}에 다시 병원에 오기로 한다.")
    s.say("B", ("감사합니다, 선생님.", "감사합니다."))


_CLOTHES = ("셔츠", "코트", "청바지", "원피스", "운동화", "니트")
_GADGETS = ("이어폰", "블루투스 스피커", "전기 포트", "헤어드라이어", "무선 마우스")
_CLOTHES_FAULTS = (("사이즈가 너무 작아요", "사이즈가 작아서"), ("사이즈가 너무 커서 헐렁해요", "사이즈가 커서"),
                   ("색깔이 사진이랑 너무 달라요", "색이 사진과 달라서"), ("집에 와서 보니 얼룩이 있더라고요", "얼룩이 있어서"))
_GADGET_FAULTS = (("한 번 썼는데 벌써 고장 났어요", "고장이 나서"), ("전원이 아예 안 켜져요", "전원이 켜지지 않아서"),
                  ("상자를 열어 보니 흠집이 있어요", "흠집이 있어서"))


def _refund(s: _Scene) -> None:
    item, faults = (s.pick(_CLOTHES), _CLOTHES_FAULTS) if s.maybe(0.55) else (s.pick(_GADGETS), _GADGET_FAULTS)
    fault, fault_sum = s.pick(faults)
    s.set(item=item, fault=fault, fault_sum=fault_sum, price=_won(s, 19, 129),
          when=s.pick(("어제", "이틀 전에", "사흘 전에", "지난주에", "지난 주말에")))
    if s.optional(0.4):
        s.say("B", ("어서 오세요. 무엇을 도와드릴까요?", "안녕하세요, 손님. 뭘 도와드릴까요?"))
    s.say("A", ("{when} 여기서 {item:을} 샀는데 {fault}.", "{when} 산 {item:이} {fault}."))
    s.say("B", ("불편을 드려 죄송합니다. 환불을 원하세요, 교환을 원하세요?", "아, 그러셨군요. 환불해 드릴까요, 교환해 드릴까요?"))
    wants_refund = s.maybe(0.6)
    if wants_refund:
        s.say("A", ("환불해 주세요.", "그냥 환불받고 싶어요."))
    else:
        s.say("A", ("같은 제품으로 교환해 주세요.", "새 걸로 바꾸고 싶어요."))
    s.say("B", ("영수증 가지고 오셨어요?", "혹시 영수증 있으세요?"))
    if s.maybe(0.7):
        s.say("A", ("네, 여기 있어요.", "네, 카드 영수증도 같이 있어요."))
        if wants_refund:
            if s.optional(0.3):
                s.say("B", "결제하신 카드 번호를 확인하겠습니다.")
                s.say("A", ("#CardNumber#예요.", "카드 번호는 #CardNumber#입니다."))
            s.say("B", ("{price} 카드로 환불해 드렸습니다.", "확인했습니다. {price} 환불 처리해 드릴게요."))
            s.summarize("{A:은} {when} 산 {item:이} {fault_sum} {B}에게 {price:을} 환불받는다.")
        else:
            s.say("B", ("새 제품으로 바꿔 드릴게요. 잠시만 기다려 주세요.", "네, 같은 제품으로 새로 가져다드릴게요."))
            s.summarize("{A:은} {when} 산 {item:이} {fault_sum} {B}에게 새 제품으로 교환받는다.")
    else:
        s.say("A", ("아, 영수증을 버렸는데요.", "영수증은 잃어버렸어요."))
        if wants_refund:
            s.say("B", "영수증이 없으면 환불은 어렵고 교환만 가능합니다.")
            s.say("A", ("그럼 교환으로 할게요.", "어쩔 수 없죠. 교환해 주세요."))
            s.summarize("{A:은} {when} 산 {item:이} {fault_sum} {B}에게 환불을 요청하지만, 영수증이 없어서 교환하기로 한다.")
        else:
            s.say("B", "영수증이 없어도 교환은 가능합니다. 새 제품으로 드릴게요.")
            s.summarize("{A:은} {when} 산 {item:이} {fault_sum} {B}에게 새 제품으로 교환받는다.")
    if s.has("C"):
        s.say("C", ("이거 다른 색깔도 있어요?", "혹시 이 제품 다른 색도 나와요?"))
        s.say("B", ("네, 검은색과 흰색도 있습니다.", "지금은 회색만 남아 있어요."))
        s.extra("{C:은} 다른 색깔이 있는지 묻는다.")
    s.say("A", ("감사합니다.", "네, 수고하세요."))


_DESTINATIONS = (
    # (place, ways to get there, things to do there: "싶어" + 요 when polite)
    ("제주도", ("비행기",), ("한라산에 올라가 보고 싶어", "올레길을 걸어 보고 싶어", "바닷가에서 자전거를 타고 싶어")),
    ("부산", ("KTX", "고속버스", "차"), ("해운대에서 수영하고 싶어", "자갈치 시장에서 회를 먹고 싶어")),
    ("강릉", ("KTX", "고속버스", "차"), ("커피 거리에 가 보고 싶어", "경포대에서 일출을 보고 싶어")),
    ("경주", ("KTX", "고속버스"), ("불국사를 구경하고 싶어", "자전거를 빌려서 타고 싶어")),
    ("전주", ("기차", "고속버스"), ("한옥마을을 구경하고 싶어", "진짜 전주비빔밥을 먹어 보고 싶어")),
    ("여수", ("KTX", "차"), ("밤바다를 보고 싶어", "해상 케이블카를 타 보고 싶어")),
)


def _trip(s: _Scene) -> None:
    dest, ways, wishes = s.pick(_DESTINATIONS)
    wish = s.pick(wishes)
    s.set(dest=dest, way=s.pick(ways), wish=wish, wish_polite=wish + "요",
          when=s.pick(("다음 달 초", "이번 여름휴가", "추석 연휴", "다음 주말", "10월 첫째 주", "겨울방학")),
          nights=s.pick(("1박 2일", "2박 3일", "3박 4일")), budget=s.pick(("20만 원", "30만 원", "50만 원")))
    s.say("A", ("{when}에 같이 {dest}에 여행 가실래요?", "{when}에 {dest} 여행 어때요?"),
          ("{when}에 같이 {dest} 여행 갈래?", "우리 {when}에 {dest}에 놀러 가자."))
    s.say("B", ("좋아요! 며칠 정도 갈까요?", "좋죠. 며칠 동안 갈 생각이에요?"), ("좋아! 며칠 갈까?", "완전 좋지. 며칠 동안?"))
    s.say("A", "{nights:이면} 적당할 것 같아요.", ("{nights:이면} 딱 좋을 것 같아.", "{nights} 어때?"))
    if s.has("C"):
        s.say("C", "저도 같이 가도 돼요?", ("나도 끼워 줘!", "나도 같이 가도 돼?"))
        s.say("A", "그럼요, 같이 가요.", ("당연하지!", "좋아, 같이 가자."))
    s.say("B", ("교통편은 뭐로 할까요?", "뭐 타고 갈까요?"), ("뭐 타고 갈까?", "교통편은 어떻게 할까?"))
    s.say("A", ("{way:으로} 가요. 그게 제일 편해요.", "{way:이} 제일 편할 것 같아요."), ("{way} 타고 가자.", "{way:이} 제일 편할 것 같아."))
    s.summarize("{G:은} {when}에 {way:으로} {dest}에 {nights} 여행을 가기로 한다.")
    if s.optional(0.5):
        s.say("B", "가서 뭐 하고 싶어요?", "가서 뭐 하고 싶어?")
        s.say("A", "저는 {wish_polite}.", "나는 {wish}.")
        s.extra("{A:은} " + wish + " 한다.")
    if s.has("D"):
        s.say("D", "저도 갈래요. 숙소는 제가 알아볼게요.", "나도 갈래. 숙소는 내가 알아볼게.")
        s.extra("{D:은} 숙소를 알아보기로 한다.")
    else:
        s.say("B", "그럼 숙소는 제가 알아볼게요.", ("그럼 숙소는 내가 알아볼게.", "숙소는 내가 찾아볼게."))
        s.extra("{B:은} 숙소를 알아보기로 한다.")
    if s.optional(0.4):
        s.say("A", "경비는 한 사람당 {budget} 정도면 될 것 같아요.", "경비는 한 사람당 {budget}이면 될 것 같아.")
        s.say("B", "네, 그 정도면 괜찮아요.", "응, 그 정도면 충분해.")


_MOVE_REASONS = (("지금 집이 너무 좁아서", "집이 좁아서"), ("회사까지 너무 멀어서", "회사가 멀어서"),
                 ("월세가 너무 많이 올라서", "월세가 올라서"), ("지금 동네가 너무 시끄러워서", "동네가 시끄러워서"))


def _moving(s: _Scene) -> None:
    reason, reason_sum = s.pick(_MOVE_REASONS)
    s.set(reason=reason, reason_sum=reason_sum,
          when=s.pick(("다음 주 토요일", "이번 달 말", "다음 달 15일", "이번 주 일요일")),
          where=s.pick(("회사 근처", "학교 앞", "강남", "신촌", "분당", "인천", "부모님 댁 근처", "한강 근처")),
          cost=s.pick(("40만 원", "50만 원", "80만 원", "100만 원")))
    s.say("A", ("저 {when}에 이사해요.", "{when}에 드디어 이사 가요."), ("나 {when}에 이사해.", "나 {when}에 이사 가."))
    s.say("B", ("정말요? 어디로 가세요?", "갑자기요? 어디로 가요?"), ("진짜? 어디로 가?", "갑자기? 어디로?"))
    s.say("A", "{where:으로} 가요. {reason}요.", "{where:으로} 가. {reason}.")
    s.summarize("{A:은} {reason_sum} {when}에 {where:으로} 이사한다.")
    if s.optional(0.4):
        s.say("B", "이사 업체는 구하셨어요?", "이사 업체는 구했어?")
        s.say("A", "네, 알아봤는데 {cost:이래요}.", "응, 알아봤는데 {cost:이래}.")
        s.extra("{A:은} 이사 업체를 {cost}에 구한다.")
    s.say("A", "혹시 그날 짐 옮기는 것 좀 도와줄 수 있어요?", "혹시 그날 짐 옮기는 것 좀 도와줄 수 있어?")
    if s.maybe(0.8):
        s.say("B", ("그럼요. 아침 일찍 갈게요.", "물론이죠. 몇 시까지 가면 돼요?"), ("당연하지. 아침 일찍 갈게.", "물론이지. 몇 시까지 가면 돼?"))
        if s.has("C"):
            s.say("C", "저도 도울게요. 끝나고 같이 짜장면 먹어요.", "나도 도와줄게. 끝나고 짜장면 먹자!")
            s.say("A", "정말 고마워요!", "고마워, 짜장면은 내가 살게!")
            s.extra("{B:과} {C:은} 이삿짐 옮기는 것을 돕기로 한다.")
        else:
            s.extra("{B:은} 이삿짐 옮기는 것을 돕기로 한다.")
    else:
        s.say("B", "미안해요, 그날은 출장이 있어요.", "미안, 그날은 출장 가.")
        if s.has("C"):
            s.say("C", "그럼 제가 도울게요.", "그럼 내가 도와줄게.")
            s.extra("{B:은} 출장 때문에 못 돕고, 대신 {C:이} 돕기로 한다.")
        else:
            s.extra("{B:은} 출장 때문에 이사를 돕지 못한다.")
    if s.optional(0.3):
        s.say("B", "새 주소 알려 주세요. 집들이 선물 보낼게요.", "새 주소 알려 줘. 집들이 선물 보낼게.")
        s.say("A", "#Address#예요.", "#Address#야.")


_STRENGTHS = (
    ("꼼꼼한 성격", "작은 실수도 놓치지 않으려고 항상 두 번씩 확인합니다"),
    ("책임감", "맡은 일은 끝까지 해내려고 노력합니다"),
    ("의사소통 능력", "여러 부서와 함께 일하면서 의견을 조율한 경험이 많습니다"),
    ("외국어 실력", "영어와 일본어로 업무를 볼 수 있습니다"),
    ("문제 해결 능력", "문제가 생기면 원인부터 차근차근 찾아봅니다"),
)


def _interview(s: _Scene) -> None:
    strength, detail = s.pick(_STRENGTHS)
    s.set(strength=strength, detail=detail,
          job=s.pick(("마케팅", "웹 개발", "회계", "디자인", "영업", "고객 상담", "인사")),
          company=s.pick(("광고 회사", "작은 스타트업", "게임 회사", "출판사", "여행사", "제조 회사")),
          years=f"{s.rng.randint(1, 7)}년", start=s.pick(("다음 달 1일부터", "다음 주부터", "2주 뒤부터")),
          result=s.pick(("이번 주 금요일까지", "다음 주 월요일에", "일주일 안에", "사흘 안에")))
    s.say("A", ("{job} 직무에 지원하셨죠? 간단하게 자기소개 부탁드립니다.", "안녕하세요. {job} 직무 면접을 시작하겠습니다. 자기소개 부탁드립니다."))
    if s.maybe(0.7):
        s.say("B", ("안녕하십니까. 저는 {company}에서 {years} 동안 {job} 업무를 담당했습니다.",
                    "저는 {company}에서 {years} 동안 {job} 일을 했습니다."))
        s.summarize("{B:은} {job} 직무 면접에서 {company}에서 {years} 일한 경력을 소개하고 {strength:을} 장점으로 꼽는다.")
    else:
        s.say("B", "안녕하십니까. 올해 대학을 졸업했고, {company}에서 인턴으로 {job} 업무를 경험했습니다.")
        s.summarize("{B:은} {job} 직무 면접에서 {company} 인턴 경험을 소개하고 {strength:을} 장점으로 꼽는다.")
    s.say("A", ("본인의 가장 큰 장점은 무엇이라고 생각하세요?", "본인의 장점을 말씀해 주세요."))
    s.say("B", ("제 장점은 {strength:이라고} 생각합니다. {detail}.", "저는 {strength:이} 가장 큰 장점입니다. {detail}."))
    if s.has("C"):
        s.say("C", ("우리 회사에 지원한 이유가 뭔가요?", "저희 회사를 선택한 이유는 무엇인가요?"))
        s.say("B", "이 회사 제품을 오래 써 왔고, 직접 더 좋게 만들어 보고 싶었습니다.")
        s.extra("{B:은} {C}에게 회사 제품을 오래 써 와서 지원했다고 말한다.")
    if s.optional(0.4):
        s.say("A", ("언제부터 출근할 수 있으세요?", "합격하시면 언제부터 일할 수 있나요?"))
        s.say("B", "{start} 출근할 수 있습니다.")
        s.extra("{B:은} {start} 출근할 수 있다고 말한다.")
    if s.optional(0.3):
        s.say("B", ("혹시 야근이 많은 편인가요?", "하나 여쭤봐도 될까요? 야근은 자주 있나요?"))
        s.say("A", "바쁜 시기에만 조금 있는 편입니다.")
    s.say("A", ("수고하셨습니다. 결과는 {result} 이메일로 알려 드리겠습니다.", "오늘 면접은 여기까지입니다. 결과는 {result} 연락드릴게요."))
    s.extra("{A:은} 결과를 {result} 알려 주겠다고 한다.")
    if s.optional(0.3):
        s.say("B", "제 이메일 주소는 #Email#입니다.")
        s.say("A", "네, 확인했습니다.")
    s.say("B", ("감사합니다.", "감사합니다. 좋은 결과 기다리겠습니다."))


_ROUTES = (
    # (directions, directions in the summary before "가면")
    ("이 길로 쭉 가다가 두 번째 사거리에서 왼쪽으로 도세요", "두 번째 사거리에서 왼쪽으로"),
    ("길을 건너서 오른쪽으로 조금만 걸어가세요", "길을 건너 오른쪽으로"),
    ("저기 보이는 은행에서 오른쪽으로 꺾으세요", "은행에서 오른쪽으로"),
    ("횡단보도를 건너서 쭉 직진하세요", "횡단보도를 건너 직진해서"),
    ("육교를 건너서 왼쪽으로 가세요", "육교를 건너 왼쪽으로"),
)


def _directions(s: _Scene) -> None:
    route, route_sum = s.pick(_ROUTES)
    s.set(route=route, route_sum=route_sum,
          dest=s.pick(("지하철역", "시청", "우체국", "중앙 도서관", "시립 미술관", "버스 터미널", "대학 병원", "경찰서")),
          walk=s.pick(("5분", "10분", "15분")), bus=str(s.rng.randint(1, 9) * 100 + s.rng.randint(0, 99)),
          stops=s.pick(("두", "세", "네", "다섯")), landmark=s.pick(("편의점", "큰 약국", "빵집", "주유소", "꽃집")))
    s.say("A", ("실례합니다. {dest:은} 어떻게 가야 하나요?", "저, 말씀 좀 묻겠습니다. 여기서 {dest:이} 어디예요?",
                "혹시 {dest}에 가는 길 아세요?"))
    if s.maybe(0.7):
        s.say("B", ("{route}.", "아, {dest:이요}? {route}."))
        s.say("A", ("걸어서 얼마나 걸려요?", "거기까지 멀어요?"))
        s.say("B", ("걸어서 {walk}쯤 걸려요.", "아니요, 걸어서 {walk} 정도면 가요."))
        s.summarize("{A:은} {B}에게 {dest}에 가는 길을 묻고, {B:은} {route_sum} 가면 걸어서 {walk} 걸린다고 알려 준다.")
        if s.optional(0.4):
            s.say("B", ("{landmark} 바로 옆 건물이에요.", "{landmark} 옆이라서 금방 찾으실 거예요."))
            s.extra("{dest:은} {landmark} 바로 옆에 있다.")
    else:
        s.say("B", ("거기는 여기서 꽤 멀어요.", "{dest:이요}? 좀 먼데요."))
        s.say("A", "걸어서 갈 수 있을까요?")
        s.say("B", "걸어가면 30분도 넘게 걸려요. 저 앞 정류장에서 {bus}번 버스를 타세요.")
        s.say("A", "몇 정거장 가면 돼요?")
        s.say("B", ("{stops} 정거장만 가면 돼요.", "{stops} 정거장 가서 내리시면 바로 보여요."))
        s.summarize("{A:은} {B}에게 {dest}에 가는 길을 묻고, {B:은} 걸어가기엔 멀어서 {bus}번 버스를 타고 {stops} 정거장 가라고 알려 준다.")
    if s.has("C"):
        line, answer, note = s.pick((
            ("근처에 화장실도 있을까요?", "네, 저 건물 1층에 있어요.", "{C:은} 근처에 화장실이 있는지 묻는다."),
            ("그 근처에 커피 마실 곳도 있나요?", "네, 바로 앞에 카페가 하나 있어요.", "{C:은} 근처에 카페가 있는지 묻는다."),
        ))
        s.say("C", line)
        s.say("B", answer)
        s.extra(note)
    s.say("A", ("정말 감사합니다.", "친절하게 알려 주셔서 감사합니다."))
    if s.optional(0.5):
        s.say("B", ("천만에요.", "별말씀을요. 조심히 가세요."))


def _bank(s: _Scene) -> None:
    s.say("A", ("어서 오세요. 어떤 업무 보러 오셨어요?", "안녕하세요. 무엇을 도와드릴까요?"))
    s.pick((_bank_account, _bank_exchange, _bank_lost_card, _bank_transfer))(s)


def _bank_account(s: _Scene) -> None:
    s.set(purpose=s.pick(("월급 통장", "적금 통장", "생활비 통장", "아이 용돈 통장")))
    s.say("B", ("{purpose:으로} 쓸 계좌를 하나 만들고 싶어요.", "{purpose:을} 새로 만들려고 왔어요."))
    s.summarize("{B:은} {A}에게 {purpose:으로} 쓸 계좌를 새로 만든다.")
    s.say("A", ("신분증 가지고 오셨어요?", "신분증을 보여 주시겠어요?"))
    s.say("B", ("네, 여기 운전면허증이요.", "네, 주민등록증 여기 있습니다."))
    if s.optional(0.3):
        s.say("A", "본인 확인을 위해 주민등록번호를 말씀해 주시겠어요?")
        s.say("B", "#SSN#입니다.")
    if s.optional(0.5):
        s.say("A", "체크카드도 같이 만들어 드릴까요?")
        s.say("B", ("네, 같이 만들어 주세요.", "네, 그게 편하겠네요."))
        s.extra("{B:은} 체크카드도 함께 만든다.")
    s.say("A", "계좌 개설이 끝났습니다. 통장 여기 있습니다.")
    s.say("B", "감사합니다.")


_CURRENCIES = (
    ("달러", ("300달러", "500달러", "1,000달러"), ("미국 출장", "뉴욕 여행")),
    ("엔화", ("3만 엔", "5만 엔", "10만 엔"), ("일본 여행", "오사카 출장")),
    ("유로", ("200유로", "500유로", "800유로"), ("유럽 여행", "파리 출장")),
)


def _bank_exchange(s: _Scene) -> None:
    currency, amounts, trips = s.pick(_CURRENCIES)
    s.set(currency=currency, amount=s.pick(amounts), trip=s.pick(trips))
    s.say("B", ("{trip:을} 가는데 {currency:으로} 좀 바꾸려고요.", "다음 주에 {trip:을} 가서 {currency} 환전하러 왔어요."))
    s.say("A", ("얼마나 바꿔 드릴까요?", "얼마나 환전해 드릴까요?"))
    s.say("B", ("{amount}만 바꿔 주세요.", "{amount} 부탁드려요."))
    s.summarize("{B:은} {trip:을} 앞두고 {A}에게 {amount:을} 환전한다.")
    if s.optional(0.4):
        s.say("A", "여권을 보여 주시겠어요?")
        s.say("B", ("여기요. 여권 번호는 #PassportNumber#예요.", "네, 여기 있습니다."))
    if s.optional(0.4):
        s.say("A", "다음에는 모바일 앱으로 신청하시면 환율 우대를 받으실 수 있어요.")
        s.say("B", "아, 그렇군요. 다음에는 그렇게 해 볼게요.")
        s.extra("{A:은} 앱으로 신청하면 환율 우대를 받을 수 있다고 알려 준다.")
    s.say("A", "여기 {amount} 있습니다. 확인해 보세요.")
    s.say("B", ("네, 맞네요. 감사합니다.", "감사합니다."))


def _bank_lost_card(s: _Scene) -> None:
    s.set(when=s.pick(("어제 저녁에", "오늘 아침에", "지난 주말에")),
          where=s.pick(("지하철에서", "택시에서", "식당에서", "공원에서")), days=s.pick(("사흘", "5일", "일주일")))
    s.say("B", ("카드를 잃어버려서 분실 신고하려고요.", "신용카드를 잃어버린 것 같아요."))
    s.say("A", "언제 어디서 잃어버리셨어요?")
    s.say("B", ("{when} {where} 잃어버린 것 같아요.", "아마 {when} {where} 떨어뜨린 것 같아요."))
    s.say("A", "바로 정지해 드릴게요. 카드 번호 아세요?")
    s.say("B", ("#CardNumber#예요.", "네, #CardNumber#입니다."))
    s.say("A", "정지 처리됐습니다. 새 카드는 {days} 뒤에 집으로 배송됩니다.")
    s.summarize("{B:은} {when} {where} 잃어버린 카드를 분실 신고하고, 새 카드는 {days} 뒤에 받기로 한다.")
    if s.optional(0.5):
        s.say("B", "혹시 그동안 누가 쓴 건 없나요?")
        s.say("A", "확인해 보니 사용 내역은 없습니다.")
        s.extra("{A:은} 카드 사용 내역이 없다고 확인해 준다.")
    s.say("B", ("다행이네요. 감사합니다.", "감사합니다."))


def _bank_transfer(s: _Scene) -> None:
    to, purpose = s.pick((("부모님께", "용돈"), ("집주인에게", "월세"), ("동생에게", "등록금"), ("거래처에", "물건값")))
    s.set(to=to, purpose=purpose, amount=s.pick(("30만 원", "50만 원", "100만 원", "200만 원")))
    s.say("B", ("{to} {purpose:으로} {amount:을} 보내려고요.", "{to} {amount:을} 보내야 하는데요. {purpose:이에요}."))
    s.say("A", "받는 분 계좌 번호를 여기 적어 주시겠어요?")
    s.say("B", "네, 여기 적었어요.")
    if s.optional(0.5):
        s.say("A", "다른 은행이라서 수수료 500원이 붙는데 괜찮으세요?")
        s.say("B", "네, 괜찮아요.")
        s.extra("다른 은행이라 수수료 500원이 붙는다.")
    s.say("A", "{amount} 보내 드렸습니다.")
    s.say("B", "감사합니다.")
    s.summarize("{B:은} {A}에게 부탁해 {to} {purpose:으로} {amount:을} 송금한다.")


def _birthday(s: _Scene) -> None:
    s.set(who=s.pick(("엄마", "아빠", "팀장님", "룸메이트", "여동생", "남동생")),
          date=s.pick(("이번 주 토요일", "다음 주 수요일", "이번 달 20일", "다음 주 금요일")),
          place=s.pick(("우리 집", "학교 앞 고깃집", "회사 근처 카페", "한강 공원", "동네 노래방")),
          gift=s.pick(("향수", "목도리", "블루투스 이어폰", "꽃다발", "가죽 지갑", "운동화")),
          money=s.pick(("2만 원", "3만 원", "5만 원")))
    s.say("A", ("{date:이} {who} 생일이잖아요. 깜짝 파티 할까요?", "{date}에 {who} 생일 파티 해요!"),
          ("{date:이} {who} 생일이잖아. 깜짝 파티 해 줄까?", "{date}에 {who} 생일 파티 하자!"))
    s.say("B", ("좋아요! 어디서 할까요?", "좋은 생각이에요. 장소는요?"), ("좋아! 어디서 할까?", "좋지. 장소는?"))
    s.say("A", "{place}에서 하면 좋을 것 같아요.", "{place}에서 하면 좋을 것 같아.")
    s.say("B", "선물은 뭘로 할까요?", ("선물은 뭐 사지?", "선물은 뭐로 할까?"))
    s.say("A", "{gift} 어때요? 요즘 갖고 싶다고 했거든요.", "{gift} 어때? 요즘 갖고 싶다고 했거든.")
    s.summarize("{G:은} {date}에 {place}에서 {who} 생일 파티를 열고 선물로 {gift:을} 사기로 한다.")
    if s.optional(0.5):
        s.say("B", "좋아요. 한 사람당 {money}씩 모아요.", "좋다. 돈은 한 사람당 {money}씩 모으자.")
        s.extra("선물 비용은 한 사람당 {money}씩 모은다.")
    if s.has("C"):
        s.say("C", "케이크는 제가 준비할게요.", ("케이크는 내가 준비할게.", "케이크는 내가 사 올게."))
        s.extra("{C:은} 케이크를 준비하기로 한다.")
    if s.has("D"):
        s.say("D", "저는 풍선이랑 장식을 사 올게요.", "난 풍선이랑 장식 사 올게.")
        s.extra("{D:은} 풍선과 장식을 사 오기로 한다.")
    if s.optional(0.5):
        s.say("A", "{who}한테는 꼭 비밀로 해야 해요.", "{who}한테는 절대 비밀이야!")
        s.say("B", "네, 비밀 지킬게요.", "알았어, 입 꼭 다물고 있을게.")


def _homework(s: _Scene) -> None:
    s.set(subject=s.pick(("경제학", "통계학", "한국사", "심리학", "경영학", "사회학", "환경학")),
          task=s.pick(("조별 발표", "기말 보고서", "팀 프로젝트")),
          theme=s.pick(("기후 변화", "청년 실업", "SNS와 행복", "최저임금", "저출산 문제", "인공지능과 일자리")),
          deadline=s.pick(("다음 주 화요일", "이번 주 금요일", "다음 주 월요일", "모레")),
          mday=s.pick(("내일", "수요일", "목요일")), mtime=s.pick(("오후 4시", "저녁 7시", "오후 1시")),
          mplace=s.pick(("도서관", "학생회관", "과방", "학교 앞 카페")))
    s.say("A", ("{subject} {task} 마감이 {deadline:이에요}.", "우리 {subject} {task} 아직 시작도 못 했어요. {deadline}까지래요."),
          ("{subject} {task} 마감이 {deadline:이야}. 알고 있지?", "우리 {subject} {task} 아직 시작도 못 했어. {deadline}까지래."))
    s.say("B", "벌써요? 주제는 정했어요?", ("벌써? 주제는 정했어?", "헐, 주제는 정했어?"))
    s.say("A", "아직이요. {theme:으로} 하면 어때요?", "아직. {theme:으로} 하면 어떨까?")
    s.say("B", "좋아요. 자료도 많을 것 같아요.", ("좋아, 자료도 많을 것 같아.", "괜찮다. 그걸로 하자."))
    s.say("A", "저는 자료 조사를 맡을게요. PPT는 만들어 주실래요?", "나는 자료 조사 할게. 너는 PPT 만들어 줄래?")
    s.say("B", "네, 그렇게 할게요.", ("알았어.", "응, 그렇게 하자."))
    if s.has("C"):
        s.say("C", "그럼 발표는 제가 할게요.", "그럼 발표는 내가 할게.")
        s.extra("{A:은} 자료 조사, {B:은} PPT, {C:은} 발표를 맡는다.")
    else:
        s.extra("{A:은} 자료 조사를, {B:은} PPT 제작을 맡는다.")
    if s.has("D"):
        s.say("D", "저는 참고 문헌이랑 맞춤법 정리할게요.", "난 참고 문헌이랑 맞춤법 정리할게.")
    s.say("B", "한번 모여서 정리해요. {mday} {mtime}에 {mplace}에서 어때요?", "한번 모여서 정리하자. {mday} {mtime}에 {mplace}에서 어때?")
    s.say("A", "좋아요, 그때 봬요.", ("좋아, 그때 보자.", "콜. 늦지 마."))
    s.summarize("{G:은} {deadline}까지인 {subject} {task:을} 위해 주제를 {theme:으로} 정하고, {mday} {mtime}에 {mplace}에서 만나기로 한다.")


_SPORTS = (
    ("수영", ("회사 근처 수영장", "구민 체육센터")), ("요가", ("동네 요가원", "집 근처 요가 학원")),
    ("헬스", ("집 앞 헬스장", "회사 헬스장")), ("테니스", ("공원 테니스장",)), ("필라테스", ("역 앞 필라테스 학원",)),
    ("배드민턴", ("구민 체육관",)), ("클라이밍", ("실내 클라이밍장",)),
)
_SPORT_REASONS = (("요즘 살이 많이 쪄서", "살을 빼려고"), ("허리가 자주 아파서", "허리 건강을 위해"),
                  ("체력이 너무 떨어져서", "체력을 기르려고"), ("회사 일로 스트레스가 심해서", "스트레스를 풀려고"))


def _exercise(s: _Scene) -> None:
    sport, places = s.pick(_SPORTS)
    reason, reason_sum = s.pick(_SPORT_REASONS)
    s.set(sport=sport, place=s.pick(places), reason=reason, reason_sum=reason_sum,
          fee=f"한 달에 {s.rng.randint(5, 15)}만 원", freq=s.pick(("일주일에 두 번", "일주일에 세 번", "주말마다", "매일")),
          when=s.pick(("아침 7시", "퇴근하고 저녁 8시", "점심시간", "밤 9시")))
    s.say("A", ("저 다음 주부터 {sport:을} 배우려고요.", "저 {sport:을} 시작하기로 했어요."),
          ("나 다음 주부터 {sport} 배우려고.", "나 {sport} 시작하기로 했어."))
    s.say("B", ("갑자기 왜요?", "오, 어떤 계기로요?"), ("오, 갑자기 웬 {sport}?", "갑자기 왜?"))
    s.say("A", "{reason}요.", "{reason}.")
    s.say("B", ("어디서 하세요?", "어디서 하려고요?"), "어디서 하려고?")
    s.say("A", "{place}에 등록했어요. {fee:이래요}.", "{place}에 등록했어. {fee:이래}.")
    s.summarize("{A:은} {reason_sum} {place}에서 {sport:을} 하기로 한다.")
    if s.optional(0.5):
        s.say("B", "얼마나 자주 가세요?", "얼마나 자주 가?")
        s.say("A", "{freq} {when}에 가려고요.", "{freq} {when}에 가려고.")
        s.extra("{A:은} {freq} {when}에 운동하러 가기로 한다.")
    if s.optional(0.3):
        s.say("B", "저도 같이 해도 돼요?", "나도 같이 할래! 혼자 하면 금방 그만둘 것 같아.")
        s.say("A", "그럼요, 같이 다녀요.", "좋지, 같이 다니자.")
        s.extra("{B}도 함께 다니기로 한다.")
    if s.has("C"):
        s.say("C", "처음에는 무리하지 말고 스트레칭부터 꼭 하세요.", "처음부터 무리하지 말고 스트레칭 꼭 해.")
        s.say("A", "네, 조심할게요.", "응, 고마워.")
        s.extra("{C:은} 무리하지 말라고 조언한다.")


_PARCEL_ITEMS = ("책", "노트북", "겨울 코트", "화장품", "의자", "가습기", "운동화", "전자레인지")


def _parcel(s: _Scene) -> None:
    s.set(item=s.pick(_PARCEL_ITEMS), days=s.pick(("일주일", "닷새", "사흘", "열흘")),
          new=s.pick(("내일까지", "모레까지", "이번 주 금요일까지")))
    if s.optional(0.5):
        s.say("B", ("고객센터입니다. 무엇을 도와드릴까요?", "네, 택배 고객센터입니다."))
    problem = s.pick(("late", "broken", "address"))
    if problem == "late":
        s.say("A", ("{days} 전에 {item:을} 주문했는데 아직도 안 왔어요.", "주문한 {item:이} {days}째 안 와서 연락드렸어요."))
        s.say("B", "주문 번호를 알려 주시겠어요?")
        s.say("A", f"{s.rng.randint(100000, 999999)}번이에요.")
        s.say("B", "확인해 보니 물류 센터에서 배송이 늦어지고 있네요. {new} 도착할 예정입니다.")
        s.summarize("{A:은} {days} 전에 주문한 {item:이} 오지 않아 {B}에게 문의하고, {B:은} {new} 도착할 거라고 알려 준다.")
    elif problem == "broken":
        s.say("A", ("오늘 받은 {item:이} 파손되어 있어요.", "오늘 {item:이} 왔는데 상자가 찌그러져 있고 물건도 망가졌어요."))
        s.say("B", "정말 죄송합니다. 사진을 찍어서 보내 주시겠어요?")
        s.say("A", "네, 방금 문자로 보냈어요.")
        s.say("B", "확인했습니다. 새 상품으로 {new} 다시 보내 드리겠습니다.")
        s.summarize("{A:은} 파손된 {item} 때문에 {B}에게 연락하고, {B:은} {new} 새 상품을 다시 보내 주기로 한다.")
    else:
        s.say("A", ("{item:을} 주문했는데 배송지를 바꾸고 싶어요.", "어제 주문한 {item}의 배송지를 바꿀 수 있을까요?"))
        s.say("B", "아직 출발 전이라 변경 가능합니다. 어디로 바꿔 드릴까요?")
        s.say("A", "#Address#로 보내 주세요.")
        s.say("B", "네, 변경되었습니다. {new} 도착할 예정입니다.")
        s.summarize("{A:은} {B}에게 주문한 {item}의 배송지를 바꿔 달라고 요청하고, {B:은} {new} 도착한다고 알려 준다.")
    if s.optional(0.3):
        s.say("B", "연락받으실 번호도 확인할게요.")
        s.say("A", ("#PhoneNumber#예요.", "제 번호는 #PhoneNumber#입니다."))
    if s.optional(0.35):
        s.say("A", ("배송 오면 문 앞에 두고 가 주세요.", "제가 낮에는 집에 없어서 문 앞에 놓아 주세요."))
        s.say("B", "네, 기사님께 전달하겠습니다.")
        s.extra("{A:은} 물건을 문 앞에 두고 가 달라고 부탁한다.")
    s.say("A", ("감사합니다.", "알겠습니다. 감사합니다."))


def _hotel(s: _Scene) -> None:
    floor = s.rng.randint(3, 15)
    s.set(nights=s.pick(("1박", "2박", "3박")), room=s.pick(("더블룸", "트윈룸", "바다 전망 객실", "스위트룸", "패밀리룸")),
          number=f"{floor}{s.rng.randint(1, 20):02d}", fee=s.pick(("2만 원", "3만 원")), wake=s.pick(("6시", "6시 반", "7시")),
          breakfast=s.pick(("2층 식당에서 7시부터 10시까지", "1층 뷔페에서 6시 반부터 9시 반까지")))
    s.say("B", ("체크인하려고요. 인터넷으로 {room} {nights:을} 예약했어요.", "안녕하세요. {nights} 예약했는데 체크인할게요."))
    s.say("A", "네, 확인됐습니다. {room:으로} {nights} 맞으시죠?")
    s.say("B", ("네, 맞아요.", "네, 맞습니다."))
    if s.optional(0.3):
        s.say("A", "여권을 보여 주시겠어요?")
        s.say("B", "여기 있습니다. 여권 번호는 #PassportNumber#입니다.")
    s.say("A", ("방은 {number}호입니다. 아침 식사는 {breakfast} 드실 수 있습니다.", "{number}호 열쇠 여기 있습니다. 조식은 {breakfast}입니다."))
    s.summarize("{B:은} {room:으로} {nights} 체크인하고, {A}에게 {number}호 방과 아침 식사 시간을 안내받는다.")
    if s.optional(0.3):
        s.say("B", "체크아웃을 조금 늦게 할 수 있을까요?")
        s.say("A", "오후 1시까지 가능한데, 추가 요금 {fee:이} 있습니다.")
        s.say("B", ("괜찮아요. 그렇게 해 주세요.", "네, 그렇게 할게요."))
        s.extra("{B:은} 추가 요금 {fee:을} 내고 체크아웃을 오후 1시로 늦춘다.")
    if s.optional(0.3):
        s.say("B", "주차도 되나요? 차 번호는 #CarNumber#예요.")
        s.say("A", "네, 등록해 드렸습니다. 지하 주차장을 이용하세요.")
        s.extra("{B:은} 차를 주차 등록한다.")
    if s.optional(0.3):
        s.say("B", "내일 아침 {wake}에 모닝콜 부탁드려요.")
        s.say("A", "네, {wake}에 깨워 드리겠습니다.")
        s.extra("{B:은} 내일 아침 {wake} 모닝콜을 부탁한다.")
    if s.has("C"):
        line, answer, note = s.pick((
            ("수영장은 몇 시까지 해요?", "밤 10시까지 운영합니다.", "{C:은} 수영장 운영 시간을 묻는다."),
            ("근처에 가 볼 만한 식당이 있을까요?", "호텔 앞 골목에 유명한 국밥집이 있습니다.", "{C:은} 근처 맛집을 추천받는다."),
        ))
        s.say("C", line)
        s.say("A", answer)
        s.extra(note)
    if s.optional(0.5):
        s.say("A", ("편안한 시간 되세요.", "즐거운 여행 되세요."))
        s.say("B", "감사합니다.")


_PLANS = (  # (invitation, plan in the summary, parts of the day it fits)
    ("영화 보러 갈래", "영화를 보기로", ("오후", "저녁")), ("점심 먹을래", "점심을 먹기로", ("낮",)),
    ("커피 한잔할래", "커피를 마시기로", ("오전", "오후")), ("전시회 보러 갈래", "전시회를 보기로", ("오전", "오후")),
    ("쇼핑하러 갈래", "쇼핑을 하기로", ("오후", "저녁")),
)


def _phone_plan(s: _Scene) -> None:
    plan, plan_sum, parts = s.pick(_PLANS)
    time, later = _times(s, parts)
    s.set(plan=plan, plan_sum=plan_sum, day=_day(s), time=time, later=later,
          place=s.pick(("강남역 11번 출구", "시청 앞", "학교 정문", "회사 로비", "영화관 매표소", "카페 입구")),
          errand=s.pick(("병원 예약", "치과 예약", "수업", "회의", "아르바이트")))
    s.say("A", ("여보세요? 저예요. {day}에 시간 있으세요?", "{day}에 혹시 바빠요?"), ("여보세요? 나야. {day}에 시간 있어?", "{day}에 뭐 해?"))
    s.say("B", ("오후에는 괜찮아요. 왜요?", "특별한 일은 없어요. 왜요?"), ("오후에는 괜찮아. 왜?", "딱히 없어. 왜?"))
    s.say("A", "같이 {plan}요?", "같이 {plan}?")
    s.say("B", "좋아요! 몇 시에 만날까요?", ("좋아! 몇 시에 볼까?", "좋지. 몇 시?"))
    s.say("A", "{time} 어때요?", "{time} 어때?")
    if s.maybe(0.35):
        s.say("B", "그때는 {errand:이} 있어서요. {later:은} 어때요?", "그때는 {errand:이} 있어. {later:은} 어때?")
        s.say("A", "좋아요, {later:으로} 해요.", "좋아, {later:으로} 하자.")
        s.set(time=later)
        s.extra("{B:은} {errand} 때문에 약속을 한 시간 늦춘다.")
    else:
        s.say("B", "좋아요.", ("좋아.", "응, 괜찮아."))
    s.say("A", "그럼 {place}에서 만나요.", "그럼 {place}에서 만나자.")
    s.say("B", ("네, 그때 봬요.", "알겠어요. 늦지 마세요!"), ("알았어. 늦지 마!", "응, 그때 봐."))
    s.summarize("{A:은} {B}에게 전화해 {day} {time}에 {place}에서 만나 {plan_sum} 한다.")


# (topic name, scene, most speakers the scene supports)
TOPICS: tuple[tuple[str, Callable[[_Scene], None], int], ...] = (
    ("식당 예약", _restaurant, 3),
    ("병원 진료", _clinic, 3),
    ("쇼핑/환불", _refund, 3),
    ("여행 계획", _trip, 4),
    ("이사", _moving, 3),
    ("면접", _interview, 3),
    ("길 찾기", _directions, 3),
    ("은행 업무", _bank, 2),
    ("생일 파티", _birthday, 4),
    ("수업/과제", _homework, 4),
    ("운동", _exercise, 3),
    ("택배/배송", _parcel, 2),
    ("호텔 체크인", _hotel, 3),
    ("전화 약속", _phone_plan, 2),
)
_SPEAKER_WEIGHTS = {2: 70, 3: 22, 4: 8}
_CHATTINESS = (0.0, 0.5, 1.0, 1.6)


def _draw(rng: random.Random) -> tuple[str, str, str]:
    """One (topic, dialogue, summary) from ``rng``."""
    topic, scene_fn, most = rng.choice(TOPICS)
    n_speakers = min(most, rng.choices(list(_SPEAKER_WEIGHTS), weights=list(_SPEAKER_WEIGHTS.values()))[0])
    scene = _Scene(rng, n_speakers, casual=rng.random() < 0.5, chattiness=rng.choice(_CHATTINESS))
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
