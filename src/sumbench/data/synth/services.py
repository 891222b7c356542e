"""Topic scenes at a counter: a customer and the staff of a restaurant, a clinic, a shop, a bank, a courier
and a hotel. Each scene fills a :class:`Scene` from its random generator: turns, slots and the summary.
"""

from __future__ import annotations

from sumbench.data.synth.scene import Scene, pick_day, pick_times, pick_won

def restaurant(s: Scene) -> None:
    time, later = pick_times(s, ("낮", "저녁"))
    s.set(place=s.pick(("한빛 식당", "바다 횟집", "라온 레스토랑", "소담 한정식", "로마 파스타", "청기와 갈비")),
          day=pick_day(s), time=time, later=later, people=f"{s.rng.randint(2, 8)}명",
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


def clinic(s: Scene) -> None:
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


def refund(s: Scene) -> None:
    item, faults = (s.pick(_CLOTHES), _CLOTHES_FAULTS) if s.maybe(0.55) else (s.pick(_GADGETS), _GADGET_FAULTS)
    fault, fault_sum = s.pick(faults)
    s.set(item=item, fault=fault, fault_sum=fault_sum, price=pick_won(s, 19, 129),
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



def bank(s: Scene) -> None:
    s.say("A", ("어서 오세요. 어떤 업무 보러 오셨어요?", "안녕하세요. 무엇을 도와드릴까요?"))
    s.pick((_bank_account, _bank_exchange, _bank_lost_card, _bank_transfer))(s)


def _bank_account(s: Scene) -> None:
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


def _bank_exchange(s: Scene) -> None:
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


def _bank_lost_card(s: Scene) -> None:
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


def _bank_transfer(s: Scene) -> None:
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



_PARCEL_ITEMS = ("책", "노트북", "겨울 코트", "화장품", "의자", "가습기", "운동화", "전자레인지")


def parcel(s: Scene) -> None:
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


def hotel(s: Scene) -> None:
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
