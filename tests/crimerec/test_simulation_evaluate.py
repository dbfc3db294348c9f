"""The evaluation's screener section, scored with plain data: precision and recall of "screened positive" against
the truth's "narrative discloses a crime", over the contacts the recorder did not record at first contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from crimerec.simulation.evaluate import AuditorView, evaluate, score_screening
from crimerec.simulation.run import show_screening
from services.auditor.rules.statistics import REPORTED_GROUPS


def _contact(kind: str, family: str | None, contact_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "received_at": "2016-03-01T10:00:00+00:00",
        "recorded_at_first_contact": kind in {"recorded", "transferred"},
        "narrative": {"discloses_crime": family is not None, "family": family},
        "should": [],
        "correct": [],
        "breaches": [],
        "cancellation": None,
        **({"contact_id": contact_id} if contact_id else {}),
        **extra,
    }


TRUTH = {
    "contacts": {
        "H1": _contact("hidden_in_narrative", "domestic_abuse", "c-h1"),
        "H2": _contact("hidden_in_narrative", "modern_slavery", "c-h2"),
        "H3": _contact("hidden_in_narrative", "violence", "c-h3"),
        "T1": _contact("third_party", "theft_robbery", "c-t1"),
        "F1": _contact("non_crime", "fraud", "c-f1"),
        "N1": _contact("non_crime", None, "c-n1"),
        "N2": _contact("non_crime", None, "c-n2"),
        "N3": _contact("non_crime", None, "c-n3"),
        # Recorded at first contact: the screener never sees it, so it is out of scope whatever it says.
        "R1": _contact("recorded", "violence", "c-r1"),
        # Never posted (no id the system gave): out of scope.
        "U1": _contact("hidden_in_narrative", "sexual"),
    }
}


def test_precision_and_recall_over_the_contacts_not_recorded_at_first_contact() -> None:
    screening = {
        "c-h1": {"positive": True, "families": ["domestic_abuse"]},
        "c-h2": {"positive": True, "families": ["violence"]},
        "c-h3": {"positive": False, "families": []},
        "c-t1": {"positive": True, "families": ["theft_robbery"]},
        "c-f1": {"positive": True, "families": ["fraud"]},
        "c-n1": {"positive": True, "families": ["violence"]},
        "c-n2": {"positive": False, "families": []},
        # c-n3 has no result: not screened, and not screened positive.
        "c-r1": {"positive": False, "families": []},
    }
    score = score_screening(TRUTH, screening)
    assert score["contacts"] == 8
    assert score["not_screened"] == 1
    assert score["disclosing_crime"] == 5
    assert (score["true_positives"], score["false_positives"], score["false_negatives"]) == (4, 1, 1)
    assert score["precision"] == pytest.approx(4 / 5)
    assert score["recall"] == pytest.approx(4 / 5)
    assert score["false_positive_examples"] == ["N1"]
    assert score["false_negative_examples"] == ["H3"]
    assert score["by_family"]["modern_slavery"] == {
        "disclosed": 1, "screened_positive": 1, "recall": 1.0, "family_named": 0,
    }  # fmt: skip
    assert score["by_family"]["violence"] == {"disclosed": 1, "screened_positive": 0, "recall": 0.0, "family_named": 0}
    assert score["by_family"]["domestic_abuse"]["family_named"] == 1
    assert set(score["by_family"]) == {"domestic_abuse", "modern_slavery", "violence", "theft_robbery", "fraud"}


def test_a_screener_that_flags_nothing_has_no_precision_and_no_recall() -> None:
    # The third party's report (pending at first contact, so never screened) is out of scope without a result.
    score = score_screening(TRUTH, {})
    assert score["contacts"] == 7 and score["not_screened"] == 7
    assert (score["true_positives"], score["false_positives"], score["false_negatives"]) == (0, 0, 4)
    assert score["precision"] is None and score["recall"] == 0.0


def test_a_truth_file_without_the_first_contact_field_goes_by_the_kind() -> None:
    truth = {"contacts": {ref: {k: v for k, v in c.items() if k != "recorded_at_first_contact"}
                          for ref, c in TRUTH["contacts"].items()}}  # fmt: skip
    assert score_screening(truth, {})["contacts"] == 7


def test_the_screening_table_prints() -> None:
    console = Console(record=True, width=140)
    show_screening(score_screening(TRUTH, {"c-h1": {"positive": True, "families": ["domestic_abuse"]}}), console)
    text = console.export_text()
    assert "domestic_abuse" in text and "precision 100.00%" in text and "recall 25.00%" in text


def test_the_evaluation_carries_the_screening_section_only_when_given_results() -> None:
    start = datetime(2016, 3, 1, tzinfo=UTC)
    truth = {"profile": "default", "force": "GMP", "start": start.isoformat(), "end": "2016-03-02T00:00:00+00:00",
             **TRUTH}  # fmt: skip
    empty = {"rate": None, "ci_low": None, "ci_high": None}
    view = AuditorView(
        clock=start + timedelta(days=2),
        flags=[],
        recording={
            "recording_rate": {group: empty for group in REPORTED_GROUPS},
            "recorded_crime_12_months": 0,
            "unrecorded_crimes_per_year": None,
        },
        cancellations={"categories": []},
        rate_to=start + timedelta(days=1),
    )
    assert "screening" not in evaluate(truth, view)
    result = evaluate(truth, view, screening={"c-n1": {"positive": True, "families": ["violence"]}})
    assert result["screening"] == score_screening(truth, {"c-n1": {"positive": True, "families": ["violence"]}})
    assert result["screening"]["false_positive_examples"] == ["N1"]
