"""Pure helpers that shape the services' answers for the pages: no I/O, no decisions of the recording standard."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas.catalogue import OffenceCatalogue

# The inspectorate's audit categories as offence groups, for flags whose evidence names no class.
_CATEGORY_GROUP = {
    "rape": "Sexual offences",
    "other_sexual": "Sexual offences",
    "violence": "Violence against the person",
    "robbery": "Robbery",
}
_CLASS_KEYS = ("ho_class", "previous_class", "new_class")
_CLASS_LIST_KEYS = ("reported_classes", "offences")
_PEOPLE_KEYS = ("requested_by", "authorised_by", "decided_by", "recorded_by")

FLAG_CSV_COLUMNS = (
    "flag_id",
    "rule",
    "severity",
    "status",
    "resolution",
    "force",
    "contact_id",
    "crime_reference",
    "audit_category",
    "offence_groups",
    "raised_at",
    "explanation",
)


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time from a service's JSON."""
    return datetime.fromisoformat(value) if value else None


def hours_left(deadline: datetime, now: datetime) -> float:
    """Hours from now to a recording deadline; negative once it has passed."""
    return (deadline - now).total_seconds() / 3600


def pending_queue(items: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Pending decisions with their hours left, the nearest deadline (or most overdue) first."""
    rows = []
    for item in items:
        deadline = parse_time(item["recording_deadline"])
        assert deadline is not None
        left = hours_left(deadline, now)
        rows.append(dict(item) | {"hours_left": left, "overdue": left < 0, "deadline": deadline})
    return sorted(rows, key=lambda r: r["hours_left"])


def classes_named(evidence: Mapping[str, Any]) -> list[str]:
    """The Home Office classes a flag's evidence names."""
    found: list[str] = []
    for key in _CLASS_KEYS:
        if isinstance(evidence.get(key), str):
            found.append(evidence[key])
    for key in _CLASS_LIST_KEYS:
        value = evidence.get(key)
        if isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return list(dict.fromkeys(found))


def offence_groups(flag: Mapping[str, Any], catalogue: OffenceCatalogue) -> list[str]:
    """The offence groups a flag is about: from the classes its evidence names, else from its audit category."""
    groups = []
    for code in classes_named(flag.get("evidence") or {}):
        offence = catalogue.get(code)
        if offence is not None:
            groups.append(offence.group)
    if not groups and flag.get("audit_category") in _CATEGORY_GROUP:
        groups.append(_CATEGORY_GROUP[flag["audit_category"]])
    return list(dict.fromkeys(groups))


def people_named(flag: Mapping[str, Any]) -> list[str]:
    """The principals (officers, authorisers) a flag's evidence names."""
    evidence = flag.get("evidence") or {}
    found = []
    for key in _PEOPLE_KEYS:
        value = evidence.get(key)
        if isinstance(value, dict) and isinstance(value.get("principal"), str):
            found.append(value["principal"])
        elif isinstance(value, str):
            found.append(value)
    return list(dict.fromkeys(found))


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def flag_csv_row(flag: Mapping[str, Any], catalogue: OffenceCatalogue) -> list[Any]:
    """One flag as a CSV row, in FLAG_CSV_COLUMNS order."""
    groups = "; ".join(offence_groups(flag, catalogue))
    return [groups if c == "offence_groups" else flag.get(c) for c in FLAG_CSV_COLUMNS]


def grade(rate: float | None, bands: Mapping[str, float]) -> str | None:
    """The inspectorate grade whose line a recording rate reaches (lines as configured)."""
    if rate is None:
        return None
    for name in ("outstanding", "good", "requires improvement"):
        if rate >= bands[name]:
            return name
    return "inadequate"


def percent(value: float | None, digits: int = 1) -> str:
    """A proportion as a percentage, or an em dash when there is nothing to measure."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def hours_text(hours: float) -> str:
    """Hours left as a person reads them: '5 h 20 min left' or '3 h 05 min overdue'."""
    minutes = round(abs(hours) * 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{text} overdue" if hours < 0 else f"{text} left"


Z95 = 1.959963984540054


def wilson_rate(numerator: int, denominator: int) -> dict[str, Any]:
    """A proportion with its 95% Wilson score interval, shaped as the auditor answers a rate (its same formula)."""
    if denominator <= 0:
        return {"numerator": numerator, "denominator": denominator, "rate": None, "ci_low": None, "ci_high": None,
                "margin": None}  # fmt: skip
    p, z = numerator / denominator, Z95
    scale = 1 + z * z / denominator
    centre = (p + z * z / (2 * denominator)) / scale
    half = z * math.sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator)) / scale
    low, high = max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))
    return {"numerator": numerator, "denominator": denominator, "rate": p, "ci_low": low, "ci_high": high,
            "margin": (high - low) / 2}  # fmt: skip


def _summed(rates: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    rates = list(rates)
    return wilson_rate(sum(r["numerator"] for r in rates), sum(r["denominator"] for r in rates))


def _summed_recording(rates: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The weeks' recording rates added up, the interval widened as the auditor widens it for positive narrative
    screens still undecided: from the lower bound if every one is an unrecorded crime to the decided upper bound."""
    rates = list(rates)
    decided = _summed(rates)
    undecided = sum(r.get("undecided_screened_positive", 0) for r in rates)
    out = decided | {"undecided_screened_positive": undecided, "decided_ci_low": decided["ci_low"]}
    if undecided <= 0 or decided["rate"] is None:
        return out | {"rate_if_undecided_are_crimes": decided["rate"]}
    worst = wilson_rate(decided["numerator"], decided["denominator"] + undecided)
    return out | {
        "rate_if_undecided_are_crimes": worst["rate"], "ci_low": worst["ci_low"],
        "margin": (decided["ci_high"] - worst["ci_low"]) / 2,
    }  # fmt: skip


def whole_period(weekly: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The period's recording figures from its weeks' (each contact counts in the one week it was received, so
    numerators and denominators add up); R and the annual estimate are the last week's, both being counted to the
    period's end. One pass over the contacts instead of two."""
    last = weekly[-1]
    rates = {group: _summed_recording(w["recording_rate"][group] for w in weekly) for group in last["recording_rate"]}
    overall = rates["overall"]["rate"]
    annual = last["recorded_crime_12_months"]
    return {
        "recording_rate": rates,
        "recorded_within_limit": _summed(w["recorded_within_limit"] for w in weekly),
        "recorded_crime_12_months": annual,
        "unrecorded_crimes_per_year": annual * (1 - overall) / overall if overall else None,
    }
