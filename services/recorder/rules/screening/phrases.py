"""The phrase rules: per offence family, patterns kept in a data file, with negation and reported speech handled.

Pure: `PhraseRules.from_data` takes the parsed data file; `match` reads one prepared text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.screening import OffenceFamily
from services.recorder.rules.screening.prefilter import Prefilter
from services.recorder.rules.screening.text import clause_start, negated

CONTEXT_FLOOR: float = 0.5
"""A context rule fires only beside a family scoring at least this on its own rules."""
MAX_PHRASE: int = 60
"""A matched phrase quoted in the evidence is cut to this many characters: never the narrative itself."""
NEGATION_LOOKBACK: int = 160
"""How far back from a phrase a negation cue is looked for (its five words, however long the clause)."""


@dataclass(frozen=True)
class PhraseRule:
    """One pattern of an offence family, with how much a match on its own says."""

    family: OffenceFamily
    id: str
    pattern: re.Pattern[str]
    weight: float
    requires: frozenset[OffenceFamily] = frozenset()


@dataclass(frozen=True)
class Dampener:
    """A phrase that lowers the score of some families (all when `families` is empty): a crime already recorded,
    a scam that cost nothing, a victim's own account that nothing happened."""

    id: str
    pattern: re.Pattern[str]
    factor: float
    families: frozenset[OffenceFamily]


@dataclass(frozen=True)
class PhraseHit:
    """A rule that matched: the phrase it matched, and the negation cue that suppressed it, if any."""

    rule: PhraseRule
    phrase: str
    negated_by: str | None = None


