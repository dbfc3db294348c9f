"""The recording rate of a period, summed in the database from the categories stored with each contact's facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TIMESTAMP, Text

from services.auditor.rules.counting import CLOSED_AS_NO_CRIME

LIVE = ("recorded", "transferred")

# Per contact and audit category, as rules/statistics.RecordingTally.add_contact counts them (a test holds the two
# together): the crimes the standard required, less those a correct cancellation showed were none, or the crimes
# live and wrongly cancelled, whichever is larger; correct are the live ones, up to that. Which categories the
# contact required is rules/counting.counts_unconfirmed's choice, made here in SQL.
_TALLY = text("""
WITH period AS NOT MATERIALIZED (
    SELECT contact_id,
           floor(CAST(extract(epoch FROM received_at - CAST(:start AS timestamptz)) AS float8)
                 / CAST(:width AS float8))::int AS bucket,
           CASE WHEN ((outcome IS NULL OR outcome = 'pending') AND deadline_checked)
                  OR (outcome = ANY(:closed) AND decision->>'credible_evidence' IS NULL)
                THEN required_categories_unconfirmed ELSE required_categories END AS required
      FROM auditor.contacts
     WHERE force = :force AND received_at >= :start AND received_at < :end AND facts IS NOT NULL
), parts AS (
    -- one row a crime required, and one a crime recorded (live, or removed rightly or wrongly)
    SELECT contact_id, bucket, category, 1 AS n, 0 AS live, 0 AS on_time, 0 AS rightly_removed, 0 AS wrongly_removed
      FROM period, unnest(period.required) AS category
    UNION ALL
    SELECT k.contact_id, period.bucket, k.audit_category, 0,
           CAST(k.status = ANY(:live) AS int),
           CAST(k.status = ANY(:live) AND k.recorded_at <= k.recording_deadline AS int),
           CAST(k.status <> ALL(:live) AND coalesce(j.correct, false) AS int),
           CAST(k.status <> ALL(:live) AND NOT coalesce(j.correct, false) AS int)
      FROM period
      JOIN auditor.crimes AS k ON k.contact_id = period.contact_id
           -- a crime carries its contact's time of receipt: only the period's crimes are read
           AND k.force = :force AND k.received_at >= :start AND k.received_at < :end
      LEFT JOIN LATERAL (
          SELECT bool_and(r.judged_correct) AS correct FROM auditor.removals AS r
           WHERE r.crime_reference = k.crime_reference
      ) AS j ON k.status <> ALL(:live)
), units AS (
    SELECT bucket, category, sum(live) AS live, sum(on_time) AS on_time,
           greatest(sum(n) - sum(rightly_removed), sum(live) + sum(wrongly_removed), 0) AS should
      FROM parts
     GROUP BY contact_id, bucket, category
)
SELECT bucket, category, sum(should) AS should, sum(least(live, should)) AS correct, sum(live) AS recorded,
       sum(on_time) AS on_time
  FROM units
 GROUP BY bucket, category
""").bindparams(
    bindparam("closed", value=sorted(CLOSED_AS_NO_CRIME), type_=ARRAY(Text)),
    bindparam("live", value=list(LIVE), type_=ARRAY(Text)),
)


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
