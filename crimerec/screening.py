"""`crimerec screening`: train the narrative screener's classifier from the labelled corpus, and evaluate it.

Training is reproducible: the held-out quarter is chosen from the ids alone (stratified by label and first
family), scikit-learn runs with a fixed seed, and the model file is the same bytes for the same corpus and code.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console

from schemas.screening import OffenceFamily
from services.recorder.rules.screening import THRESHOLD, LinearTextModel, PhraseRules, features, screen_text
from services.recorder.rules.screening.model import MODEL_FORMAT
from services.recorder.rules.screening.text import prepare_text
from services.recorder.screening_model import MODEL_FILE, load_model, load_rules, shipped_path

app = typer.Typer(help="The narrative screener: train its classifier, evaluate it.", no_args_is_help=True)
console = Console()

SEED: Final = 18
HOLDOUT_EVERY: Final = 4  # one in four of each stratum is held out
PARAMS: Final = {"min_df": 2, "sublinear_tf": True, "C": 4.0, "solver": "liblinear", "class_weight": "balanced"}
HEADS: Final = ["crime", *(f.value for f in OffenceFamily)]
SIMULATED_DAYS: Final = 30
TARGET_RECALL: Final = 0.90
TARGET_PRECISION: Final = 0.80
SIMULATED_SEEDS: Final = (18, 19)
"""Two 30-day runs: one run plants some 30 crimes in non-crime logs, too few to read a recall of 0.9 from."""

CorpusDir = Annotated[Path | None, typer.Option("--corpus", help="Folder of *.jsonl; default: the shipped corpus.")]
ModelOut = Annotated[Path | None, typer.Option("--out", help="Model file to write; default: the shipped one.")]


def load_corpus(folder: Path | None = None) -> list[dict[str, Any]]:
    """The labelled narratives (id, text, label, families) from every *.jsonl in the folder, ids unique."""
    folder = folder or shipped_path("corpus")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            item = json.loads(line)
            if item["id"] in seen:
                raise ValueError(f"{path.name}:{number}: id {item['id']} is used twice")
            if bool(item["label"]) != bool(item["families"]):
                raise ValueError(f"{path.name}:{number}: a crime needs families, a non-crime none")
            for family in item["families"]:
                OffenceFamily(family)
            seen.add(item["id"])
            items.append(item)
    return items


def split(items: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training items and the held-out quarter: within each stratum (label, first family) ranked by a hash of
    the id, every fourth is held out; so the split depends on the ids only, never on the text or a random draw."""
    strata: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        strata[f"{item['label']}/{(item['families'] or ['none'])[0]}"].append(item)
    train: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for key in sorted(strata):
        ranked = sorted(strata[key], key=lambda i: hashlib.sha256(i["id"].encode()).hexdigest())
        for rank, item in enumerate(ranked):
            (held if rank % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else train).append(item)
    return sorted(train, key=lambda i: i["id"]), sorted(held, key=lambda i: i["id"])


def _analyzer(raw: str) -> list[str]:
    return features(prepare_text(raw).text)


