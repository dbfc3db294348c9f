"""Compares what the auditor says with the ground truth of a simulation: per rule true and false positives, misses,
precision and recall; the recording rate against the true one; the cancellation table against the injected one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from crimerec.simulation.driver import wait_for_auditor
from crimerec.simulation.truth import LIMIT, RECORDED_AT_FIRST_CONTACT
from services.auditor.rules.flags import Rule
from services.auditor.rules.statistics import REPORTED_GROUPS, unrecorded_per_year, wilson

# Rules whose breach the events show; the simulated people cannot commit the others through crimerec's recorder
# (it refuses malformed grounds and always keeps an N100), so any flag of theirs would be a false positive.
CANCELLATION_CATEGORIES = ("rape", "other_sexual", "violence", "robbery")
# Kinds of contact first contact leaves pending (a third party's report awaits the victim's confirmation): the
# recorder screens only what first contact decided, so these are out of the screener's scope.
LEFT_TO_A_PERSON = frozenset({"third_party"})


@dataclass(frozen=True)
class AuditorView:
    """What the auditor says, read through its API."""

    clock: datetime
    flags: list[dict[str, Any]]
    recording: dict[str, Any]
    cancellations: dict[str, Any]
    rate_to: datetime


async def read_auditor(
    client: httpx.AsyncClient, key: str, truth: dict[str, Any], *, patience: float = 600
) -> AuditorView:
    """Everything the evaluation needs from the auditor, once it has judged the whole simulation."""
    headers = {"Authorization": f"Bearer {key}"}
    until = datetime.fromisoformat(truth["last_step_at"])
    clock = await wait_for_auditor(client, headers, until=until, patience=patience, poll=0.5)
    # One more sweep runs after the clock got there: deadlines up to it are judged.
    await asyncio.sleep(2.5)
    flags: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"after": after} if after is not None else {})}
        response = await client.get("/v1/flags", params=params, headers=headers)
        response.raise_for_status()
        page = response.json()
        flags.extend(page["items"])
        after = page["next_after"]
        if after is None:
            break
    start = datetime.fromisoformat(truth["start"])
    # The rate covers contacts whose recording deadline the auditor's clock has passed: their fate is known.
    # A run shorter than the limit knows no contact's fate yet: the rate then covers (almost) nothing, on both sides.
    rate_to = max(clock - LIMIT, start + timedelta(seconds=1))
    recording = await client.get(
        "/v1/stats/recording", params={"from": start.isoformat(), "to": rate_to.isoformat()}, headers=headers
    )
    recording.raise_for_status()
    cancellations = await client.get(
        "/v1/stats/cancellations",
        params={"from": start.isoformat(), "to": (clock + timedelta(seconds=1)).isoformat()},
        headers=headers,
    )
    cancellations.raise_for_status()
    return AuditorView(clock, flags, recording.json(), cancellations.json(), rate_to)


def evaluate(
    truth: dict[str, Any], view: AuditorView, *, screening: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The evaluation as JSON: per rule, the recording rate, the cancellation table, the annual estimate; and, when
    screening results are given (contact id → {"positive", "families"}), how the narrative screener did."""
    if screening is None:
        screening = truth.get("screening")
    contacts = _after_reviews(truth)
    start = datetime.fromisoformat(truth["start"])
    in_rate = [c for c in contacts.values() if start <= datetime.fromisoformat(c["received_at"]) < view.rate_to]
    hidden = [c for c in in_rate if c["kind"] == "hidden_in_narrative"]
    recording = _recording_rates(in_rate, view)
    overall = recording["overall"]
    annual_recorded = view.recording["recorded_crime_12_months"]
    hidden_crimes = sum(len(c["should"]) for c in hidden)
    result = {
        "profile": truth["profile"],
        "force": truth["force"],
        "period": {"from": truth["start"], "to": truth["end"], "auditor_clock": view.clock.isoformat()},
        "rules": _rule_rows(contacts, view, screening_breaches(truth, screening or {})),
        "hidden_in_narrative": {
            "contacts": len(hidden),
            "crimes": hidden_crimes,
            "share_of_should": hidden_crimes / overall["true_should"] if overall["true_should"] else None,
            "recorded_by_review": sum(len(c["correct"]) for c in hidden),
            "note": "crimes logged as ASB or public safety, traceable only in the narrative: the screener's positive "
            "screens put them on the review queue, and a review records them",
        },
        "recording_rate": recording,
        "cancellations": _cancellation_rows(contacts, view),
        "annual_estimate": {
            "recorded_crime_12_months": annual_recorded,
            "auditor": view.recording["unrecorded_crimes_per_year"],
            "truth": unrecorded_per_year(annual_recorded, overall["true_rate"]),
        },
    }
    if screening is not None:
        result["screening"] = score_screening(truth, screening)
        result["screening_reviews"] = _review_summary(truth, screening)
    return result


