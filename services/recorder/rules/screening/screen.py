"""One screening: phrase rules and, when loaded, the classifier, combined into a ScreeningResult."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from schemas.contacts import ContactCreate
from schemas.screening import MAX_EVIDENCE, MAX_EVIDENCE_CHARS, OffenceFamily, ScreeningMode, ScreeningResult
from services.recorder.rules.screening.model import LinearTextModel
from services.recorder.rules.screening.phrases import PhraseRules
from services.recorder.rules.screening.text import SCREEN_CHARS, prepare_text

THRESHOLD: Final = 0.5
"""A combined score at or above this is positive: a person reviews the decision."""
MODEL_LIFT: Final = 0.35
"""How far the classifier may lift the rules' score: it can carry a weak phrase sign (a bruise, a 'threatened')
over the threshold, never make a positive out of a text no rule finds anything in. The phrase rules are the
precise layer; the classifier, trained on a few hundred narratives, is a recall aid, and alone it misreads
phrasings it has never seen (on the simulator's narratives it scored every non-crime as a crime: metrics.json)."""
FAMILY_THRESHOLD: Final = 0.5


def combine(rules_score: float, model_score: float | None) -> float:
    """The screener's score from its two layers' scores (the rules' alone when no model is loaded)."""
    if model_score is None:
        return rules_score
    return max(rules_score, min(model_score, rules_score + MODEL_LIFT))


def can_matter(rules_score: float) -> bool:
    """Whether the classifier can change the verdict, or the families, of a text the rules score so: only where
    its largest lift would reach the threshold. Below that the text is negative whatever the model says."""
    return combine(rules_score, 1.0) >= THRESHOLD


def screen_text(
    raw: str | None,
    *,
    rules: PhraseRules,
    model: LinearTextModel | None,
    limit: int = SCREEN_CHARS,
    every_layer: bool = False,
) -> ScreeningResult:
    """Screens a contact's text for a disclosed crime: score, suggested families, the evidence and the version.

    The classifier is consulted only where it can matter (can_matter): a text in which the rules find no sign it
    could lift over the threshold is a negative either way, and most texts screened are such; its score is then
    the rules' and `model_score` is null. `every_layer=True` consults it on every text (an evaluation of each
    layer); the verdict and families are the same either way."""
    prepared = prepare_text(raw, limit=limit)
    findings = rules.match(prepared.text)
    consulted = model is not None and (every_layer or can_matter(findings.score))
    model_score = model.score(prepared.text) if model is not None and consulted and prepared.text else None
    probability = None if model_score is None else model_score.probability
    if consulted and probability is None:
        probability = 0.0  # an empty text: the model has nothing to read
    score = min(1.0, max(0.0, combine(findings.score, probability)))
    positive = bool(prepared.text) and score >= THRESHOLD
    strengths: dict[OffenceFamily, float] = dict(findings.families)
    if model_score is not None:
        for family, p in model_score.families.items():
            if p >= FAMILY_THRESHOLD:
                strengths[family] = max(strengths.get(family, 0.0), p)
    families = sorted(strengths, key=lambda f: (-strengths[f], f.value)) if positive else []
    evidence: list[str] = []
    for hit in sorted(findings.fired, key=lambda h: -h.rule.weight):
        evidence.append(f"{hit.rule.family.value}/{hit.rule.id}: '{hit.phrase}'")
    if model_score is not None:
        evidence.extend(f"model: '{term}'" for term in model_score.top_terms[:3])
    elif model is not None and not consulted and prepared.text:
        evidence.append("model: not consulted, no rule sign it could lift over the threshold")
    evidence.extend(f"negated by '{h.negated_by}': '{h.phrase}'" for h in findings.negated[:3])
    evidence.extend(f"dampened: {d.id}" for d in findings.dampened)
    if prepared.truncated:
        evidence.append(f"text cut at {limit} characters")
    version = rules.version if model is None else f"{rules.version}+{model.version}"
    return ScreeningResult(
        score=round(score, 4),
        positive=positive,
        families=families,
        evidence=[e[:MAX_EVIDENCE_CHARS] for e in evidence[:MAX_EVIDENCE]],
        rules_score=round(min(1.0, findings.score), 4),
        model_score=None if probability is None else round(probability, 4),
        screener_version=version[:100],
        mode=ScreeningMode.RULES_ONLY if model is None else ScreeningMode.RULES_AND_MODEL,
        truncated=prepared.truncated,
    )


def contact_text(contact: ContactCreate, extra: Iterable[str | None] = ()) -> str:
    """The free text of a contact the screener reads: its narrative, any evidence to the contrary, and the extra
    texts given (a decision's rationale), one per line."""
    parts = [contact.narrative, contact.credible_evidence_to_contrary, *extra]
    return "\n".join(p for p in parts if p)


def screen_contact(
    contact: ContactCreate,
    *,
    rules: PhraseRules,
    model: LinearTextModel | None,
    extra: Iterable[str | None] = (),
) -> ScreeningResult:
    """Screens a contact that was not recorded at first contact: its narrative and free-text fields."""
    return screen_text(contact_text(contact, extra), rules=rules, model=model)