def fit(items: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], Callable[[list[str]], list[float]]]:
    """Fits TF-IDF + logistic regression (one head for 'crime', one per family) and exports it as model data;
    also returns scikit-learn's own crime probability, to check the export against."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [i["text"] for i in items]
    vectorizer = TfidfVectorizer(
        analyzer=_analyzer, min_df=PARAMS["min_df"], sublinear_tf=PARAMS["sublinear_tf"], lowercase=False
    )
    matrix = vectorizer.fit_transform(texts)
    coefs: list[list[float]] = []
    intercepts: list[float] = []
    classifiers: list[LogisticRegression | None] = []
    for head in HEADS:
        y = [bool(i["label"]) if head == "crime" else head in i["families"] for i in items]
        classifier = LogisticRegression(
            C=PARAMS["C"], solver=PARAMS["solver"], class_weight=PARAMS["class_weight"], random_state=SEED
        )
        if len(set(y)) < 2:
            coefs.append([0.0] * matrix.shape[1])
            intercepts.append(-10.0)
            classifiers.append(None)
            continue
        classifier.fit(matrix, y)
        coefs.append([float(x) for x in classifier.coef_[0]])
        intercepts.append(float(classifier.intercept_[0]))
        classifiers.append(classifier)
    vocabulary = vectorizer.vocabulary_
    terms = {
        term: [round(float(vectorizer.idf_[index]), 6), *(round(c[index], 6) for c in coefs)]
        for term, index in sorted(vocabulary.items())
    }
    digest = hashlib.sha256(
        json.dumps(
            [texts, [i["label"] for i in items], [i["families"] for i in items], PARAMS], sort_keys=True
        ).encode()
    ).hexdigest()[:10]
    data = {
        "format": MODEL_FORMAT,
        "version": f"model-{digest}",
        "heads": HEADS,
        "threshold": THRESHOLD,
        "params": PARAMS,
        "trained_on": len(items),
        "intercepts": [round(x, 6) for x in intercepts],
        "terms": terms,
    }
    crime = classifiers[0]
    assert crime is not None, "the corpus must hold crimes and non-crimes to train the crime head"

    def sklearn_probability(batch: list[str]) -> list[float]:
        return [float(p) for p in crime.predict_proba(vectorizer.transform(batch))[:, 1]]

    return data, sklearn_probability


def _prf(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | int]:
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    fp = sum(p and not t for t, p in zip(truth, predicted, strict=True))
    fn = sum(t and not p for t, p in zip(truth, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(truth),
        "positives": sum(truth),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
    }


def evaluate_items(
    items: Iterable[tuple[str, bool, list[str]]], rules: PhraseRules, model: LinearTextModel | None
) -> dict[str, Any]:
    """Precision, recall and F1 of the rules alone, the model alone and the combined screener, and per family
    (combined screener's families against the labelled ones), over (text, label, families) items."""
    truth: list[bool] = []
    by_layer: dict[str, list[bool]] = {"rules": [], "model": [], "combined": []}
    family_truth: dict[str, list[bool]] = {f.value: [] for f in OffenceFamily}
    family_pred: dict[str, list[bool]] = {f.value: [] for f in OffenceFamily}
    misses: list[str] = []
    for text, label, families in items:
        result = screen_text(text, rules=rules, model=model, every_layer=True)
        truth.append(label)
        by_layer["rules"].append(result.rules_score >= THRESHOLD)
        if model is not None:
            by_layer["model"].append((result.model_score or 0.0) >= THRESHOLD)
        by_layer["combined"].append(result.positive)
        for family in OffenceFamily:
            family_truth[family.value].append(family.value in families)
            family_pred[family.value].append(family in result.families)
        if label != result.positive and len(misses) < 400:
            misses.append(f"{'FN' if label else 'FP'} {result.score:.2f} {text[:110]}")
    report: dict[str, Any] = {
        layer: _prf(truth, predicted) for layer, predicted in by_layer.items() if len(predicted) == len(truth)
    }
    report["families"] = {
        f: _prf(family_truth[f], family_pred[f]) for f in family_truth if sum(family_truth[f]) or sum(family_pred[f])
    }
    report["errors"] = misses
    return report


def simulated_items(
    days: float = SIMULATED_DAYS, seeds: Sequence[int] = SIMULATED_SEEDS
) -> dict[str, list[tuple[str, bool, list[str]]]]:
    """Narratives of simulated runs of the default profile (one per seed, `days` each, pooled), labelled by the
    plan's truth: whether the narrative discloses a crime, and its family. Three sets:

    - `all`: every contact with a victim-based crime and every non-crime contact (offences against the state,
      recorded on the officer's word, are left out);
    - `screened`: the contacts the recorder screens, those not recorded at first contact (non-crime, hidden in a
      non-crime log, third-party reports), as `crimerec evaluate` scores a run;
    - `non_crime_logs`: the contacts logged as non-crime only (a crime hidden in one, or a fraud, against the rest),
      where the screener is the only check and every alarming distractor is."""
    from crimerec.simulation.plan import Profile, plan
    from crimerec.simulation.truth import RECORDED_AT_FIRST_CONTACT

    profile = Profile.load("default")
    sets: dict[str, list[tuple[str, bool, list[str]]]] = {"all": [], "screened": [], "non_crime_logs": []}
    for seed in seeds:
        simulated = plan(profile, seed=seed, force="GMP", start=datetime(2026, 11, 2, tzinfo=UTC), days=days, run="scr")
        for contact in simulated.contacts:
            if contact.kind == "recorded" and not contact.body["victims"]:
                continue  # against the state
            truth = contact.narrative
            families = [truth.family] if truth.family else []
            item: tuple[str, bool, list[str]] = (contact.body.get("narrative") or "", truth.discloses_crime, families)
            sets["all"].append(item)
            if contact.kind not in RECORDED_AT_FIRST_CONTACT:
                sets["screened"].append(item)
            if contact.kind in ("non_crime", "hidden_in_narrative"):
                sets["non_crime_logs"].append(item)
    return sets


def _print_report(title: str, report: dict[str, Any], *, errors: int = 0) -> None:
    console.print(f"[bold]{title}[/bold]")
    for layer in ("rules", "model", "combined"):
        if layer in report:
            r = report[layer]
            console.print(
                f"  {layer:9} precision {r['precision']:.3f}  recall {r['recall']:.3f}  F1 {r['f1']:.3f}  "
                f"(n={r['n']}, positives={r['positives']}, tp={r['tp']}, fp={r['fp']}, fn={r['fn']})"
            )
    if "combined" in report:
        r = report["combined"]
        met = r["recall"] >= TARGET_RECALL and r["precision"] >= TARGET_PRECISION
        console.print(f"  target (recall >= {TARGET_RECALL} at precision >= {TARGET_PRECISION}): "
                      f"{'[green]met[/green]' if met else '[red]not met[/red]'}")  # fmt: skip
    for family, r in report.get("families", {}).items():
        console.print(
            f"    {family:19} precision {r['precision']:.3f}  recall {r['recall']:.3f}  (positives={r['positives']})"
        )
    for line in report.get("errors", [])[:errors]:
        console.print(f"    {line}", markup=False)


def _metrics(
    rules: PhraseRules, model: LinearTextModel, train: list[Any], held: list[Any], days: float = SIMULATED_DAYS
) -> dict[str, Any]:
    def as_items(items: list[dict[str, Any]]) -> list[tuple[str, bool, list[str]]]:
        return [(i["text"], bool(i["label"]), list(i["families"])) for i in items]

    simulated = simulated_items(days) if days > 0 else {}
    result: dict[str, Any] = {
        "model_version": model.version,
        "rules_version": rules.version,
        "threshold": THRESHOLD,
        "corpus": {"items": len(train) + len(held), "train": len(train), "held_out": len(held)},
        "held_out": evaluate_items(as_items(held), rules, model),
        "simulated": {
            "days_per_run": days,
            "seeds": list(SIMULATED_SEEDS),
            **{k: evaluate_items(v, rules, model) for k, v in simulated.items()},
        },
    }
    for report in (result["held_out"], *(result["simulated"][k] for k in simulated)):
        report.pop("errors")
    return result


@app.command()
def train(
    corpus: CorpusDir = None,
    out: ModelOut = None,
    simulated_days: Annotated[float, typer.Option(help="Days per simulated run in metrics.json; 0 for none.")] = 30,
) -> None:
    """Trains the classifier on three quarters of the labelled corpus; writes the model file and metrics.json."""
    items = load_corpus(corpus)
    training, held = split(items)
    data, _ = fit(training)
    path = out or shipped_path(MODEL_FILE)
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
    model = LinearTextModel.from_data(data)
    metrics = _metrics(load_rules(), model, training, held, simulated_days)
    (path.parent / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    console.print(f"trained {data['version']} on {len(training)} narratives ({len(held)} held out); wrote {path}")
    _print_report("held-out quarter", metrics["held_out"])


@app.command()
def evaluate(
    corpus: CorpusDir = None,
    model_path: Annotated[Path | None, typer.Option("--model", help="Model file; default: the shipped one.")] = None,
    simulated_days: Annotated[float, typer.Option(help="Days of simulated contacts to screen; 0 for none.")] = 30,
    errors: Annotated[int, typer.Option(help="Print this many misclassified narratives per set.")] = 0,
    seeds: Annotated[
        list[int] | None, typer.Option("--seed", help="Simulator seeds (repeat); default 18 and 19.")
    ] = None,
) -> None:
    """Prints precision, recall and F1 of the rules, the model and the combined screener on the held-out quarter
    (and per family), and on a simulated run."""
    seeds = list(seeds or SIMULATED_SEEDS)
    rules = load_rules()
    model, problem = load_model(model_path)
    if model is None:
        console.print(f"[yellow]rules-only: {problem}[/yellow]")
    _, held = split(load_corpus(corpus))
    report = evaluate_items([(i["text"], bool(i["label"]), list(i["families"])) for i in held], rules, model)
    _print_report(f"held-out quarter ({len(held)} narratives)", report, errors=errors)
    if simulated_days > 0:
        runs = (
            f"{len(seeds)} run{'s' * (len(seeds) > 1)} x {simulated_days:g} days (seeds {', '.join(map(str, seeds))})"
        )
        for name, items in simulated_items(simulated_days, seeds).items():
            _print_report(f"simulated {runs}, {name} ({len(items)} contacts)",
                          evaluate_items(items, rules, model), errors=errors)  # fmt: skip
