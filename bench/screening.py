"""Narrative screening speed: p50/p99 per contact for typical narratives and for 100 kB ones (printed, never
asserted). The model and rules are loaded once, as the recorder does at start-up."""

from __future__ import annotations

import statistics
import time

from crimerec.screening import load_corpus
from services.recorder.screening_model import load_screener


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    started = time.perf_counter()
    screener = load_screener()
    print(f"loaded {screener.status['mode']} screener in {(time.perf_counter() - started) * 1000:.0f} ms "
          f"({screener.status['rules_version']}, {screener.status['model_version']})")  # fmt: skip
    texts = [item["text"] for item in load_corpus()]
    long_texts = [(t + " ") * (100_000 // (len(t) + 1) + 1) for t in texts[:: max(1, len(texts) // 50)]]
    for name, batch, rounds in (("typical narrative", texts, 5), ("100 kB narrative", long_texts, 2)):
        for text in batch[:20]:
            screener.screen_text(text)  # warm up
        samples = []
        for _ in range(rounds):
            for text in batch:
                start = time.perf_counter()
                screener.screen_text(text)
                samples.append((time.perf_counter() - start) * 1000)
        p50, p99 = _percentiles(samples)
        print(f"{name:18} n={len(samples):5}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms per contact")


if __name__ == "__main__":
    main()
