"""`crimerec audit-dependencies` against a PyPI stand-in on 127.0.0.1 serving the JSON API's documents: each verdict,
the grace period for pins behind a newer release, and a lock or index it cannot read failing instead of passing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from typer.testing import CliRunner

from crimerec import dependency_audit as da
from crimerec.cli import app

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _file(uploaded: datetime, *, yanked: bool = False, requires_python: str | None = None) -> dict[str, Any]:
    return {
        "upload_time_iso_8601": uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "yanked": yanked,
        "yanked_reason": "broken wheel" if yanked else None,
        "requires_python": requires_python,
    }


def _advisory(id_: str, fixed: str, *, withdrawn: str | None = None) -> dict[str, Any]:
    return {"id": id_, "aliases": ["CVE-2026-0001"], "fixed_in": [fixed], "withdrawn": withdrawn, "summary": "x"}


def _project(latest: str, releases: dict[str, list[dict[str, Any]]], vulns: list[dict[str, Any]]) -> dict[str, Any]:
    return {"info": {"version": latest}, "releases": releases, "vulnerabilities": vulns}


class PyPI(BaseHTTPRequestHandler):
    documents: dict[str, Any] = {}

    def do_GET(self) -> None:
        document = self.documents.get(self.path)
        if document is None:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index() -> Iterator[str]:
    old = NOW - timedelta(days=400)
    PyPI.documents = {
        # at the latest release, with an advisory against it (and a withdrawn one, which does not count)
        "/pypi/badlib/json": _project(
            "2.0",
            {"1.0": [_file(old)], "2.0": [_file(old)]},
            [_advisory("PYSEC-2026-1", "2.1"), _advisory("PYSEC-2026-2", "2.1", withdrawn="2026-01-01")],
        ),
        # at the latest release, with only a withdrawn advisory
        "/pypi/fine-lib/json": _project(
            "3.1", {"3.1": [_file(old)]}, [_advisory("GHSA-xxxx", "3.2", withdrawn="2026-02-02")]
        ),
        # behind: the pinned release's own document is served (as on the real PyPI), and it names an advisory
        "/pypi/served/1.0/json": {"urls": [_file(old)], "vulnerabilities": [_advisory("PYSEC-2025-9", "1.1")]},
        "/pypi/served/json": _project("1.1", {"1.0": [_file(old)], "1.1": [_file(old)]}, []),
        # behind, per-release document not served: newer for 3 days (within the grace period) …
        "/pypi/recent/json": _project(
            "1.1", {"1.0": [_file(old)], "1.1": [_file(NOW - timedelta(days=3))], "2.0a1": [_file(old)]}, []
        ),
        # … newer for 60 days …
        "/pypi/stale/json": _project("1.1", {"1.0": [_file(old)], "1.1": [_file(NOW - timedelta(days=60))]}, []),
        # … newer only for a Python this is not, or outside what another pin allows, or yanked: the newest it can be
        "/pypi/capped/json": _project(
            "1.3",
            {
                "1.0": [_file(old)],
                "1.1": [_file(NOW - timedelta(days=90), yanked=True)],
                "1.2": [_file(NOW - timedelta(days=80), requires_python=">=3.99")],
                "1.3": [_file(NOW - timedelta(days=70))],
            },
            [],
        ),
        "/pypi/yanked/json": _project("2.0", {"1.0": [_file(old, yanked=True)], "2.0": [_file(old)]}, []),
        "/pypi/ghost/json": _project("1.0", {"1.0": [_file(old)]}, []),
        # a mirror's document without PyPI's advisory data, a version that is not PEP 440, a pin ahead of latest
        "/pypi/mirrored/json": {"info": {"version": "1.0"}, "releases": {"1.0": [_file(old)]}},
        "/pypi/odd/json": _project("banana", {"banana": [_file(old)]}, []),
        "/pypi/early/json": _project("1.9", {"1.9": [_file(old)], "2.0b1": [_file(old)]}, []),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), PyPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _said(output: str) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(output.split())


def _verdicts(index: str, lock: str, caps: dict[str, SpecifierSet] | None = None) -> dict[str, da.Finding]:
    pins = da.read_lock(lock.splitlines())
    report = da.audit(pins, index=index, python="3.11.7", caps=caps or {})
    return {f.pin.name: f for f in report.findings}


def test_each_verdict(index: str) -> None:
    found = _verdicts(
        index,
        "badlib==2.0\nFine_Lib==3.1\nserved==1.0\nrecent==1.0\nstale==1.0\ncapped==1.0\nyanked==1.0\n"
        "ghost==0.9\nmissing==1.0\nmirrored==1.0\nodd==banana\nearly==2.0b1\n",
        caps={"capped": SpecifierSet("<1.3")},
    )
    assert found["badlib"].verdict == da.Verdict.VULNERABLE
    assert found["badlib"].advisories == ("PYSEC-2026-1 (CVE-2026-0001): fixed in 2.1",)
    assert found["Fine_Lib"].verdict == da.Verdict.CLEAN  # the name is normalised; a withdrawn advisory is not one
    assert (found["served"].verdict, found["served"].source) == (da.Verdict.VULNERABLE, "release")
    assert found["recent"].verdict == da.Verdict.BEHIND
    assert found["recent"].behind_since == NOW - timedelta(days=3)  # the pre-release 2.0a1 does not count
    assert found["stale"].behind_since == NOW - timedelta(days=60)
    assert (found["capped"].verdict, found["capped"].behind_since) == (da.Verdict.BEHIND, None)
    assert found["yanked"].verdict == da.Verdict.YANKED
    assert (found["ghost"].verdict, found["ghost"].reason) == (da.Verdict.FAILED, "PyPI has no such release")
    assert found["missing"].verdict == da.Verdict.FAILED
    assert (found["mirrored"].verdict, found["mirrored"].reason) == (
        da.Verdict.FAILED, "the document carries no advisory data"
    )  # fmt: skip
    assert (found["odd"].verdict, found["odd"].reason) == (da.Verdict.FAILED, "a version that is not PEP 440")
    assert (found["early"].verdict, found["early"].reason) == (da.Verdict.FAILED, "ahead of the latest release")


def test_the_grace_period_and_strict(index: str) -> None:
    report = da.audit(
        da.read_lock(["fine-lib==3.1", "recent==1.0", "stale==1.0", "capped==1.0"]),
        index=index, python="3.11.7", caps={"capped": SpecifierSet("<1.3")},
    )  # fmt: skip
    month = timedelta(days=30)

    def failing(**kw: Any) -> set[str]:
        return {f.pin.name for f in report.failures(now=NOW, **kw)}

    assert failing(max_behind=month, strict=False) == {"stale"}
    assert failing(max_behind=timedelta(days=7), strict=False) == {"stale"}
    assert failing(max_behind=timedelta(days=2), strict=False) == {"recent", "stale"}
    assert failing(max_behind=month, strict=True) == {"recent", "stale", "capped"}
    # without the cap, 1.3 could be taken: behind for 70 days
    uncapped = da.audit(da.read_lock(["capped==1.0"]), index=index, python="3.11.7", caps={})
    assert uncapped.findings[0].behind_since == NOW - timedelta(days=70)


def test_installed_caps_read_the_environment() -> None:
    caps = da.installed_caps()
    assert caps["jsonschema-rs"].contains("0.60.3")  # schemathesis pins it below 0.61
    assert not caps["jsonschema-rs"].contains("0.61.0")
    assert "numpy" in caps  # crimerec's own requirement counts


def test_the_command_fails_on_an_advisory_and_passes_a_clean_lock(index: str, tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.lock", tmp_path / "good.lock"
    bad.write_text("# a comment\nfine-lib==3.1\nbadlib==2.0\n")
    good.write_text("fine-lib==3.1\nrecent==1.0\n")
    runner = CliRunner()
    result = runner.invoke(app, ["audit-dependencies", str(bad), "--index", index])
    assert result.exit_code == 1, result.output
    assert "PYSEC-2026-1" in _said(result.output)
    assert "1 vulnerable" in _said(result.output)
    result = runner.invoke(app, ["audit-dependencies", str(good), "--index", index])
    assert result.exit_code == 0, result.output
    assert "1 checked clean" in _said(result.output)
    assert "1 behind" in _said(result.output)
    assert runner.invoke(app, ["audit-dependencies", str(good), "--index", index, "--strict"]).exit_code == 1
    # the default grace period is a week: newer for 60 days fails
    stale = tmp_path / "stale.lock"
    stale.write_text("fine-lib==3.1\nstale==1.0\n")
    assert runner.invoke(app, ["audit-dependencies", str(stale), "--index", index]).exit_code == 1
    assert (
        runner.invoke(app, ["audit-dependencies", str(stale), "--index", index, "--max-behind-days", "90"]).exit_code
        == 0
    )


def test_an_audit_that_checked_nothing_does_not_pass(index: str, tmp_path: Path) -> None:
    runner = CliRunner()
    unread = tmp_path / "behind-only.lock"
    unread.write_text("recent==1.0\n")  # within the grace period, but no pin's advisories were read
    result = runner.invoke(app, ["audit-dependencies", str(unread), "--index", index])
    assert result.exit_code == 1, result.output
    assert "an audit that checked nothing does not pass" in _said(result.output)
    empty = tmp_path / "empty.lock"
    empty.write_text("# nothing\n\n")
    result = runner.invoke(app, ["audit-dependencies", str(empty), "--index", index])
    assert result.exit_code == 2
    assert "pins nothing" in _said(result.output)


def test_a_lock_it_cannot_read_or_an_index_that_does_not_answer_fails(
    index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(da, "RETRY_PAUSE_S", 0.0)
    lock = tmp_path / "requirements.lock"
    lock.write_text("fine-lib==3.1\n-e ./vendored/x\n")
    runner = CliRunner()
    result = runner.invoke(app, ["audit-dependencies", str(lock), "--index", index])
    assert result.exit_code == 2
    assert "line 2" in _said(result.output)
    assert runner.invoke(app, ["audit-dependencies", str(tmp_path / "absent.lock")]).exit_code == 2
    lock.write_text("fine-lib==3.1\nbadlib==2.0\n")
    # nothing listens on port 9 of loopback: every pin failed, and that fails
    result = runner.invoke(app, ["audit-dependencies", str(lock), "--index", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "2 failed" in _said(result.output)
