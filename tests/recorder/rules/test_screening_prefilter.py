"""The phrase rules' keyword prefilter: the anchors it reads out of a pattern, and findings identical to trying every
rule on the whole text (on the whole corpus, the simulator's narratives and long texts)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crimerec.screening import load_corpus, simulated_items
from services.recorder.rules.screening import prefilter, prepare_text
from services.recorder.rules.screening.phrases import RuleFindings
from services.recorder.rules.screening.prefilter import Prefilter, anchors, trie_pattern
from services.recorder.rules.screening.text import clause_start, clauses
from services.recorder.screening_model import load_rules

RULES = load_rules()


def _key(findings: RuleFindings) -> tuple[object, ...]:
    def hits(items: list) -> list[tuple[str, str, str | None]]:  # type: ignore[type-arg]
        return [(h.rule.id, h.phrase, h.negated_by) for h in items]

    return hits(findings.fired), hits(findings.negated), [d.id for d in findings.dampened], findings.families


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bpunch(?:ed|es|ing)?\b", {"punch"}),
        (r"\bkick(?:ed|ing)\b", {"kicked", "kicking"}),
        (r"(?:took|taken) (?:\w+ ){0,3}(?:phone|bag)\b", {"took ", "taken "}),
        (r"\b(?:assa?u?lt(?:ed)?|assulted|attack(?:ed|s)?)\b", {"ass", "attack"}),
        (r"\bst(?:o|ea)l(?:e|en)?\b", {"stol", "steal"}),
        (r"\w+ing", {"ing"}),
        (r"\b\w+\d", None),
    ],
)
def test_anchors_are_the_literals_every_match_contains(pattern: str, expected: set[str] | None) -> None:
    assert anchors(re.compile(pattern))[0] == expected


@given(st.lists(st.text(alphabet="abc £'", min_size=1, max_size=6), min_size=1, max_size=8), st.text("abc £'x"))
def test_the_trie_finds_exactly_the_strings(strings: list[str], text: str) -> None:
    trie = re.compile(f"(?=({trie_pattern(strings)}))")
    found = {(m.start(), m.group(1)) for m in trie.finditer(text)}
    for start, string in found:
        assert string in strings and text.startswith(string, start)
        assert not any(text.startswith(s, start) and len(s) > len(string) for s in strings)
    longest = {i for i in range(len(text)) if any(text.startswith(s, i) for s in strings)}
    assert {start for start, _ in found} == longest


def test_every_shipped_rule_and_dampener_has_anchors() -> None:
    prefilter = RULES.prefilter
    missing = [p.pattern for p, a in zip(prefilter.patterns, prefilter.anchors, strict=True) if a is None]
    assert missing == []


def _texts() -> list[str]:
    corpus = [item["text"] for item in load_corpus()]
    simulated = [text for text, _, _ in simulated_items(2)["all"]]
    long = [(t + " ") * (20_000 // (len(t) + 1) + 1) for t in corpus[::25]]
    joined = [" ".join(corpus[i : i + 60]) for i in range(0, len(corpus), 60)]
    return corpus + simulated + long + joined


@pytest.mark.parametrize("dense", [prefilter.DENSE, 10**9], ids=["as shipped", "windows only"])
def test_prefiltered_findings_equal_the_whole_text_scan(dense: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # With DENSE as shipped a long text's many-anchored rules are searched whole; at 10**9 every anchored rule is
    # tried in its windows, long texts too.
    monkeypatch.setattr(prefilter, "DENSE", dense)
    texts = _texts()
    assert len(texts) > 600
    different = []
    for text in texts:
        prepared = prepare_text(text).text
        if _key(RULES.match(prepared)) != _key(RULES.match(prepared, prefilter=False)):
            different.append(text[:100])
    assert different == []


@settings(max_examples=300)
@given(st.lists(st.sampled_from([item["text"] for item in load_corpus()]), max_size=5), st.text(max_size=60))
def test_prefiltered_findings_equal_on_mixed_text(pieces: list[str], noise: str) -> None:
    prepared = prepare_text(noise.join(pieces) + noise).text
    assert _key(RULES.match(prepared)) == _key(RULES.match(prepared, prefilter=False))


def test_a_pattern_without_anchors_is_tried_on_the_whole_text() -> None:
    prefilter = Prefilter([re.compile(r"\b\w+[0-9]"), re.compile(r"\bhit\b")])
    scan = prefilter.scan("room 101 or b2, nothing else")
    assert prefilter.anchors[0] is None
    assert [m.group() for m in scan.matches(0)] == ["101", "b2"]
    assert list(scan.matches(1)) == []


@given(st.text(alphabet="ab .;,uthen\n", max_size=80))
def test_clause_start_agrees_with_the_clause_split(text: str) -> None:
    for offset, clause in clauses(text):
        for position in range(offset + 1, offset + len(clause) + 1):
            assert clause_start(text, position, 1_000) == offset, (offset, position)
            assert clause_start(text, position, 3) == max(offset, position - 3)
