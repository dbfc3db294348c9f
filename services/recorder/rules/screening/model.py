"""The trained classifier as plain data: TF-IDF weights and linear heads, scored in pure Python.

Training (crimerec screening train) fits scikit-learn's TfidfVectorizer and LogisticRegression on `features()` and
exports what they learnt into a JSON file; this module scores a narrative from that file alone. No pickle is ever
loaded (a pickle runs code on loading), scikit-learn is not imported at run time, and the scores are those
scikit-learn gives to within rounding (tests/recorder/rules/test_screening_model.py checks it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from schemas.screening import OffenceFamily
from services.recorder.rules.screening.text import model_tokens

MODEL_FORMAT: Final = "crimerec-linear-tfidf/1"
MODEL_CHARS: Final = 1_000
"""The classifier reads the first 1,000 characters of the screened text (some 170 words; the corpus's longest
narrative is under 400 characters), so that a long text costs it no more than a short one; the phrase rules read
the whole screened text, and a weak sign past this horizon gets no lift from the classifier."""
CHAR_NGRAM_WORDS: Final = 200
"""Character n-grams (which catch misspellings: "assulted", "nieghbour") are taken from the first 200 words only."""
CHAR_NGRAMS: Final = (3, 5)


def features(text: str) -> list[str]:
    """The features the classifier reads from a prepared text: words, word pairs within a clause, and character
    n-grams of the first words (each occurrence once in the list, so counts are term frequencies)."""
    if len(text) > MODEL_CHARS:
        cut = text.rfind(" ", 0, MODEL_CHARS + 1)
        text = text[: cut if cut > 0 else MODEL_CHARS]
    toks = model_tokens(text)
    result: list[str] = []
    previous = "|"
    words = 0
    for tok in toks:
        if tok == "|":
            previous = "|"
            continue
        result.append(tok)
        if previous != "|":
            result.append(previous + " " + tok)
        previous = tok
        if words < CHAR_NGRAM_WORDS and not tok.startswith("neg_"):
            result.extend(_char_ngrams(tok))
        words += 1
    return result


@lru_cache(maxsize=8192)
def _char_ngrams(token: str) -> tuple[str, ...]:
    """A word's character n-grams, padded with a space each side and marked '#' (cached: words repeat)."""
    low, high = CHAR_NGRAMS
    padded = f" {token} "
    return tuple("#" + padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1))


@dataclass(frozen=True)
class ModelScore:
    """The classifier's view of one text: the probability it discloses a crime, per family, and its top terms."""

    probability: float
    families: dict[OffenceFamily, float]
    top_terms: list[str]


class LinearTextModel:
    """A TF-IDF + logistic regression classifier read from its exported data: one head for 'discloses a crime'
    and one per offence family."""

    def __init__(
        self,
        *,
        version: str,
        idf: Mapping[str, float],
        weights: Mapping[str, list[float]],
        intercepts: list[float],
        heads: list[str],
        threshold: float,
    ) -> None:
        self.version = version
        self.idf = dict(idf)
        self.weights = dict(weights)
        self.intercepts = list(intercepts)
        self.heads = list(heads)
        self.threshold = threshold
        self._families = [OffenceFamily(h) for h in self.heads[1:]]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> LinearTextModel:
        """A model from its exported JSON data; ValueError says what is wrong with data that is not one."""
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a screening model: format is {data.get('format')!r}, expected {MODEL_FORMAT!r}")
        try:
            heads = [str(h) for h in data["heads"]]
            if not heads or heads[0] != "crime":
                raise ValueError("the first head must be 'crime'")
            for head in heads[1:]:
                OffenceFamily(head)
            intercepts = [float(x) for x in data["intercepts"]]
            terms: dict[str, list[float]] = data["terms"]
            idf: dict[str, float] = {}
            weights: dict[str, list[float]] = {}
            for term, row in terms.items():
                if len(row) != len(heads) + 1:
                    raise ValueError(f"term {term!r} has {len(row)} numbers, expected {len(heads) + 1}")
                idf[term] = float(row[0])
                weights[term] = [float(x) for x in row[1:]]
            if len(intercepts) != len(heads):
                raise ValueError("one intercept per head is needed")
            return cls(
                version=str(data["version"]),
                idf=idf,
                weights=weights,
                intercepts=intercepts,
                heads=heads,
                threshold=float(data["threshold"]),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"screening model data is incomplete: {error!r}") from error

    def vector(self, text: str) -> dict[str, float]:
        """The text's TF-IDF vector as scikit-learn computes it: sublinear term frequency, times idf, L2-normed."""
        counts = Counter(f for f in features(text) if f in self.idf)
        values = {term: (1.0 + math.log(count)) * self.idf[term] for term, count in counts.items()}
        norm = math.sqrt(sum(v * v for v in values.values()))
        if norm == 0:
            return {}
        return {term: v / norm for term, v in values.items()}

    def score(self, text: str) -> ModelScore:
        """How likely the text discloses a crime, and each family, with the terms that pushed it up most."""
        vector = self.vector(text)
        sums = list(self.intercepts)
        contributions: list[tuple[float, str]] = []
        for term, value in vector.items():
            row = self.weights[term]
            for head in range(len(sums)):
                sums[head] += value * row[head]
            contributions.append((value * row[0], term))
        probabilities = [_sigmoid(s) for s in sums]
        contributions.sort(reverse=True)
        # Words and word pairs only: a character n-gram means nothing to the person reviewing.
        top = [term for weight, term in contributions if weight > 0 and not term.startswith("#")][:5]
        return ModelScore(
            probability=probabilities[0],
            families=dict(zip(self._families, probabilities[1:], strict=True)),
            top_terms=top,
        )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
