"""A keyword prefilter for the phrase rules, so that a long text costs little more than a short one.

Each rule's pattern is read with Python's own regex parser for a set of literal strings ("anchors") one of which
every match must contain: `\\bpunch(?:ed|es)?\\b` needs "punch", `(?:took|taken) (?:\\w+ ){0,3}(?:phone|bag)` needs
"took" or "taken". One combined search (a trie of every rule's anchors) finds all anchors in a text in one pass;
a rule is then tried only in windows around its own anchors, no wider than the longest text its pattern can match,
and not at all when none of its anchors is there. A rule whose pattern has no usable anchor is tried on the whole
text. The findings are those of trying every rule on the whole text (tests check it on the corpus and on the
simulator's narratives) for every phrase up to MAX_WINDOW characters long; what changes is the cost: the regex
engine reads a few hundred characters per anchor instead of the whole text once per rule.

Pure: built once from the compiled patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final

MAX_EXACT: Final = 48
"""At most this many strings in a set of exact alternatives (`(?:a|b)(?:c|d)` gives four) before it is cut."""
MAX_WINDOW: Final = 160
"""A window reaches at most this far either side of an anchor, whatever the pattern's width: a pattern with `\\w+`
could match a text of any length, but no phrase a rule looks for is longer than 160 characters (the longest,
eight words of `(?:\\w+ ){0,7}`, is under 100 in any narrative of the corpus or the simulator)."""
DENSE: Final = 24
"""A pattern whose anchors stand more than this many times in a text is searched in the whole text at once: one
search in C costs less than this many windows, each started from Python (a long text that repeats itself)."""
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT))

Node = list[tuple[Any, Any]]


def _exact(items: Node) -> set[str] | None:
    """The finite set of strings a node matches, when it is made of literals, small character sets and branches of
    those only (no empty alternative); else None."""
    result = {""}
    for op, av in items:
        if op is sre.LITERAL:
            options = {chr(av)}
        elif op is sre.IN and all(o is sre.LITERAL for o, _ in av):
            options = {chr(v) for _, v in av}
        elif op is sre.SUBPATTERN:
            sub = _exact(list(av[-1]))
            if sub is None:
                return None
            options = sub
        elif op is sre.BRANCH:
            alternatives = [_exact(list(a)) for a in av[1]]
            if any(a is None or "" in a for a in alternatives):
                return None
            options = set().union(*(a for a in alternatives if a is not None))
        else:
            return None
        result = {r + o for r in result for o in options}
        if len(result) > MAX_EXACT:
            return None
    return result


def _best(candidates: list[set[str]]) -> set[str] | None:
    """Of several sets each of which is required, the most selective: longest shortest string, then fewest."""
    usable = [c for c in candidates if c and "" not in c]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(s.strip()) for s in c), -len(c)))


def _leading(items: Node) -> set[str]:
    """The strings the start of a node must match: its longest prefix of exact elements (`{""}` for none)."""
    result = {""}
    for op, av in items:
        options = _exact([(op, av)])
        if options is None:
            break
        grown = {r + o for r in result for o in options}
        if len(grown) > MAX_EXACT:
            break
        result = grown
    return result


def required(items: Node) -> set[str] | None:
    """A set of literal strings one of which every match of the parsed pattern contains, or None."""
    candidates: list[set[str]] = []
    run: Node = []

    previous: set[str] = set()

    def close_run() -> set[str]:
        # A run of exact elements, cut into pieces whose sets stay small: each piece is required.
        piece = {""}
        for element in run:
            options = _exact([element]) or {""}
            grown = {p + o for p in piece for o in options}
            if len(grown) > MAX_EXACT:
                candidates.append(piece)
                grown = options
            piece = grown
        run.clear()
        if piece != {""}:
            candidates.append(piece)
        return piece if piece != {""} else set()

    for op, av in items:
        if _exact([(op, av)]) is not None:
            run.append((op, av))
            continue
        previous = close_run()
        found: set[str] | None = None
        if op is sre.SUBPATTERN:
            found = required(list(av[-1]))
        elif op is sre.BRANCH:
            alternatives = [required(list(a)) for a in av[1]]
            if all(a is not None for a in alternatives):
                found = set().union(*(a for a in alternatives if a is not None))
            # The exact text before a branch joined to each alternative's exact start is required too:
            # `a(?:ss\w*|ttack)` (the parser's factoring of "ass...|attack") needs "ass" or "attack".
            if previous:
                starts = set().union(*(_leading(list(a)) for a in av[1]))
                joined = {p + s for p in previous for s in starts}
                if len(joined) <= MAX_EXACT:
                    candidates.append(joined)
        elif op in _REPEATS and av[0] >= 1:
            found = required(list(av[2]))
        elif op is getattr(sre, "ATOMIC_GROUP", None):
            found = required(list(av))
        if found:
            candidates.append(found)
    close_run()
    return _minimal(_best(candidates))


def _minimal(strings: set[str] | None) -> set[str] | None:
    """Drops a string that contains another of the set (its anchor is found anyway)."""
    if strings is None:
        return None
    return {s for s in strings if not any(o != s and o in s for o in strings)}


def anchors(pattern: re.Pattern[str]) -> tuple[set[str] | None, int]:
    """The anchors of a compiled pattern (None: none usable) and the widest text it matches, capped."""
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    width = min(int(parsed.getwidth()[1]), MAX_WINDOW)
    return required(list(parsed)), width


def trie_pattern(strings: Sequence[str]) -> str:
    """One regular expression matching any of the strings, shaped as a trie so each position costs little."""
    trie: dict[str, Any] = {}
    for string in strings:
        node = trie
        for char in string:
            node = node.setdefault(char, {})
        node[""] = True

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class Prefilter:
    """The anchors of a list of patterns, found in a text in one pass."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = list(patterns)
        self.anchors: list[set[str] | None] = []
        self.widths: list[int] = []
        for pattern in self.patterns:
            found, width = anchors(pattern)
            self.anchors.append(found)
            self.widths.append(width)
        owners: dict[str, list[int]] = {}
        for index, found in enumerate(self.anchors):
            for string in found or ():
                owners.setdefault(string, []).append(index)
        strings = sorted(owners)
        # The longest anchor at a position stands for every anchor that is its prefix. The trie inside a lookahead
        # matches nothing, so the search (in C) tries every position in turn and finds every anchor's start, one
        # inside or overlapping another too, as the whole-text scan would see it.
        self._trie = re.compile(f"(?=({trie_pattern(strings)}))") if strings else None
        self._targets = {
            s: [(index, len(p)) for p in strings if s.startswith(p) for index in owners[p]] for s in strings
        }

    def scan(self, text: str, *, enabled: bool = True) -> Scan:
        """Where each pattern's anchors are in the text; `enabled=False` gives a scan that tries every pattern on
        the whole text (the reference the prefiltered scan is tested against)."""
        if not enabled:
            return Scan(self, text, None)
        found: dict[int, list[tuple[int, int]]] = {}
        if self._trie is not None:
            for start, string in self._anchor_starts(text):
                for index, length in self._targets[string]:
                    found.setdefault(index, []).append((start, start + length))
        return Scan(self, text, found)

    def _anchor_starts(self, text: str) -> Iterator[tuple[int, str]]:
        """Every position where an anchor starts, with the longest anchor there, in text order."""
        assert self._trie is not None
        for match in self._trie.finditer(text):
            yield match.start(), match.group(1)


