"""Known vulnerabilities in the locked dependencies, from PyPI's advisory data (`make audit`, run by `make lint`).

pip-audit asks PyPI's JSON API for each pinned release (`/pypi/<name>/<version>/json`), or OSV. Where neither can be
reached (this workplace: the per-release documents answer 404 and OSV does not answer), pip-audit can check nothing.
PyPI's project document (`/pypi/<name>/json`) does answer, and it carries the advisories of the project's latest
release, plus every release's upload times. So for each pin this audit reads, in order:

1. the pinned release's own document: its advisories, exactly as pip-audit reads them (where PyPI serves it, every
   pin is checked this way and nothing below applies);
2. where that is not served, the project document: if the pin *is* the latest release, its advisories are exactly
   the pin's;
3. otherwise the pin cannot be checked here. It is reported, and it fails the audit once a newer release it could be
   bumped to (one this Python can install, within what the installed packages require of it) has been out longer
   than the grace period (`--max-behind-days`, 7 by default), or at once with `--strict`. This is the gap to know
   of: a vulnerability is usually announced with its fix release, which makes the pin "behind" and the advisory
   one the project document (the fix release's) does not carry. So here a known-vulnerable pin can pass for up to
   the grace period, and a pin that is the newest the lock can have (numpy's newer releases need a newer Python;
   schemathesis caps jsonschema-rs) is reported as unchecked and fails only `--strict`.

A withdrawn advisory does not count. A yanked pin fails. A pin that cannot be looked up fails, and so does a
document without advisory data (a mirror that does not carry PyPI's), a version that is not PEP 440, a pin ahead of
the latest release, an empty lock, and an audit that checked no pin at all.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

PYPI = "https://pypi.org"
RETRY_PAUSE_S = 1.0
"""The first pause before a retry (then doubled)."""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


class Verdict(StrEnum):
    CLEAN = "clean"  # checked against the pinned release's advisories: none
    VULNERABLE = "vulnerable"  # at least one advisory, not withdrawn, names the pinned release
    YANKED = "yanked"  # the pinned release was withdrawn from PyPI
    BEHIND = "behind"  # a newer release exists and the pinned release's advisories cannot be read here
    FAILED = "failed"  # PyPI could not be asked, or answered something unusable


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    @property
    def project(self) -> str:
        return _project(self.name)


@dataclass(frozen=True)
class Finding:
    pin: Pin
    verdict: Verdict
    source: str = ""  # "release" or "project": which document the verdict rests on
    advisories: tuple[str, ...] = ()  # "PYSEC-… (CVE-…): fixed in 1.2.3"
    latest: str = ""
    behind_since: datetime | None = None  # when the first release after the pin this Python can install came out
    reason: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def of(self, *verdicts: Verdict) -> list[Finding]:
        return [f for f in self.findings if f.verdict in verdicts]

    def checked(self) -> list[Finding]:
        """The pins whose advisories were read."""
        return self.of(Verdict.CLEAN, Verdict.VULNERABLE)

    def failures(self, *, now: datetime, max_behind: timedelta, strict: bool) -> list[Finding]:
        bad = self.of(Verdict.VULNERABLE, Verdict.YANKED, Verdict.FAILED)
        for f in self.of(Verdict.BEHIND):
            if strict or (f.behind_since is not None and now - f.behind_since > max_behind):
                bad.append(f)
        return bad


class LockError(ValueError):
    """A line of the lock file that is not `name==version`."""


def read_lock(lines: Iterable[str]) -> list[Pin]:
    pins = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if match is None:
            raise LockError(f"line {number}: {line[:80]!r} is not name==version (write the lock with `make lock`)")
        pins.append(Pin(match[1], match[2]))
    return pins


def _project(name: str) -> str:
    """The PEP 503 normalised name PyPI's URLs use."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_caps() -> dict[str, SpecifierSet]:
    """What the installed distributions (crimerec's own included) require of each project, their extras aside:
    a newer release outside these cannot be taken, so being behind it is not the lock's fault."""
    caps: dict[str, SpecifierSet] = {}
    for dist in importlib.metadata.distributions():
        for text in dist.requires or ():
            try:
                requirement = Requirement(text)
                if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                    continue
            except (InvalidRequirement, UndefinedEnvironmentName):
                continue
            name = _project(requirement.name)
            caps[name] = caps.get(name, SpecifierSet()) & requirement.specifier
    return caps


def _advisories(document: dict[str, Any]) -> tuple[str, ...] | None:
    """The advisories a document names (withdrawn ones aside); None when it carries no advisory data at all."""
    if not isinstance(document.get("vulnerabilities"), list):
        return None
    found = []
    for v in document["vulnerabilities"]:
        if v.get("withdrawn"):
            continue
        aliases = ", ".join(a for a in v.get("aliases") or () if a != v.get("id"))
        fixed = ", ".join(v.get("fixed_in") or ()) or "no fixed release"
        found.append(f"{v.get('id', '?')}{f' ({aliases})' if aliases else ''}: fixed in {fixed}")
    return tuple(found)


