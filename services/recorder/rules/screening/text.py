"""How the screener reads a narrative: cleaned, capped, split into clauses and tokens, with negation marked.

Pure: the same text always gives the same reading, so training and screening see a narrative alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

SCREEN_CHARS: Final = 10_000
"""The screener reads at most this many characters of a contact's text (after cleaning); the rest is not read and
the result says `truncated` and its evidence "text cut at 10000 characters". Intake caps a narrative at 10,000
characters (schemas.contacts.MAX_NARRATIVE), so a narrative alone is read whole; only a contact whose joined
free-text fields pass it, or a text from elsewhere, is cut. With the rules' keyword prefilter (prefilter.py) and
the classifier's own 3,000-character horizon (model.MODEL_CHARS) this keeps a screening under 5 ms."""

_QUOTES = re.compile(r"(?<![^\W_])'|'(?![^\W_])|[\"\u201c\u201d\u00ab\u00bb]")
_BREAK_CONTEXT = 16  # the longest text a clause break looks at past its end: ", and then" and a word boundary
_SPACES = re.compile(r"[^\S\n]+")
_LINE_BREAKS = re.compile(r" ?\n\s*")
_CLAUSE_BREAK = re.compile(r"[.;!?\n]+|,\s*(?=(?:but|however|although|though|then|and then)\b)|\b(?:but|however)\b")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# NegEx-style cues: a cue before a phrase in the same clause negates it ("did not hit", "no one was hurt").
_NEGATION_CUES: Final = frozenset(
    {
        "not", "no", "never", "nobody", "nothing", "without", "deny", "denies", "denied", "didn't", "didnt",
        "doesn't", "doesnt", "don't", "dont", "wasn't", "wasnt", "isn't", "isnt", "hasn't", "hasnt", "haven't",
        "havent", "won't", "wont", "neither", "nor", "none", "cannot", "can't", "cant", "couldn't", "wouldn't",
        "weren't", "aren't", "nfa",
    }
)  # fmt: skip
# Words after a cue that make it no negation at all: "not sure he hit her" still tells of a blow.
_PSEUDO_AFTER: Final = frozenset({"sure", "certain", "only", "just", "doubt", "longer", "know", "remember", "want"})
NEGATION_WINDOW: Final = 5
"""How many tokens before a phrase a negation cue reaches (NegEx uses five)."""


@dataclass(frozen=True)
class PreparedText:
    """A contact's text as the screener reads it: cleaned, lower-cased, capped, and whether it was cut."""

    text: str
    truncated: bool


def prepare_text(raw: str | None, *, limit: int = SCREEN_CHARS) -> PreparedText:
    """Cleans a narrative for screening: Unicode normalised, control characters dropped, whitespace folded,
    lower-cased and capped at `limit` characters (`truncated` says when it was cut)."""
    if not raw:
        return PreparedText("", False)
    # Read a little beyond the cap before cleaning (folded whitespace and dropped control characters shorten it),
    # yet a 100 kB text is never cleaned in full.
    head = raw[: limit + limit // 8 + 64]
    text = unicodedata.normalize("NFKC", head)
    text = "\n".join(_printable(line) for line in text.split("\n"))
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    # A quotation mark is no part of a phrase: "he'll 'sort her out'" reads as "he'll sort her out" (an apostrophe
    # inside a word stays: "won't", "he'd").
    text = _QUOTES.sub(" ", text)
    text = _LINE_BREAKS.sub("\n", _SPACES.sub(" ", text)).strip().lower()
    truncated = len(raw) > len(head) or len(text) > limit
    if len(text) > limit:
        text = text[:limit]
    return PreparedText(text, truncated)


def _printable(line: str) -> str:
    """A line with its control, format and unassigned characters as spaces (a tab too); checked a character at a
    time only when the line has any such character at all."""
    if line.isprintable():
        return line
    return "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in line)


def clauses(text: str) -> list[tuple[int, str]]:
    """The clauses of a prepared text with their offsets: negation never reaches across a full stop or a 'but'."""
    result: list[tuple[int, str]] = []
    start = 0
    for match in _CLAUSE_BREAK.finditer(text):
        if match.start() > start:
            result.append((start, text[start : match.start()]))
        start = match.end()
    if start < len(text):
        result.append((start, text[start:]))
    return result


def clause_start(text: str, position: int, lookback: int) -> int:
    """Where the clause holding `position` starts, looking back at most `lookback` characters: the end of the
    last clause break before it, as `clauses` splits (a break is looked for in that stretch alone, so a long text
    is never split whole)."""
    low = max(0, position - lookback)
    start = low
    # A break is judged with some text after it (its lookahead, a word boundary), as in the whole text.
    for match in _CLAUSE_BREAK.finditer(text, low, position + _BREAK_CONTEXT):
        if match.end() > position:
            break
        start = match.end()
    return start


def tokens(text: str) -> list[str]:
    """The word tokens of a prepared text (letters and digits in any script, apostrophes kept inside words)."""
    return _TOKEN.findall(text)


def negated(clause_before: str, window: int = NEGATION_WINDOW) -> str | None:
    """The negation cue within `window` tokens before a phrase, in the text of its clause that precedes it; None
    when nothing negates it."""
    words = tokens(clause_before)[-window:]
    for index in range(len(words) - 1, -1, -1):
        word = words[index]
        if word in _NEGATION_CUES or (word == "one" and index > 0 and words[index - 1] == "no"):
            following = words[index + 1] if index + 1 < len(words) else ""
            if following in _PSEUDO_AFTER or (word == "no" and following[:1].isdigit()):
                continue  # "not sure he hit her"; "the man at no 14 punched him" (a house number)
            return word
    return None


def model_tokens(text: str) -> list[str]:
    """Tokens for the classifier: each token after a negation cue in the same clause is marked `neg_`, so the
    model can tell "hit me" from "did not hit me" (Das and Chen's negation marking)."""
    result: list[str] = []
    for _, clause in clauses(text):
        scope = 0
        words = tokens(clause)
        for index, word in enumerate(words):
            if word in _NEGATION_CUES:
                following = words[index + 1] if index + 1 < len(words) else ""
                pseudo = following in _PSEUDO_AFTER or (word == "no" and following[:1].isdigit())
                scope = 0 if pseudo else NEGATION_WINDOW
                result.append(word)
                continue
            if scope:
                result.append("neg_" + word)
                scope -= 1
            else:
                result.append(word)
        result.append("|")  # a clause boundary: no bigram spans two clauses
    return result
