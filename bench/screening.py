"""Narrative screening speed: p50/p99 per contact for typical narratives (the hand-written corpus), for the
simulator's non-crime logs (most of what the recorder screens) and for 100 kB ones (printed, never asserted). The
model and rules are loaded once, as the recorder does at start-up.

Each screening is timed twice: wall-clock, and the CPU time of this thread (which a machine shared with other work
inflates far less). The same-run reference is the phrase rules tried on the whole text, without their keyword
prefilter: the ratio says what the prefilter saves on this machine, now. A 100 kB text is cut at the screener's cap
(SCREEN_CHARS) before it is read; the result says so (`truncated`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from crimerec.screening import load_corpus
from crimerec.simulation.narratives import NarrativeWriter
from schemas.catalogue import OffenceCatalogue
from services.recorder.rules.screening import SCREEN_CHARS, prepare_text
from services.recorder.rules.screening.model import MODEL_CHARS
from services.recorder.screening_model import load_screener


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time(call: Callable[[str], object], batch: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds of each call, after a warm-up."""
    for text in batch[:20]:
        call(text)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for text in batch:
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            call(text)
            cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
            wall.append((time.perf_counter_ns() - started) / 1e6)
    return wall, cpu


def _line(name: str, wall: list[float], cpu: list[float]) -> str:
    (w50, w99), (c50, c99) = _percentiles(wall), _percentiles(cpu)
    return f"{name:34} n={len(wall):5}  wall p50 {w50:6.2f} p99 {w99:6.2f} ms  cpu p50 {c50:6.2f} p99 {c99:6.2f} ms"


def main() -> None:
    started = time.perf_counter()
    screener = load_screener()
    print(f"loaded {screener.status['mode']} screener in {(time.perf_counter() - started) * 1000:.0f} ms "
          f"({screener.status['rules_version']}, {screener.status['model_version']}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"text read: first {SCREEN_CHARS} characters (rules), first {MODEL_CHARS} of them (classifier)")
    texts = [item["text"] for item in load_corpus()]
    # What the recorder mostly screens: the contacts logged as something other than a crime, as the simulator
    # writes them (alarming words, no offence; the hand-written corpus is half disclosures).
    writer = NarrativeWriter(2026, OffenceCatalogue.default())
    logs = [writer.non_crime(c, log_number=1000 + i).text for i in range(1500) for c in ("asb", "public_safety")]
    long_texts = [(t + " ") * (100_000 // (len(t) + 1) + 1) for t in texts[:: max(1, len(texts) // 50)]]
    assert all(screener.screen_text(t).truncated for t in long_texts[:3])
    rules = screener.rules
    batches = (
        ("typical narrative", texts, 5),
        ("simulated non-crime log", logs, 1),
        ("100 kB narrative", long_texts, 4),
    )
    for name, batch, rounds in batches:
        wall, cpu = _time(screener.screen_text, batch, rounds)
        print(_line(f"{name}: screening", wall, cpu))
        prepared = [prepare_text(t).text for t in batch]
        filtered = _time(rules.match, prepared, rounds)
        full = _time(lambda t: rules.match(t, prefilter=False), prepared, rounds)
        print(_line(f"{name}: rules, prefiltered", *filtered))
        print(_line(f"{name}: rules, whole text (reference)", *full))
        ratio = _percentiles(full[1])[1] / max(_percentiles(filtered[1])[1], 1e-9)
        print(f"{'':34} prefilter: reference cpu p99 / prefiltered cpu p99 = {ratio:.1f}x")


if __name__ == "__main__":
    main()