def _judged(pin: Pin, document: dict[str, Any], source: str, latest: str = "") -> Finding:
    found = _advisories(document)
    if found is None:
        return Finding(pin, Verdict.FAILED, source, latest=latest, reason="the document carries no advisory data")
    return Finding(pin, Verdict.VULNERABLE if found else Verdict.CLEAN, source, found, latest)


def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _upload_time(files: list[dict[str, Any]]) -> datetime | None:
    times = [datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in files]
    return min(times) if times else None


def _installable(file: dict[str, Any], python: str) -> bool:
    if file.get("yanked"):
        return False
    try:
        return not file.get("requires_python") or SpecifierSet(file["requires_python"]).contains(python)
    except InvalidSpecifier:
        return False


def _behind_since(
    pinned: Version, releases: dict[str, list[dict[str, Any]]], python: str, cap: SpecifierSet
) -> datetime | None:
    """When the first release newer than the pin that could be installed here (this Python, within what the other
    pins require of it; not yanked, not a pre-release unless the pin is one) came out; None where there is none:
    the pin is the newest the lock can have."""
    times = []
    for version, files in releases.items():
        parsed = _parse(version)
        if parsed is None or parsed <= pinned or (parsed.is_prerelease and not pinned.is_prerelease):
            continue
        if not cap.contains(parsed, prereleases=True):
            continue
        if (uploaded := _upload_time([f for f in files if _installable(f, python)])) is not None:
            times.append(uploaded)
    return min(times) if times else None


class Asker:
    """GETs from the index, three retries on a connection failure, 429 or 5xx; once the index cannot be reached at
    all, every later pin fails at once instead of waiting out its own timeouts."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.unreachable = threading.Event()

    def get(self, url: str) -> httpx.Response:
        for attempt in range(4):
            if self.unreachable.is_set():
                raise httpx.ConnectError("the index could not be reached (an earlier request failed)")
            try:
                answer = self.client.get(url)
            except httpx.TransportError:
                if attempt == 3:
                    self.unreachable.set()
                    raise
            else:
                if (answer.status_code != 429 and answer.status_code < 500) or attempt == 3:
                    return answer
            time.sleep(RETRY_PAUSE_S * 2**attempt)
        raise AssertionError("not reached")


def check(asker: Asker, pin: Pin, python: str, cap: SpecifierSet) -> Finding:
    """One pin's verdict, from the pinned release's document where PyPI serves it, else the project's."""
    try:
        answer = asker.get(f"/pypi/{pin.project}/{pin.version}/json")
        if answer.status_code == httpx.codes.OK:
            release = answer.json()
            if release.get("urls") and all(f.get("yanked") for f in release["urls"]):
                return Finding(pin, Verdict.YANKED, "release", reason=release["urls"][0].get("yanked_reason") or "")
            return _judged(pin, release, "release")
        answer = asker.get(f"/pypi/{pin.project}/json")
        if answer.status_code != httpx.codes.OK:
            return Finding(pin, Verdict.FAILED, reason=f"PyPI answered {answer.status_code} for the project")
        project = answer.json()
        latest = str(project["info"]["version"])
        releases: dict[str, list[dict[str, Any]]] = project.get("releases") or {}
        files = releases.get(pin.version)
        if files is None:
            return Finding(pin, Verdict.FAILED, "project", latest=latest, reason="PyPI has no such release")
        if files and all(f.get("yanked") for f in files):
            return Finding(pin, Verdict.YANKED, "project", latest=latest, reason=files[0].get("yanked_reason") or "")
        pinned, newest = _parse(pin.version), _parse(latest)
        if pinned is None or newest is None:
            return Finding(pin, Verdict.FAILED, "project", latest=latest, reason="a version that is not PEP 440")
        if pinned == newest:
            return _judged(pin, project, "project", latest)
        if pinned > newest:
            return Finding(pin, Verdict.FAILED, "project", latest=latest, reason="ahead of the latest release")
        since = _behind_since(pinned, releases, python, cap)
        return Finding(pin, Verdict.BEHIND, "project", latest=latest, behind_since=since)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as e:
        return Finding(pin, Verdict.FAILED, reason=f"{type(e).__name__}: {str(e)[:120]}")


def audit(
    pins: list[Pin],
    *,
    index: str = PYPI,
    progress: Callable[[Finding], None] = lambda _: None,
    workers: int = 8,
    python: str = platform.python_version(),
    caps: Mapping[str, SpecifierSet] | None = None,
) -> Report:
    """Every pin's verdict. Only the index is contacted (through the environment's proxy, if one is set)."""
    caps = installed_caps() if caps is None else caps
    timeout = httpx.Timeout(30, connect=5)
    with (
        httpx.Client(base_url=index, timeout=timeout, follow_redirects=True) as client,
        ThreadPoolExecutor(workers) as pool,
    ):
        asker = Asker(client)
        report = Report()
        for finding in pool.map(lambda p: check(asker, p, python, caps.get(p.project, SpecifierSet())), pins):
            report.findings.append(finding)
            progress(finding)
    return report


def now() -> datetime:
    return datetime.now(UTC)
