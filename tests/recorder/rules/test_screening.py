"""The narrative screener's phrase rules and combined result, as tables of narratives.

Pure: no database, no broker (the shipped rules and model files are read once).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.contacts import ContactCreate
from schemas.screening import OffenceFamily, ScreeningMode, ScreeningResult
from services.recorder.rules.screening import SCREEN_CHARS, prepare_text, screen_contact, screen_text
from services.recorder.screening_model import load_model, load_rules

RULES = load_rules()
MODEL, _ = load_model()
F = OffenceFamily

# (narrative, fires, a family the rules must suggest when it fires)
RULE_CASES: list[tuple[str, bool, OffenceFamily | None]] = [
    # negation: "did not hit", "never touched", "no one was hurt"
    ("he did not hit me", False, None),
    ("He didn't hit her, he just shouted and left.", False, None),
    ("She said he never touched her.", False, None),
    ("No one was hurt and nothing was damaged.", False, None),
    ("Nobody was assaulted, verbal argument only.", False, None),
    ("IP states no assault, verbal argt only, NFA.", False, None),
    ("She denies being assaulted.", False, None),
    ("Caller was not robbed, she found her purse.", False, None),
    # reported speech that negates, and that does not
    ("she said nothing happened", False, None),
    ("Officers spoke to her alone and she said nothing happened.", False, None),
    ("he said he would kill me", True, F.THREATS_HARASSMENT),
    ("She says he told her he'd slit her throat while she slept.", True, F.THREATS_HARASSMENT),
    ("He said he was going to stab me if I called the police.", True, F.THREATS_HARASSMENT),
    ("Caller states her ex threatened to kill her.", True, F.THREATS_HARASSMENT),
    # a negation does not reach past "but" or a full stop
    ("He did not hit me but he pushed me down the stairs.", True, F.VIOLENCE),
    ("No one else was there. He punched me in the face.", True, F.VIOLENCE),
    ("Not sure if he hit her, neighbour heard thuds.", True, F.VIOLENCE),
    # hard negatives that sound alarming
    ("Just trying to kill time in the car park.", False, None),
    ("Teenagers shot a video on the bridge.", False, None),
    ("The boiler attacked by rust is leaking.", False, None),
    ("He threatened to tell mum about the vase.", False, None),
    ("My feet are killing me after the run.", False, None),
    ("Customer had a panic attack in the queue.", False, None),
    ("Loud music from a house party.", False, None),
    ("Lost my wallet between the pub and the taxi rank.", False, None),
    ("Concern for welfare, found safe and well.", False, None),
    ("", False, None),
    # officer shorthand and voices
    ("IP states susp punched her x2, no inj visible", True, F.VIOLENCE),
    ("MOP reports a male being kicked on the floor by 3 others", True, F.VIOLENCE),
    ("susp kicked IP in the leg numerous times", True, F.VIOLENCE),
    ("my son got jumped on the way home, two lads battered him", True, F.VIOLENCE),
    ("Customer assalted the pharmacist", True, F.VIOLENCE),
    # each family
    ("He grabbed her by the throat during the argument.", True, F.VIOLENCE),
    ("She woke up and he had raped her.", True, F.SEXUAL),
    ("A man exposed himself to her in the park.", True, F.SEXUAL),
    ("He keeps groping me in the stock room.", True, F.SEXUAL),
    ("He checks my phone, won't let me see my friends, takes my bank card.", True, F.DOMESTIC_ABUSE),
    ("She is not allowed out and he controls all the money.", True, F.DOMESTIC_ABUSE),
    ("Her husband punched her in the kitchen.", True, F.DOMESTIC_ABUSE),
    ("Someone stole my bike from the rack.", True, F.THEFT_ROBBERY),
    ("Two males robbed him of his phone at knifepoint.", True, F.THEFT_ROBBERY),
    ("Back door forced and the laptop is gone.", True, F.THEFT_ROBBERY),
    ("They slashed all four tyres on his van.", True, F.CRIMINAL_DAMAGE),
    ("Youths sprayed graffiti on the church wall.", True, F.CRIMINAL_DAMAGE),
    ("The boss keeps their passports and they work for no money.", True, F.MODERN_SLAVERY),
    ("A courier collected her bank cards after a call from the bank.", True, F.FRAUD),
    ("He has been stalking her for weeks.", True, F.THREATS_HARASSMENT),
    ("Caller reports harassment by her former landlord.", True, F.THREATS_HARASSMENT),
    ("She is not being harassed, she just wants advice.", False, None),
    # medical senses of violent words (neutralised), beside the wound itself
    ("Her dad has a stabbing pain in his side and is struggling to breathe.", False, None),
    ("It feels like someone is punching me in the chest, can an ambulance come.", False, None),
    ("Shooting pains down his leg since the morning.", False, None),
    ("He stabbed me in the side with a screwdriver.", True, F.VIOLENCE),
    # a threat to harm oneself is welfare; telling someone to kill themself, or threatening another, is not
    ("My brother is threatening to kill himself again.", False, None),
    ("She says she wants to hurt herself and has locked the bathroom door.", False, None),
    ("Her son keeps saying he is going to kill himself after his exams.", False, None),
    ("He said he would kill me and then kill himself.", True, F.THREATS_HARASSMENT),
    ("Girls from school keep telling her to go and kill herself on Snapchat.", True, F.THREATS_HARASSMENT),
    # civil and consumer disputes in the words of a crime
    ("I feel robbed by the parking charge at the hospital, I want to complain about the firm.", False, None),
    ("He was ripped off by the garage, civil matter advised.", False, None),
    ("He was robbed at knifepoint outside the bank.", True, F.THEFT_ROBBERY),
    # animals, and what they go for
    ("The dog attacked the post again and shredded the letters.", False, None),
    ("A fox killed all our chickens overnight.", False, None),
    ("A seagull snatched his chips on the front.", False, None),
    ("He set his dog on me in the park.", True, F.VIOLENCE),
    # sport, games, films; idioms said in jest
    ("We got battered 4-0 on Saturday and the lads are singing in the car park.", False, None),
    ("We were robbed by the referee, fans are arguing outside the ground.", False, None),
    ("I could kill him for forgetting my birthday.", False, None),
    ("My mum will kill me if I'm late again.", False, None),
    ("Kids playing paintball in the woods, sounded like shooting.", False, None),
    # officer shorthand for a non-crime, and a theft that was not
    ("Verbal argument only, no offences disclosed, both parties calm.", False, None),
    ("Reported her car stolen, then found it where she had parked it.", False, None),
    ("Thought his bike was nicked but his son had borrowed it.", False, None),
    ("Car stolen from the drive overnight, both keys still in the house.", True, F.THEFT_ROBBERY),
    # a missing person is no missing property
    ("My nan has gone missing from the care home, she has dementia.", False, None),
    ("Man reporting his mother missing from her care home.", False, None),
    ("Money keeps going missing from her purse since the lodger moved in.", True, F.THEFT_ROBBERY),
    # quotation marks do not hide a phrase; a house number is no negation
    ("He said he'll 'sort her out' if she reports it.", True, F.THREATS_HARASSMENT),
    ("The man at no 14 came out and punched him.", True, F.VIOLENCE),
    # more ways of telling
    ("She moved £3,000 to a safe account after a call from her bank.", True, F.FRAUD),
    ("Paid a £500 deposit for a puppy online and the seller has stopped answering.", True, F.FRAUD),
    ("Attempted entry at the rear door, pry marks round the lock, nothing taken.", True, F.THEFT_ROBBERY),
    ("he forced himself on me even though i said no", True, F.SEXUAL),
    ("He sends her photos of her own front door.", True, F.THREATS_HARASSMENT),
    ("Somebody cut the lock on my neighbour's bike and rode off on it.", True, F.THEFT_ROBBERY),
    ("IP home address entered via rear window, untidy search.", True, F.THEFT_ROBBERY),
    ("Stated he will have her legs broken if she goes to the police.", True, F.THREATS_HARASSMENT),
]


@pytest.mark.parametrize(("narrative", "fires", "family"), RULE_CASES)
def test_phrase_rules(narrative: str, fires: bool, family: OffenceFamily | None) -> None:
    result = screen_text(narrative, rules=RULES, model=None)
    assert result.positive is fires, result.evidence
    assert result.mode is ScreeningMode.RULES_ONLY
    if family is not None:
        assert family in result.families, result.families
    if not fires:
        assert result.families == []


@pytest.mark.parametrize(
    ("narrative", "fires"),
    [
        ("he did not hit me", False),
        ("she said nothing happened", False),
        ("he said he would kill me", True),
        ("no one was hurt", False),
        ("IP states susp punched her x2, no inj visible", True),
        ("Just trying to kill time.", False),
    ],
)
def test_combined_screener_keeps_the_rules_verdict_on_plain_cases(narrative: str, fires: bool) -> None:
    assert MODEL is not None, "the shipped model file must load"
    result = screen_text(narrative, rules=RULES, model=MODEL, every_layer=True)
    assert result.positive is fires
    assert result.mode is ScreeningMode.RULES_AND_MODEL
    assert result.model_score is not None
    assert "+model-" in result.screener_version


def test_a_neutralised_idiom_leaves_the_rest_of_the_text_read() -> None:
    result = screen_text(
        "He has a stabbing pain in his chest. Earlier her husband punched her.", rules=RULES, model=None
    )
    assert result.positive
    assert "violence/blow: 'punched'" in result.evidence
    assert not any("weapon" in e for e in result.evidence)


def test_a_dampener_is_named_in_the_evidence() -> None:
    result = screen_text("Reported her bike stolen but found it in her garage.", rules=RULES, model=None)
    assert not result.positive
    assert "dampened: found_again" in result.evidence


def test_negated_phrase_is_named_in_the_evidence() -> None:
    result = screen_text("He did not hit me.", rules=RULES, model=None)
    assert result.evidence == ["negated by 'not': 'hit me'"]


def test_evidence_quotes_phrases_never_the_narrative() -> None:
    narrative = "Caller says " + "her neighbour shouted at her over the fence and " * 40 + "then punched her."
    result = screen_text(narrative, rules=RULES, model=MODEL)
    assert result.positive
    assert all(len(e) <= 120 for e in result.evidence)
    assert "violence/blow: 'punched'" in result.evidence


def test_a_100_kb_narrative_is_capped_and_says_so() -> None:
    narrative = "He punched me. " + "x" * 100_000
    result = screen_text(narrative, rules=RULES, model=MODEL)
    assert result.truncated
    assert result.positive
    assert f"text cut at {SCREEN_CHARS} characters" in result.evidence
    assert len(prepare_text(narrative).text) == SCREEN_CHARS


def test_a_disclosure_past_the_cap_is_not_read() -> None:
    narrative = "Caller chatted about the weather. " * 700 + "He punched me."
    result = screen_text(narrative, rules=RULES, model=None)
    assert result.truncated
    assert not result.positive


@pytest.mark.parametrize(
    "narrative",
    [
        "",
        None,
        "   \n\t ",
        "\x00\x01\x02\x1b[31m\x7f",
        "Звонящая сообщает, что муж её ударил",
        "المتصل يبلغ عن سرقة",
        "来电者报告被打 😀🔥💥",
        "\u202etxet desrever\u202c",
        "\ufeff" * 100,
    ],
)
def test_bad_input_gives_a_clean_result(narrative: str | None) -> None:
    result = screen_text(narrative, rules=RULES, model=MODEL)
    assert isinstance(result, ScreeningResult)
    assert 0 <= result.score <= 1


def test_empty_text_is_a_clean_negative() -> None:
    result = screen_text("", rules=RULES, model=MODEL)
    assert (result.positive, result.score, result.families, result.evidence, result.truncated) == (
        False,
        0.0,
        [],
        [],
        False,
    )


def test_control_characters_are_stripped_before_matching() -> None:
    result = screen_text("he pun\x00ched me. he \x07punched\x1b me", rules=RULES, model=None)
    assert result.positive
    assert "violence/blow: 'punched'" in result.evidence


@given(st.text(max_size=400))
def test_any_text_is_screened_without_error(text: str) -> None:
    result = screen_text(text, rules=RULES, model=MODEL)
    assert 0 <= result.score <= 1
    assert len(result.evidence) <= 20
    assert result.positive == (result.score >= 0.5 and bool(prepare_text(text).text))


def test_contact_narrative_and_evidence_to_contrary_are_both_read() -> None:
    contact = ContactCreate.model_validate(
        {
            "force": "GMP",
            "source": {"system": "STORM", "reference": "INC-1"},
            "channel": "101",
            "received_at": "2026-11-02T21:14:00Z",
            "reporter": {"relationship": "victim"},
            "incident": {"category": "public_safety"},
            "narrative": "Concern for welfare of the caller's sister.",
            "credible_evidence_to_contrary": "Sister says her husband twisted her arm behind her back.",
        }
    )
    result = screen_contact(contact, rules=RULES, model=MODEL)
    assert result.positive
    assert OffenceFamily.VIOLENCE in result.families
    rationale = screen_contact(
        contact.model_copy(update={"credible_evidence_to_contrary": None}),
        rules=RULES,
        model=MODEL,
        extra=["Victim spoken to: he threatened to kill her."],
    )
    assert rationale.positive


def _texts_to_screen() -> list[str]:
    """The hand-written corpus and a few hundred of the simulator's narratives, crimes hidden and non-crimes."""
    from crimerec.screening import load_corpus
    from crimerec.simulation.narratives import NarrativeWriter
    from schemas.catalogue import OffenceCatalogue

    writer = NarrativeWriter(7, OffenceCatalogue.default())
    simulated = [writer.non_crime(c, log_number=1234).text for c in ("asb", "public_safety") for _ in range(150)]
    simulated += [
        writer.crime(code, victims=1, reporter=who, place="the park", hidden=True).text
        for code in ("8N", "105A", "8L", "5D", "58A", "34B", "19C", "17A")
        for who in ("victim", "third_party", "police")
    ]
    return [item["text"] for item in load_corpus()] + simulated


def test_the_classifier_is_consulted_only_where_it_can_change_the_verdict() -> None:
    skipped = 0
    for text in _texts_to_screen():
        lazy = screen_text(text, rules=RULES, model=MODEL)
        full = screen_text(text, rules=RULES, model=MODEL, every_layer=True)
        assert (lazy.positive, lazy.families) == (full.positive, full.families), text
        if lazy.model_score is None:
            skipped += 1
            assert not full.positive and lazy.score == lazy.rules_score == full.rules_score
            assert "model: not consulted, no rule sign it could lift over the threshold" in lazy.evidence
        else:
            assert lazy == full
    assert skipped > 100  # most texts: the rules find nothing the model could lift
