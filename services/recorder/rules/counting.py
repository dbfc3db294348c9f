"""How many crimes, and which class: the counting rules (HOCR sections D, E and F)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ReportedOffence
from services.recorder.rules.policy import RecordingPolicy


@dataclass(frozen=True)
class CrimeToRecord:
    """One crime the rules require to be recorded: one victim, one finished incident, its principal class."""

    victim_ref: str | None
    ho_class: str
    offender_ref: str | None
    incident_ref: str | None
    counted_offences: tuple[int, ...] = ()
    """Indices into contact.offences that this crime counts, the principal offence first (audit trail)."""
    absorbed: tuple[str, ...] = ()
    """Classes of the other offences counted within the principal crime, most serious first (HOCR E and F)."""
    offender_refs: tuple[str, ...] = ()
    """Every named offender of the offences counted, in the order reported."""


def _group_key(offence: ReportedOffence, *, victim_based: bool, policy: RecordingPolicy) -> tuple[object, ...]:
    if victim_based:
        # HOCR section D: one crime per victim. Section E: offences against the same victim by the same
        # offender(s) in one finished incident count once; a distinct incident_ref is a distinct incident.
        # By default every offender named against one victim in one incident is taken to act with the others
        # ("offender(s)": a group attacking one person is one crime), and an unknown offender (null) may be any
        # of them; a force that counts each offender separately sets offenders_in_one_incident_act_together.
        offender = None if policy.offenders_in_one_incident_act_together else offence.offender_ref
        return ("victim", offence.victim_ref, offence.incident_ref, offender)
    # Offences against the state have no victim to count by: one crime per distinct offence (class) per
    # incident, or per offender too where the force's policy says so.
    offender = offence.offender_ref if policy.state_offences_per_offender else None
    return ("state", offence.ho_class, offence.incident_ref, offender)


def count_crimes(
    offences: Iterable[tuple[int, ReportedOffence]],
    *,
    catalogue: OffenceCatalogue,
    policy: RecordingPolicy,
) -> tuple[CrimeToRecord, ...]:
    """Counts reported offences (index, offence) into crimes: one per victim and incident, principal crime first."""
    groups: dict[tuple[object, ...], list[tuple[int, ReportedOffence]]] = {}
    for index, offence in offences:
        entry = catalogue.get(offence.ho_class)
        # A class the catalogue does not know is counted as victim-based: it cannot be a crime against the state
        # the catalogue has never heard of, and counting it per victim never merges two victims' offences.
        victim_based = True if entry is None else entry.victim_based
        groups.setdefault(_group_key(offence, victim_based=victim_based, policy=policy), []).append((index, offence))

    crimes: list[CrimeToRecord] = []
    for key, members in groups.items():
        # HOCR section F: the principal crime is the most serious offence, by the catalogue's ranking.
        principal_class = (
            members[0][1].ho_class if len(members) == 1 else catalogue.principal(o.ho_class for _, o in members)
        )
        principal_index, principal = next((i, o) for i, o in members if o.ho_class == principal_class)
        others = [(i, o) for i, o in members if i != principal_index]
        offender_refs = tuple(dict.fromkeys(o.offender_ref for _, o in members if o.offender_ref is not None))
        crimes.append(
            CrimeToRecord(
                # Against the state, the crime has no victim of its own, whatever victim the offence mentions.
                victim_ref=principal.victim_ref if key[0] == "victim" else None,
                ho_class=principal.ho_class,
                offender_ref=principal.offender_ref or (offender_refs[0] if offender_refs else None),
                incident_ref=principal.incident_ref,
                counted_offences=(principal_index, *(i for i, _ in others)),
                absorbed=tuple(catalogue.rank(o.ho_class for _, o in others)),
                offender_refs=offender_refs,
            )
        )
    # Principal crime first (ContactDecided.crime_references): most serious first, then in the order reported.
    if len(crimes) > 1:
        crimes.sort(key=lambda crime: (catalogue.rank_key(crime.ho_class), min(crime.counted_offences)))
    return tuple(crimes)
