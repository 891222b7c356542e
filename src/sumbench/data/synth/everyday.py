"""Topic scenes between friends, family and colleagues: a trip, a move, a job interview, directions, a
birthday, homework, exercise and a phone call to meet. Each scene fills a :class:`Scene` from its random
generator: turns, slots and the summary.
"""

from __future__ import annotations

from sumbench.data.synth.scene import Scene, pick_day, pick_times

_DESTINATIONS = (
    # (place, ways to get there, things to do there: "싶어" + 요 when polite)
    ("제주도", ("비행기",), ("한라산에 올라가 보고 싶어", "올레길을 걸어 보고 싶어", "바닷가에서 자전거를 타고 싶어")),
    ("부산", ("KTX", "고속버스", "차"), ("해운대에서 수영하고 싶어", "자갈치 시장에서 회를 먹고 싶어")),
    ("강릉", ("KTX", "고속버스", "차"), ("커피 거리에 가 보고 싶어", "경포대에서 일출을 보고 싶어")),
    ("경주", ("KTX", "고속버스"), ("불국사를 구경하고 싶어", "자전거를 빌려서 타고 싶어")),
    ("전주", ("기차", "고속버스"), ("한옥마을을 구경하고 싶어", "진짜 전주비빔밥을 먹어 보고 싶어")),
    ("여수", ("KTX", "차"), ("밤바다를 보고 싶어", "해상 케이블카를 타 보고 싶어")),
)


def trip(s: Scene) -> None:
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


def moving(s: Scene) -> None:
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


def interview(s: Scene) -> None:
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


def directions(s: Scene) -> None:
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



def birthday(s: Scene) -> None:
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


def homework(s: Scene) -> None:
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


def exercise(s: Scene) -> None:
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



_PLANS = (  # (invitation, plan in the summary, parts of the day it fits)
    ("영화 보러 갈래", "영화를 보기로", ("오후", "저녁")), ("점심 먹을래", "점심을 먹기로", ("낮",)),
    ("커피 한잔할래", "커피를 마시기로", ("오전", "오후")), ("전시회 보러 갈래", "전시회를 보기로", ("오전", "오후")),
    ("쇼핑하러 갈래", "쇼핑을 하기로", ("오후", "저녁")),
)


def phone_plan(s: Scene) -> None:
    plan, plan_sum, parts = s.pick(_PLANS)
    time, later = pick_times(s, parts)
    s.set(plan=plan, plan_sum=plan_sum, day=pick_day(s), time=time, later=later,
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