class Scan:
    """One text's anchors: the matches of each pattern, tried only where they can be."""

    def __init__(self, prefilter: Prefilter, text: str, spots: dict[int, list[tuple[int, int]]] | None) -> None:
        self.prefilter = prefilter
        self.text = text
        self.spots = spots

    def candidates(self, indices: Iterable[int]) -> list[int]:
        """The patterns among `indices` (in their order) that can match here: every one when the prefilter is off;
        else those with an anchor in the text and those with no anchors. The others' matches are none."""
        if self.spots is None:
            return list(indices)
        spots, anchors = self.spots, self.prefilter.anchors
        return [i for i in indices if i in spots or anchors[i] is None]

    def matches(self, index: int) -> Iterator[re.Match[str]]:
        """Pattern `index`'s matches in text order, none overlapping: in the windows round its anchors, on the
        whole text when it has no anchors, its anchors are so many that one search costs less than their windows
        (DENSE), or the prefilter is off; and none when no anchor of it is there."""
        pattern, text = self.prefilter.patterns[index], self.text
        spots = None if self.spots is None or self.prefilter.anchors[index] is None else self.spots.get(index, [])
        if spots is None or len(spots) > DENSE:
            yield from pattern.finditer(text)
            return
        reached = 0
        for low, high in self._windows(index, spots):
            for match in pattern.finditer(text, max(low, reached), high):
                reached = match.end()
                yield match

    def _windows(self, index: int, spots: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        """Round each anchor as wide as a match can be, ends moved out to whitespace (so a word boundary means the
        same as in the whole text), overlaps merged."""
        width, text = self.prefilter.widths[index], self.text
        current: tuple[int, int] | None = None
        for start, end in spots:
            low = max(0, end - width)
            high = min(len(text), start + width)
            while high < len(text) and not text[high].isspace():
                high += 1
            if current is not None and low <= current[1]:
                current = (current[0], max(current[1], high))
                continue
            if current is not None:
                yield current
            current = (low, high)
        if current is not None:
            yield current
