"""The recording rate of a period, summed in the database from the categories stored with each contact's facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from services.auditor.rules.counting import CLOSED_AS_NO_CRIME

LIVE = ("recorded", "transferred")

# Per contact and audit category, as rules/statistics.RecordingTally.add_contact counts them (a test holds the two
# together): the crimes the standard required, less those a correct cancellation showed were none, or the crimes
# live and wrongly cancelled, whichever is larger; correct are the live ones, up to that. Which categories the
# contact required is rules/counting.counts_unconfirmed's choice, made here in SQL.
_TALLY = text("""
WITH period AS (
    SELECT contact_id,
           CASE WHEN ((outcome IS NULL OR outcome = 'pending') AND deadline_checked)
                  OR (outcome = ANY(:closed) AND decision->>'credible_evidence' IS NULL)
                THEN required_categories_unconfirmed ELSE required_categories END AS required
      FROM auditor.contacts
     WHERE force = :force AND received_at >= :start AND received_at < :end AND facts IS NOT NULL
), owed AS (
    SELECT contact_id, category, count(*) AS n
      FROM period, unnest(period.required) AS category
     GROUP BY contact_id, category
), judged AS (
    SELECT crime_reference, bool_and(judged_correct) AS correct
      FROM auditor.removals
     WHERE force = :force
     GROUP BY crime_reference
), recorded AS (
    SELECT k.contact_id, k.audit_category AS category,
           count(*) FILTER (WHERE k.status = ANY(:live)) AS live,
           count(*) FILTER (WHERE k.status = ANY(:live) AND k.recorded_at <= k.recording_deadline) AS on_time,
           count(*) FILTER (WHERE k.status <> ALL(:live) AND j.correct) AS rightly_removed,
           count(*) FILTER (WHERE k.status <> ALL(:live) AND NOT coalesce(j.correct, false)) AS wrongly_removed
      FROM auditor.crimes AS k
      JOIN period USING (contact_id)
      LEFT JOIN judged AS j USING (crime_reference)
     GROUP BY k.contact_id, k.audit_category
), units AS (
    SELECT category,
           coalesce(live, 0) AS live,
           coalesce(on_time, 0) AS on_time,
           greatest(coalesce(n, 0) - coalesce(rightly_removed, 0), coalesce(live, 0) + coalesce(wrongly_removed, 0), 0)
               AS should
      FROM owed FULL JOIN recorded USING (contact_id, category)
)
SELECT category, sum(should) AS should, sum(least(live, should)) AS correct, sum(live) AS recorded,
       sum(on_time) AS on_time
  FROM units
 GROUP BY category
""").bindparams(
    bindparam("closed", value=sorted(CLOSED_AS_NO_CRIME), type_=ARRAY(Text)),
    bindparam("live", value=list(LIVE), type_=ARRAY(Text)),
)


async def recording_tally(session: AsyncSession, *, force: str, start: datetime, end: datetime) -> Sequence[Row[Any]]:
    """Per audit category, from a force's contacts received in [start, end): the crimes that should have been
    recorded, those correctly recorded, those recorded (live), and those recorded within their deadline."""
    return (await session.execute(_TALLY, {"force": force, "start": start, "end": end})).all()
