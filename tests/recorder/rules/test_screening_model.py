"""The screener's classifier: the exported model scores as scikit-learn does, and a missing or corrupt model
file leaves the screener running on its rules alone, saying so."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from crimerec.screening import fit, load_corpus, split
from schemas.screening import ScreeningMode
from services.recorder.rules.screening import LinearTextModel, prepare_text
from services.recorder.screening_model import load_model, load_screener, screener_status


@pytest.fixture(scope="module")
def trained() -> tuple[dict[str, object], object, list[str]]:
    training, held = split(load_corpus())
    data, sklearn_probability = fit(training)
    return data, sklearn_probability, [i["text"] for i in held]


def test_exported_model_scores_as_scikit_learn(trained: tuple[dict[str, object], object, list[str]]) -> None:
    data, sklearn_probability, texts = trained
    model = LinearTextModel.from_data(json.loads(json.dumps(data)))
    ours = [model.score(prepare_text(t).text).probability for t in texts]
    theirs = sklearn_probability(texts)  # type: ignore[operator]
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-3


def test_shipped_model_loads() -> None:
    model, problem = load_model()
    assert model is not None, problem
    assert model.version.startswith("model-")


def test_missing_model_file_gives_rules_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="crimerec.recorder.screening"):
        screener = load_screener(model_path=tmp_path / "absent.json")
    assert screener.mode is ScreeningMode.RULES_ONLY
    assert "runs rules-only" in caplog.text and "not found" in caplog.text
    status = screener_status(screener)
    assert status["mode"] == "rules-only" and status["model_version"] is None and "not found" in status["problem"]
    result = screener.screen_text("he said he would kill me")
    assert result.positive and result.mode is ScreeningMode.RULES_ONLY and result.model_score is None


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"\xff\xfe\x00", b'{"format": "something-else"}', b'{"format": "crimerec-linear-tfidf/1"}'],
)
def test_corrupt_model_file_gives_rules_only(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    screener = load_screener(model_path=path)
    assert screener.mode is ScreeningMode.RULES_ONLY
    assert screener.status["problem"]
    assert not screener.screen_text("").positive


def test_loaded_screener_status_names_both_versions() -> None:
    screener = load_screener()
    assert screener.status["mode"] == "rules+model"
    assert screener.status["rules_version"].startswith("rules-2.")
    assert screener.status["problem"] is None
