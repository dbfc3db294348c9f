"""Loads the narrative screener once at start-up: the phrase rules and the versioned model file shipped in the
package. A missing or corrupt model file leaves the screener running on its rules alone, says so in the log, and
the status (for the health endpoint) shows it; it never stops the recorder."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

from schemas.contacts import ContactCreate
from schemas.screening import ScreeningMode, ScreeningResult
from services.recorder.rules.screening import LinearTextModel, PhraseRules, screen_contact, screen_text

log = logging.getLogger("crimerec.recorder.screening")

PACKAGE: Final = "services.recorder.rules.screening"
PATTERNS_FILE: Final = "patterns.yaml"
MODEL_FILE: Final = "model.json"


def shipped_path(name: str) -> Path:
    """The path of a file shipped in the screening package (patterns, model, metrics, corpus)."""
    return Path(str(resources.files(PACKAGE).joinpath(name)))


def load_rules(path: Path | None = None) -> PhraseRules:
    """The phrase rules from their data file (the shipped one by default); they are part of the code, so a broken
    file is an error at start-up."""
    text = (path or shipped_path(PATTERNS_FILE)).read_text(encoding="utf-8")
    return PhraseRules.from_data(yaml.safe_load(text))


def load_model(path: Path | None = None) -> tuple[LinearTextModel | None, str]:
    """The classifier from its model file, or None and the reason it could not be loaded."""
    path = path or shipped_path(MODEL_FILE)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return LinearTextModel.from_data(data), ""
    except FileNotFoundError:
        return None, f"model file {path} not found"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        return None, f"model file {path} unreadable: {error}"


@dataclass(frozen=True)
class Screener:
    """The loaded screener: rules, the model if it loaded, and why it did not."""

    rules: PhraseRules
    model: LinearTextModel | None
    model_problem: str = ""
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> ScreeningMode:
        """rules+model, or rules-only when the model could not be loaded."""
        return ScreeningMode.RULES_ONLY if self.model is None else ScreeningMode.RULES_AND_MODEL

    def screen_text(self, text: str | None) -> ScreeningResult:
        """Screens one text."""
        return screen_text(text, rules=self.rules, model=self.model)

    def screen_contact(self, contact: ContactCreate, extra: tuple[str | None, ...] = ()) -> ScreeningResult:
        """Screens a contact not recorded at first contact (narrative and free-text fields)."""
        return screen_contact(contact, rules=self.rules, model=self.model, extra=extra)


def load_screener(*, model_path: Path | None = None, patterns_path: Path | None = None) -> Screener:
    """Loads the screener once (call at start-up): rules always, the model when its file is there and sound."""
    rules = load_rules(patterns_path)
    model, problem = load_model(model_path)
    if model is None:
        log.warning("narrative screening runs rules-only: %s", problem)
    else:
        log.info("narrative screening runs rules+model (%s, %s)", rules.version, model.version)
    screener = Screener(rules, model, problem)
    object.__setattr__(screener, "status", screener_status(screener))
    return screener


def screener_status(screener: Screener) -> dict[str, Any]:
    """What the health endpoint shows of the screener: its mode, versions, and why the model is missing."""
    return {
        "mode": screener.mode.value,
        "rules_version": screener.rules.version,
        "model_version": None if screener.model is None else screener.model.version,
        "problem": screener.model_problem or None,
    }
