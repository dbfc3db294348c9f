"""Knowing a broker again: has it lost its log since we last saw it (restarted empty, a new cluster, lost data)?

The broker's log is a cache of the outboxes: a broker that lost it is re-seeded from the retained outbox rows, and
the consumers' inboxes make every event they already handled a no-op.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas import topics
from services.runtime.offsets import end_offsets
from services.runtime.settings import EngineSettings


@dataclass(frozen=True)
class BrokerFingerprint:
    """What identifies a broker's log: its cluster id and, per crimerec topic partition, its end offset."""

    cluster_id: str | None
    end_offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> end offset

    def to_json(self) -> str:
        """The fingerprint as JSON, for the state folder."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BrokerFingerprint:
        """A fingerprint read back from the state folder."""
        raw = json.loads(text)
        return cls(cluster_id=raw.get("cluster_id"), end_offsets={k: int(v) for k, v in raw["end_offsets"].items()})


def lost_log(before: BrokerFingerprint | None, now: BrokerFingerprint) -> str | None:
    """Why the broker `now` has lost what it held `before` (None when it has not): another cluster id, a topic
    partition gone, or an end offset gone back."""
    if before is None:
        return None
    if before.cluster_id and now.cluster_id and before.cluster_id != now.cluster_id:
        return f"cluster id {before.cluster_id} is now {now.cluster_id}"
    for where, offset in before.end_offsets.items():
        if where not in now.end_offsets:
            return f"{where} is gone"
        if now.end_offsets[where] < offset:
            return f"{where} ends at {now.end_offsets[where]}, before the {offset} it had reached"
    return None


async def fingerprint(settings: EngineSettings) -> BrokerFingerprint:
    """The broker's fingerprint now (topics that do not exist are simply absent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="crimerec-identity")
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    wanted = [settings.topic(name) for name in topics.ALL]
    present = [name for name in wanted if name in existing]
    ends: dict[str, int] = {}
    if present:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="crimerec-identity")
        await consumer.start()
        try:
            partitions = [
                TopicPartition(name, p) for name in present for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            if partitions:
                offsets = await end_offsets(consumer, partitions)  # right on the embedded broker too
                ends = {f"{tp.topic}:{tp.partition}": int(offset) for tp, offset in offsets.items()}
        finally:
            await consumer.stop()
    cluster_id = cluster.get("cluster_id")
    return BrokerFingerprint(cluster_id=str(cluster_id) if cluster_id else None, end_offsets=ends)


def read_fingerprint(path: Path) -> BrokerFingerprint | None:
    """The fingerprint last written to `path`, None if there is none (or it cannot be read)."""
    try:
        return BrokerFingerprint.from_json(path.read_text())
    except (OSError, ValueError, KeyError):
        return None


def write_fingerprint(path: Path, print_: BrokerFingerprint) -> None:
    """Writes a fingerprint whole, then moves it into place."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(print_.to_json())
    tmp.replace(path)


async def remember(settings: EngineSettings, path: Path) -> None:
    """Writes the broker's fingerprint now to `path`, as the look the next check compares with."""
    write_fingerprint(path, await fingerprint(settings))


async def lost_since_last_look(settings: EngineSettings, path: Path) -> str | None:
    """Why the broker has lost the log it had at the last look written to `path` (None: it has not, and this
    look is remembered instead)."""
    now = await fingerprint(settings)
    why = lost_log(read_fingerprint(path), now)
    if why is None:
        write_fingerprint(path, now)
    return why