@dataclass
class RuleFindings:
    """What the phrase rules found in one text: hits that fired, hits negated, dampeners, and the scores."""

    fired: list[PhraseHit] = field(default_factory=list)
    negated: list[PhraseHit] = field(default_factory=list)
    dampened: list[Dampener] = field(default_factory=list)
    families: dict[OffenceFamily, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The rules' score: the strongest family's."""
        return max(self.families.values(), default=0.0)


class PhraseRules:
    """The screener's phrase rules, compiled from their data file."""

    def __init__(
        self,
        *,
        version: str,
        rules: Sequence[PhraseRule],
        neutralisers: Sequence[re.Pattern[str]],
        dampeners: Sequence[Dampener],
    ) -> None:
        self.version = version
        self.rules = list(rules)
        self.neutralisers = list(neutralisers)
        self.dampeners = list(dampeners)
        # Rules that need another family to have fired are matched last.
        self._plain = [i for i, r in enumerate(self.rules) if not r.requires]
        self._context = [i for i, r in enumerate(self.rules) if r.requires]
        # One prefilter for the rules and dampeners (read on the text with benign idioms blanked), one for the
        # neutralisers (read on the text as it came).
        self.prefilter = Prefilter([r.pattern for r in self.rules] + [d.pattern for d in self.dampeners])
        self.neutraliser_filter = Prefilter(self.neutralisers)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PhraseRules:
        """Rules from the parsed data file; ValueError names the rule that is wrong."""
        declared = str(data.get("version") or "")
        if not declared:
            raise ValueError("the phrase rules need a version")
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:8]
        rules: list[PhraseRule] = []
        families = data.get("families")
        if not isinstance(families, Mapping) or not families:
            raise ValueError("the phrase rules need a families mapping")
        for family_name, entries in families.items():
            family = OffenceFamily(family_name)
            for entry in entries:
                rule_id = f"{family.value}/{entry.get('id')}"
                try:
                    weight = float(entry["weight"])
                    if not 0 < weight <= 1:
                        raise ValueError("weight must be in (0, 1]")
                    rules.append(
                        PhraseRule(
                            family=family,
                            id=str(entry["id"]),
                            pattern=re.compile(str(entry["pattern"])),
                            weight=weight,
                            requires=frozenset(OffenceFamily(f) for f in entry.get("requires", [])),
                        )
                    )
                except (KeyError, ValueError, re.error) as error:
                    raise ValueError(f"phrase rule {rule_id}: {error}") from error
        neutralisers = [re.compile(str(p)) for p in data.get("neutralisers", [])]
        dampeners = [
            Dampener(
                id=str(d["id"]),
                pattern=re.compile(str(d["pattern"])),
                factor=float(d["factor"]),
                families=frozenset(OffenceFamily(f) for f in d.get("families", [])),
            )
            for d in data.get("dampeners", [])
        ]
        return cls(version=f"{declared}.{digest}", rules=rules, neutralisers=neutralisers, dampeners=dampeners)

    def match(self, text: str, *, prefilter: bool = True) -> RuleFindings:
        """What the rules find in a prepared text (see text.prepare_text). `prefilter=False` tries every pattern on
        the whole text: the same findings, slower (tests compare the two)."""
        findings = RuleFindings()
        if not text:
            return findings
        text = self._blank_idioms(text, prefilter)
        scan = self.prefilter.scan(text, enabled=prefilter)
        for index in scan.candidates(self._plain):
            _record(self.rules[index], scan.matches(index), text, findings)
        findings.families = _family_scores(findings.fired)
        # A context rule (a partner named beside a blow) fires only beside a family that is itself a sign.
        strong = {f for f, score in findings.families.items() if score >= CONTEXT_FLOOR}
        for index in scan.candidates(self._context):
            if self.rules[index].requires & strong:
                _record(self.rules[index], scan.matches(index), text, findings)
        findings.families = _family_scores(findings.fired)
        dampeners = range(len(self.rules), len(self.rules) + len(self.dampeners))
        for offset in scan.candidates(dampeners) if findings.families else ():
            dampener = self.dampeners[offset - len(self.rules)]
            if next(scan.matches(offset), None) is not None:
                findings.dampened.append(dampener)
                for family in findings.families:
                    if not dampener.families or family in dampener.families:
                        findings.families[family] *= dampener.factor
        return findings

    def _blank_idioms(self, text: str, prefilter: bool) -> str:
        """The text with every neutraliser's matches blanked out by spaces of the same length, so that offsets and
        clauses stay as they were."""
        scan = self.neutraliser_filter.scan(text, enabled=prefilter)
        spans = sorted(
            m.span() for index in scan.candidates(range(len(self.neutralisers))) for m in scan.matches(index)
        )
        if not spans:
            return text
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            if end <= done:
                continue
            start = max(start, done)
            pieces.append(text[done:start])
            pieces.append(" " * (end - start))
            done = end
        pieces.append(text[done:])
        return "".join(pieces)


def _record(rule: PhraseRule, matches: Iterable[re.Match[str]], text: str, findings: RuleFindings) -> None:
    """Files the rule's first hit (see _first_hit) as fired or negated."""
    hit = _first_hit(rule, matches, text)
    if hit is not None:
        (findings.fired if hit.negated_by is None else findings.negated).append(hit)


def _family_scores(fired: list[PhraseHit]) -> dict[OffenceFamily, float]:
    """Each family's score: the noisy-or of the weights of its rules that fired."""
    misses: dict[OffenceFamily, float] = {}
    for hit in fired:
        misses[hit.rule.family] = misses.get(hit.rule.family, 1.0) * (1 - hit.rule.weight)
    return {family: 1 - miss for family, miss in misses.items()}


def _first_hit(rule: PhraseRule, matches: Iterable[re.Match[str]], text: str) -> PhraseHit | None:
    """The rule's first match that no negation reaches; else its first negated match; else None."""
    first_negated: PhraseHit | None = None
    for match in matches:
        start = match.start()
        cue = negated(text[clause_start(text, start, NEGATION_LOOKBACK) : start])
        phrase = match.group().strip()[:MAX_PHRASE]
        if not phrase:
            continue
        if cue is None:
            return PhraseHit(rule, phrase)
        if first_negated is None:
            first_negated = PhraseHit(rule, phrase, cue)
    return first_negated
