"""The recording rate of a period, summed in the database from each contact's share of it, kept as it changes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TIMESTAMP, Text, Uuid

from services.auditor.rules.counting import CLOSED_AS_NO_CRIME

LIVE = ("recorded", "transferred")

# Per contact and audit category, as rules/statistics.RecordingTally.add_contact counts them (a test holds the two
# together): the crimes the standard required, less those a correct cancellation showed were none, or the crimes
# live and wrongly cancelled, whichever is larger; correct are the live ones, up to that. Which categories the
# contact required is rules/counting.counts_unconfirmed's choice, made here in SQL. Written for the contacts given,
# whenever their decision, crimes, removals or deadline change, so a period's rate is a sum of stored rows.
UNITS_INSERT = text("""
INSERT INTO auditor.recording_units (contact_id, category, force, received_at, should, correct, recorded, on_time)
WITH touched AS (
    SELECT contact_id, force, received_at,
           CASE WHEN ((outcome IS NULL OR outcome = 'pending') AND deadline_checked)
                  OR (outcome = ANY(:closed) AND decision->>'credible_evidence' IS NULL)
                THEN required_categories_unconfirmed ELSE required_categories END AS required
      FROM auditor.contacts
     WHERE contact_id = ANY(:ids) AND facts IS NOT NULL AND received_at IS NOT NULL
), parts AS (
    -- one row a crime required, and one a crime recorded (live, or removed rightly or wrongly)
    SELECT contact_id, category, 1 AS n, 0 AS live, 0 AS on_time, 0 AS rightly_removed, 0 AS wrongly_removed
      FROM touched, unnest(touched.required) AS category
    UNION ALL
    SELECT k.contact_id, k.audit_category, 0,
           CAST(k.status = ANY(:live) AS int),
           CAST(k.status = ANY(:live) AND k.recorded_at <= k.recording_deadline AS int),
           CAST(k.status <> ALL(:live) AND coalesce(j.correct, false) AS int),
           CAST(k.status <> ALL(:live) AND NOT coalesce(j.correct, false) AS int)
      FROM touched
      JOIN auditor.crimes AS k ON k.contact_id = touched.contact_id AND k.force = touched.force
      LEFT JOIN LATERAL (
          SELECT bool_and(r.judged_correct) AS correct FROM auditor.removals AS r
           WHERE r.crime_reference = k.crime_reference
      ) AS j ON k.status <> ALL(:live)
), units AS (
    SELECT contact_id, category, sum(live) AS live, sum(on_time) AS on_time,
           greatest(sum(n) - sum(rightly_removed), sum(live) + sum(wrongly_removed), 0) AS should
      FROM parts
     GROUP BY contact_id, category
)
SELECT units.contact_id, units.category, touched.force, touched.received_at, units.should,
       least(units.live, units.should), units.live, units.on_time
  FROM units JOIN touched ON touched.contact_id = units.contact_id
 WHERE units.should > 0 OR units.live > 0
""").bindparams(
    bindparam("closed", value=sorted(CLOSED_AS_NO_CRIME), type_=ARRAY(Text)),
    bindparam("live", value=list(LIVE), type_=ARRAY(Text)),
    bindparam("ids", type_=ARRAY(Uuid)),
)

_UNITS_DELETE = text("DELETE FROM auditor.recording_units WHERE contact_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(Uuid))
)


async def refresh_units(session: AsyncSession, contact_ids: Collection[UUID]) -> None:
    """Writes again the contacts' shares of the recording rate, from their facts, decision, crimes and removals as
    they stand in this transaction: called wherever one of those changes."""
    if contact_ids:
        ids = list(contact_ids)
        await session.execute(_UNITS_DELETE, {"ids": ids})
        await session.execute(UNITS_INSERT, {"ids": ids})


_TALLY = text("""
SELECT floor(CAST(extract(epoch FROM received_at - CAST(:start AS timestamptz)) AS float8)
             / CAST(:width AS float8))::int AS bucket,
       category, sum(should) AS should, sum(correct) AS correct, sum(recorded) AS recorded, sum(on_time) AS on_time
  FROM auditor.recording_units
 WHERE force = :force AND received_at >= :start AND received_at < :end
 GROUP BY bucket, category
""")


async def recording_tally(
    session: AsyncSession, *, force: str, start: datetime, end: datetime, width: timedelta
) -> Sequence[Row[Any]]:
    """Per period of `width` from `start` (its number, `bucket`, from 0) and audit category, from a force's contacts
    received in [start, end): the crimes that should have been recorded, those correctly recorded, those recorded
    (live), and those recorded within their deadline."""
    parameters = {"force": force, "start": start, "end": end, "width": width.total_seconds()}
    return (await session.execute(_TALLY, parameters)).all()


async def crimes_recorded_in(
    session: AsyncSession, *, force: str, windows: Sequence[tuple[datetime, datetime]]
) -> list[int]:
    """How many crimes a force recorded in each window [from, to), in one pass: the crimes are counted between
    consecutive window edges (width_bucket over the sorted edges) and each window adds up its own."""
    edges = sorted({edge for window in windows for edge in window})
    parameters = {"force": force, "edges": edges, "low": edges[0], "high": edges[-1]}
    counts: dict[int, int] = {segment: count for segment, count in await session.execute(_BETWEEN_EDGES, parameters)}
    # Segment s holds the crimes recorded in [edges[s - 1], edges[s]).
    return [sum(counts.get(s, 0) for s in range(edges.index(a) + 1, edges.index(b) + 1)) for a, b in windows]


_BETWEEN_EDGES = text("""
SELECT width_bucket(recorded_at, :edges) AS segment, count(*)
  FROM auditor.crimes
 WHERE force = :force AND recorded_at >= :low AND recorded_at < :high
 GROUP BY segment
""").bindparams(bindparam("edges", type_=ARRAY(TIMESTAMP(timezone=True))))
