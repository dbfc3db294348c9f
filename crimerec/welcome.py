"""What `crimerec up` tells a person once everything runs: the services, the demo keys, sample contacts."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from crimerec import stack
from services.runtime.settings import EngineSettings


def demo_keys(data_dir: Path, engines: EngineSettings, *, force: str) -> dict[str, str]:
    """The demo keys for a force: issued on first start, read back afterwards."""
    path = data_dir / "demo-keys.json"
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        # The same data folder may now run on another database: keep only keys this database knows.
        if asyncio.run(stack.keys_known(engines, list(keys.values()))):
            return keys
    keys = asyncio.run(stack.issue_keys(engines, force=force, roles=stack.DEMO_ROLES, label="demo"))
    path.write_text(json.dumps(keys, indent=2))
    path.chmod(0o600)
    return keys


def print_banner(
    console: Console, *, host: str, ports: dict[str, int], keys: dict[str, str], data_dir: Path, force: str = "GMP"
) -> None:
    """Tells the user where everything is and how to try it."""
    table = Table(title="crimerec is running", show_lines=False)
    table.add_column("service")
    table.add_column("URL")
    table.add_column("API docs")
    for name, port in ports.items():
        base = f"http://{host}:{port}"
        table.add_row(name, base, f"{base}/docs")
    console.print(table)
    keys_table = Table(title=f"demo API keys for {force} (also in {data_dir / 'demo-keys.json'})")
    keys_table.add_column("role")
    keys_table.add_column("key")
    for role, key in keys.items():
        keys_table.add_row(role, key)
    console.print(keys_table)
    intake = f"http://{host}:{ports['intake']}"
    console.print(
        "Try it:\n"
        f"  curl -s -X POST {intake}/v1/contacts -H 'Authorization: Bearer {keys['call_handler']}' \\\n"
        "       -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' -d @examples/assault.json\n"
        f"Logs: {data_dir / 'logs'}   Stop: Ctrl-C\n"
    )


def post_demo_contacts(console: Console, intake: str, keys: dict[str, str], *, force: str = "GMP") -> None:
    """Posts the sample contacts shipped with crimerec, received just now."""
    from crimerec.demo import sample_contacts

    headers = {"Authorization": f"Bearer {keys['call_handler']}"}
    for i, contact in enumerate(sample_contacts(force=force)):
        response = httpx.post(
            f"{intake}/v1/contacts",
            json=contact,
            headers=headers | {"Idempotency-Key": f"demo-{contact['source']['reference']}"},
            timeout=10,
        )
        if response.status_code == 201:
            console.print(f"posted sample contact {i + 1}: {contact['narrative'][:70]}…")
        else:
            console.print(f"[yellow]sample contact {i + 1}: {response.status_code} {response.text[:200]}")


def write_services_file(data_dir: Path, *, host: str, ports: dict[str, int], pids: dict[str, int | None]) -> None:
    """services.json: each service's URL and pid, for the tools that talk to a running stack."""
    state = {name: {"pid": pids.get(name), "url": f"http://{host}:{port}"} for name, port in ports.items()}
    # Written whole, then moved into place, so a reader never sees half a file.
    path = data_dir / "services.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, path)


def redact(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
