"""`crimerec screening train` is reproducible and writes model and metrics; `evaluate` prints every layer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crimerec.cli import app
from crimerec.screening import load_corpus, split

runner = CliRunner()


def test_held_out_quarter_is_deterministic_stratified_and_disjoint() -> None:
    items = load_corpus()
    assert len(items) >= 400
    train, held = split(items)
    assert {i["id"] for i in train}.isdisjoint({i["id"] for i in held})
    assert len(train) + len(held) == len(items)
    assert abs(len(held) / len(items) - 0.25) < 0.03
    crimes = sum(i["label"] for i in held) / len(held)
    assert abs(crimes - sum(i["label"] for i in items) / len(items)) < 0.05
    assert split(list(reversed(items))) == (train, held)


def test_train_twice_gives_the_same_model_and_metrics(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "model.json", tmp_path / "b" / "model.json"
    for out in (first, second):
        out.parent.mkdir()
        result = runner.invoke(app, ["screening", "train", "--out", str(out), "--simulated-days", "1"])
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    metrics = json.loads((first.parent / "metrics.json").read_text())
    assert metrics == json.loads((second.parent / "metrics.json").read_text())
    assert metrics["corpus"]["held_out"] > 100
    assert set(metrics["held_out"]) >= {"rules", "model", "combined", "families"}
    assert metrics["model_version"] == json.loads(first.read_text())["version"]
    assert metrics["simulated"]["seeds"] == [18, 19]
    assert set(metrics["simulated"]) >= {"all", "screened", "non_crime_logs"}


def test_shipped_metrics_are_those_of_the_shipped_model_and_rules() -> None:
    from services.recorder.screening_model import load_model, load_rules, shipped_path

    metrics = json.loads(shipped_path("metrics.json").read_text())
    model, _ = load_model()
    assert model is not None
    assert (metrics["model_version"], metrics["rules_version"]) == (model.version, load_rules().version)
    assert metrics["simulated"]["days_per_run"] == 30


def test_evaluate_prints_each_layer_and_family() -> None:
    result = runner.invoke(app, ["screening", "evaluate", "--simulated-days", "1"])
    assert result.exit_code == 0, result.output
    for word in ("held-out quarter", "rules", "model", "combined", "violence", "fraud", "target (recall"):
        assert word in result.output
    for name in ("all", "screened", "non_crime_logs"):
        assert f"simulated 2 runs x 1 days (seeds 18, 19), {name} (" in result.output


def test_evaluate_takes_other_seeds() -> None:
    result = runner.invoke(app, ["screening", "evaluate", "--simulated-days", "1", "--seed", "7", "--errors", "2"])
    assert result.exit_code == 0, result.output
    assert "simulated 1 run x 1 days (seeds 7), non_crime_logs (" in result.output


def test_evaluate_without_a_model_says_rules_only(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["screening", "evaluate", "--model", str(tmp_path / "none.json"), "--simulated-days", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "rules-only" in result.output
