"""The offence catalogue: which Home Office classes a force may record under, and which is most serious."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from types import MappingProxyType

from schemas.catalogue.models import Offence, natural_code_key

_RankKey = tuple[int, float, tuple[tuple[int, int | str], ...]]


def _yes_no(value: str, *, column: str, code: str) -> bool:
    answer = value.strip().lower()
    if answer not in ("yes", "no"):
        raise ValueError(f"offences.csv, class {code}: {column} must be yes or no, not {value!r}")
    return answer == "yes"


def _read_offences_csv(text: str) -> list[Offence]:
    offences = []
    for row in csv.DictReader(io.StringIO(text)):
        code = row["code"].strip()
        sentence = row["max_sentence_years"].strip()
        offences.append(
            Offence.model_validate(
                {
                    "code": code,
                    "name": row["name"].strip(),
                    "group": row["group"].strip(),
                    "subgroup": row["subgroup"].strip() or None,
                    "audit_category": row["audit_category"].strip(),
                    "victim_based": _yes_no(row["victim_based"], column="victim_based", code=code),
                    "max_sentence_years": sentence or None,
                    "legacy_outcome_only": _yes_no(row["legacy_outcome_only"], column="legacy_outcome_only", code=code),
                }
            )
        )
    return offences


def _canonical_line(offence: Offence) -> str:
    sentence = offence.max_sentence_years
    if sentence is None:
        written = ""
    elif sentence == float("inf"):
        written = "life"
    else:
        written = format(sentence, "g")
    fields = (
        offence.code,
        offence.name,
        offence.group,
        offence.subgroup or "",
        offence.audit_category.value,
        "yes" if offence.victim_based else "no",
        written,
        "yes" if offence.legacy_outcome_only else "no",
    )
    return "\x1f".join(fields)


@functools.cache
def _default_catalogue() -> OffenceCatalogue:
    text = resources.files("schemas.catalogue.data").joinpath("offences.csv").read_text(encoding="utf-8")
    return OffenceCatalogue(_read_offences_csv(text))


class OffenceCatalogue:
    """The Home Office offence classes a force records under, with the default seriousness of each."""

    def __init__(self, offences: Iterable[Offence]) -> None:
        by_code: dict[str, Offence] = {}
        for offence in offences:
            if offence.code in by_code:
                raise ValueError(f"the catalogue lists class {offence.code} twice")
            by_code[offence.code] = offence
        ordered = sorted(by_code.values(), key=lambda offence: natural_code_key(offence.code))
        self._offences: Mapping[str, Offence] = MappingProxyType({o.code: o for o in ordered})
        digest = hashlib.sha256("\n".join(_canonical_line(o) for o in ordered).encode("utf-8"))
        self._version = digest.hexdigest()[:12]

    @classmethod
    def default(cls) -> OffenceCatalogue:
        """The catalogue shipped with crimerec (data/offences.csv), loaded once."""
        return _default_catalogue()

    @property
    def version(self) -> str:
        """A short hash of the catalogue's content, for rules versions: same classes, same hash."""
        return self._version

    @property
    def offences(self) -> Mapping[str, Offence]:
        """Every class in the catalogue, by code, in Home Office order; read-only."""
        return self._offences

    def __iter__(self) -> Iterator[Offence]:
        return iter(self._offences.values())

    def __len__(self) -> int:
        return len(self._offences)

    def __contains__(self, code: object) -> bool:
        return code in self._offences

    def __repr__(self) -> str:
        return f"OffenceCatalogue({len(self)} classes, version {self.version})"

    def get(self, code: str) -> Offence | None:
        """The class with this code, or None when the catalogue does not know it."""
        return self._offences.get(code)

    def recordable(self, code: str) -> str | None:
        """None when a force may record a new crime under this class; otherwise why it may not."""
        offence = self.get(code)
        if offence is None:
            return f"{code} is not a notifiable offence class in this catalogue"
        if offence.fraud:
            # domain.md, Classification: fraud is recorded nationally (Action Fraud), not by forces.
            return f"{code} ({offence.name}) is fraud, which Action Fraud records nationally, not the forces"
        if offence.legacy_outcome_only:
            return (
                f"{code} ({offence.name}) is kept only for outcomes of old records: "
                "a new crime must not be recorded under it"
            )
        return None

    def rank_key(self, code: str) -> _RankKey:
        """Sort key: the most serious class first, ties to the lower class number, unknown classes last."""
        # HOCR section F (principal crime rule): the most serious offence, ranked by maximum sentence.
        offence = self.get(code)
        if offence is None:
            return (1, 0.0, natural_code_key(code))
        seriousness, code_key = offence.rank_key
        return (0, seriousness, code_key)

    def rank(self, codes: Iterable[str]) -> list[str]:
        """Classes from the most serious to the least (HOCR section F); unknown classes go last."""
        return sorted(codes, key=self.rank_key)

    def more_serious(self, a: str, b: str) -> str:
        """The more serious of two classes by the principal crime rule (HOCR section F)."""
        return a if self.rank_key(a) <= self.rank_key(b) else b

    def principal(self, codes: Iterable[str]) -> str | None:
        """The principal crime among several classes (HOCR section F), or None when there are none."""
        ranked = self.rank(codes)
        return ranked[0] if ranked else None

    def with_offences(self, extra: Iterable[Offence]) -> OffenceCatalogue:
        """A copy with a force's own classes added (e.g. 8U); a class with a known code replaces it."""
        merged = dict(self._offences)
        for offence in extra:
            merged[offence.code] = offence
        return OffenceCatalogue(merged.values())