def _after_reviews(truth: dict[str, Any]) -> dict[str, Any]:
    """The contacts' truth once the supervisors' reviews are counted: a hidden crime a review recorded is recorded
    (late or not, as the recording rate counts it) and the events show it."""
    contacts = dict(truth["contacts"])
    for ref, review in (truth.get("screening_reviews") or {}).items():
        if review["action"] == "record" and ref in contacts:
            contact = contacts[ref]
            contacts[ref] = contact | {"correct": list(contact["should"]), "recorded_by_review": True}
    return contacts


def screening_breaches(
    truth: dict[str, Any], screening: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, datetime]]:
    """The breaches of the screening rules, from what the screener said and what the supervisors did (rule, contact
    reference, when knowable): a positive screen not reviewed by its deadline (24 h from receipt) is
    HIDDEN_CRIME_UNREVIEWED at the deadline; a review that records crimes after it is LATE_RECORD when it is made.
    The screener is not the truth: a wrong positive left unreviewed is still a breach of the review duty."""
    reviews = truth.get("screening_reviews") or {}
    breaches = []
    for ref, contact in truth["contacts"].items():
        result = screening.get(contact.get("contact_id") or "")
        if result is None or not result["positive"]:
            continue
        deadline = datetime.fromisoformat(contact["received_at"]) + LIMIT
        review = reviews.get(ref)
        reviewed_at = datetime.fromisoformat(review["reviewed_at"]) if review else None
        if reviewed_at is None or reviewed_at > deadline:
            breaches.append(("HIDDEN_CRIME_UNREVIEWED", ref, deadline))
        if review and reviewed_at and reviewed_at > deadline and review["action"] == "record":
            breaches.append(("LATE_RECORD", ref, reviewed_at))
    return breaches


