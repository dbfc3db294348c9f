"""The trained classifier as plain data: TF-IDF weights and linear heads, scored with numpy arrays.

Training (crimerec screening train) fits scikit-learn's TfidfVectorizer and LogisticRegression on `features()` and
exports what they learnt into a JSON file; this module scores a narrative from that file alone. No pickle is ever
loaded (a pickle runs code on loading), scikit-learn is not imported at run time, and the scores are those
scikit-learn gives to within rounding (tests/recorder/rules/test_screening_model.py checks it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np

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
SPELLING_CACHE: Final = 20_000
"""Words whose known character n-grams a model keeps (then it starts again): some 10 MB at the most."""


def features(text: str) -> list[str]:
    """The features the classifier reads from a prepared text: words, word pairs within a clause, and character
    n-grams of the first words (each occurrence once in the list, so counts are term frequencies)."""
    result: list[str] = []
    for word, pair, spelled in _words(text):
        result.append(word)
        if pair is not None:
            result.append(pair)
        if spelled:
            result.extend(_char_ngrams(word))
    return result


def _words(text: str) -> Iterator[tuple[str, str | None, bool]]:
    """Each word the classifier reads: the word, its pair with the word before in the clause (if any), and whether
    its character n-grams count."""
    if len(text) > MODEL_CHARS:
        cut = text.rfind(" ", 0, MODEL_CHARS + 1)
        text = text[: cut if cut > 0 else MODEL_CHARS]
    previous = "|"
    words = 0
    for tok in model_tokens(text):
        if tok == "|":
            previous = "|"
            continue
        yield (
            tok,
            (previous + " " + tok if previous != "|" else None),
            (words < CHAR_NGRAM_WORDS and not tok.startswith("neg_")),
        )
        previous = tok
        words += 1


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
        self._spelling: dict[str, tuple[int, ...]] = {}  # the rows of a word's character n-grams the model knows
        # The same numbers as arrays: a term's row, its idf, and its weight for each head.
        self._terms = list(self.idf)
        self._index = {term: row for row, term in enumerate(self._terms)}
        self._shown = np.array([not term.startswith("#") for term in self._terms], dtype=bool)
        self._idf = np.array(list(self.idf.values()), dtype=np.float64)
        self._matrix = np.array([self.weights[term] for term in self.idf], dtype=np.float64).reshape(
            len(self.idf), len(self.heads)
        )
        self._intercepts = np.array(self.intercepts, dtype=np.float64)

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

    def _known_rows(self, text: str) -> list[int]:
        """`features(text)` as the rows of the terms the model knows (the others weigh nought): a word's known
        character n-grams are worked out once and kept, since words repeat from text to text."""
        index = self._index
        result: list[int] = []
        for word, pair, spelled in _words(text):
            row = index.get(word)
            if row is not None:
                result.append(row)
            if pair is not None and (row := index.get(pair)) is not None:
                result.append(row)
            if spelled:
                known = self._spelling.get(word)
                if known is None:
                    if len(self._spelling) >= SPELLING_CACHE:
                        self._spelling.clear()
                    grams = (index.get(g) for g in _char_ngrams(word))
                    known = self._spelling[word] = tuple(g for g in grams if g is not None)
                result.extend(known)
        return result

    def score(self, text: str) -> ModelScore:
        """How likely the text discloses a crime, and each family, with the terms that pushed it up most. The
        text's TF-IDF vector is scikit-learn's (sublinear term frequency, times idf, L2-normed), taken against the
        heads' weights as arrays."""
        counts = Counter(self._known_rows(text))
        sums = self._intercepts.copy()
        top: list[str] = []
        if counts:
            rows = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self._idf[rows]
            values /= math.sqrt(float(values @ values))
            weights = self._matrix[rows]
            sums += values @ weights
            push = values * weights[:, 0]
            # Words and word pairs only: a character n-gram means nothing to the person reviewing.
            shown = np.flatnonzero((push > 0) & self._shown[rows])
            pushed = sorted(((float(push[i]), self._terms[rows[i]]) for i in shown), reverse=True)
            top = [term for _, term in pushed[:5]]
        probabilities = [_sigmoid(float(x)) for x in sums]
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