def _review_summary(truth: dict[str, Any], screening: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the supervisors did with the positive screens: reviewed on time, late, or not at all."""
    reviews = (truth.get("screening_reviews") or {}).values()
    return {
        "screened_positive": sum(1 for r in screening.values() if r["positive"]),
        "reviewed_on_time": sum(1 for r in reviews if r["on_time"]),
        "reviewed_late": sum(1 for r in reviews if not r["on_time"]),
        "recorded_late": sum(1 for r in reviews if not r["on_time"] and r["action"] == "record"),
        "crimes_recorded_by_review": sum(r["crimes"] for r in reviews),
        "unreviewed": sum(1 for r in screening.values() if r["positive"] and r.get("reviewed_at") is None),
    }


def _rule_rows(
    contacts: dict[str, Any], view: AuditorView, extra: Sequence[tuple[str, str, datetime]] = ()
) -> list[dict[str, Any]]:
    """Per rule: the breaches knowable by the auditor's clock (planned, and `extra` from the screening reviews)
    against the flags it raised."""
    by_id = {c["contact_id"]: ref for ref, c in contacts.items() if c.get("contact_id")}
    expected: set[tuple[str, str]] = {(rule, ref) for rule, ref, at in extra if at <= view.clock}
    for ref, contact in contacts.items():
        for breach in contact["breaches"]:
            if datetime.fromisoformat(breach["knowable_at"]) <= view.clock:
                expected.add((breach["rule"], ref))
    raised = {(f["rule"], by_id[f["contact_id"]]) for f in view.flags if f["contact_id"] in by_id}
    rows = []
    for rule in Rule:
        truth_keys = {k for k in expected if k[0] == rule.value}
        flag_keys = {k for k in raised if k[0] == rule.value}
        counts = _confusion({r for _, r in truth_keys}, {r for _, r in flag_keys})
        rows.append({"rule": rule.value, "injected": len(truth_keys), **counts})
    return rows


def _confusion(truth: set[str], found: set[str]) -> dict[str, Any]:
    """True and false positives, misses, precision and recall of what was found against the truth."""
    tp, fp, fn = len(truth & found), len(found - truth), len(truth - found)
    return {
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_positive_examples": sorted(found - truth)[:5],
        "false_negative_examples": sorted(truth - found)[:5],
    }


def _recording_rates(in_rate: list[dict[str, Any]], view: AuditorView) -> dict[str, Any]:
    """Per reported group: the true rate, the rate the events show, and the auditor's with its interval."""
    visible = [c for c in in_rate if c["kind"] != "hidden_in_narrative" or c.get("recorded_by_review")]
    recording = {}
    for group, categories in REPORTED_GROUPS.items():
        true_all = _rate(in_rate, categories)
        true_visible = _rate(visible, categories)
        auditor = view.recording["recording_rate"][group]
        inside = (
            auditor["ci_low"] is not None
            and true_visible.rate is not None
            and auditor["ci_low"] <= true_visible.rate <= auditor["ci_high"]
        )
        recording[group] = {
            "true_rate": true_all.rate,
            "true_should": true_all.trials,
            "true_rate_visible_in_events": true_visible.rate,
            "true_should_visible_in_events": true_visible.trials,
            "auditor": auditor,
            "true_visible_rate_within_auditor_interval": inside,
        }
    return recording


def _cancellation_rows(contacts: dict[str, Any], view: AuditorView) -> list[dict[str, Any]]:
    """The auditor's "x of n correct" per audit category against the injected cancellations."""
    injected = Counter[tuple[str, bool]]()
    for contact in contacts.values():
        cancellation = contact.get("cancellation")
        if cancellation and datetime.fromisoformat(cancellation["approved_at"]) <= view.clock:
            injected[cancellation["category"], cancellation["correct"]] += 1
    table = []
    for row in view.cancellations["categories"]:
        category = row["audit_category"]
        n = injected[category, True] + injected[category, False]
        table.append(
            {
                "audit_category": category,
                "injected": f"{injected[category, True]} of {n} correct",
                "auditor": row["summary"],
                "equal": (row["correct"], row["cancellations"]) == (injected[category, True], n),
            }
        )
    return table


def score_screening(truth: dict[str, Any], screening: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """How the narrative screener did on the contacts the recorder did not record at first contact: precision and
    recall of "screened positive" against "the narrative discloses a crime", overall and per offence family.

    `screening` maps a contact id to {"positive": bool, "families": [...]}; a contact in scope with no result counts
    as not screened positive (and is counted as not screened). A contact left pending at first contact (a third
    party's report) is in scope only if it was screened."""
    disclosed: set[str] = set()
    positive: set[str] = set()
    families: dict[str, str] = {}
    named: set[str] = set()
    in_scope = not_screened = 0
    for ref, contact in truth["contacts"].items():
        narrative, contact_id = contact.get("narrative"), contact.get("contact_id")
        if narrative is None or contact_id is None or _recorded_at_first_contact(contact):
            continue
        result = screening.get(contact_id)
        if result is None and contact["kind"] in LEFT_TO_A_PERSON:
            continue  # pending at first contact: a person reads it, the screener does not
        in_scope += 1
        not_screened += result is None
        if narrative["discloses_crime"]:
            disclosed.add(ref)
            families[ref] = narrative["family"]
        if result is not None and result["positive"]:
            positive.add(ref)
            if narrative["family"] in result.get("families", ()):
                named.add(ref)
    by_family = {}
    for family in sorted(set(families.values())):
        refs = {r for r, f in families.items() if f == family}
        found = refs & positive
        by_family[family] = {
            "disclosed": len(refs),
            "screened_positive": len(found),
            "recall": len(found) / len(refs) if refs else None,
            "family_named": len(found & named),
        }
    return {
        "contacts": in_scope,
        "not_screened": not_screened,
        "disclosing_crime": len(disclosed),
        "screened_positive": len(positive),
        **_confusion(disclosed, positive),
        "by_family": by_family,
    }


def _recorded_at_first_contact(contact: dict[str, Any]) -> bool:
    # Truth files written before the field was added say it through the kind.
    return bool(contact.get("recorded_at_first_contact", contact["kind"] in RECORDED_AT_FIRST_CONTACT))


def _rate(contacts: list[dict[str, Any]], categories: frozenset[str]) -> Any:
    should = sum(1 for c in contacts for category in c["should"] if category in categories)
    correct = sum(1 for c in contacts for category in c["correct"] if category in categories)
    return wilson(correct, should)


def passed(result: dict[str, Any]) -> list[str]:
    """What misses the bar (empty when everything meets it): every rule exact, the true rate within the
    auditor's interval, the cancellation table equal to the injected one."""
    failures = []
    for row in result["rules"]:
        if row["false_positives"] or row["false_negatives"]:
            failures.append(f"{row['rule']}: {row['false_positives']} false positives, {row['false_negatives']} missed")
    for group, row in result["recording_rate"].items():
        if row["true_should_visible_in_events"] and not row["true_visible_rate_within_auditor_interval"]:
            failures.append(
                f"recording rate {group}: true {row['true_rate_visible_in_events']:.4f} outside the auditor's interval"
            )
    for row in result["cancellations"]:
        if not row["equal"]:
            failures.append(
                f"cancellations {row['audit_category']}: injected {row['injected']}, auditor {row['auditor']}"
            )
    return failures
