"""The body of intake's `POST /v1/contacts`: one contact with the police, as a call handler sends it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.catalogue import ForceCode, HoClass, OffenceCatalogue, is_force
from schemas.contact_examples import EXAMPLE_ASB_MINIMAL, EXAMPLE_SINGLE_VICTIM, EXAMPLE_TWO_VICTIMS
from schemas.envelope import AwareDatetime

MAX_VICTIMS: Final = 50
MAX_OFFENCES: Final = 200
MAX_NARRATIVE: Final = 10_000

Ref = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]*$",
        description="A label the caller chooses, unique within the contact (letters, digits, _ . : # / -).",
    ),
]
"""A label naming a victim, offender or incident within one contact (V1, S1, monday)."""


class _ContactPart(BaseModel):
    """A part of a contact: unknown fields refused, immutable, and no NUL character in any text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here, as a field error, rather than fail on storing it.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


def _iso_date(value: object) -> object:
    # A number is not a date here (it would be read as seconds since 1970).
    if not isinstance(value, str | date) or (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
        raise ValueError("date must be an ISO 8601 string, e.g. 1990-05-17")
    return value


def _not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("a date of birth cannot be in the future")
    return value


BirthDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_not_in_future)]


class Channel(StrEnum):
    """How the report reached the police."""

    EMERGENCY_CALL = "999"
    NON_EMERGENCY_CALL = "101"
    ONLINE = "online"
    FRONT_COUNTER = "front_counter"
    OFFICER = "officer"
    AGENCY_REFERRAL = "agency_referral"


class ReporterRelationship(StrEnum):
    """Who reported: NCRS takes a report from the victim, someone acting for them, or a third party."""

    VICTIM = "victim"
    ACTING_FOR_VICTIM = "acting_for_victim"
    WITNESS = "witness"
    THIRD_PARTY = "third_party"
    PROFESSIONAL = "professional"
    POLICE = "police"


class VictimKind(StrEnum):
    """Whether a victim is a person or an organisation (a shop, a company, a council)."""

    PERSON = "person"
    ORGANISATION = "organisation"


class IncidentCategory(StrEnum):
    """The NSIR opening category of the incident."""

    CRIME = "crime"
    ASB = "asb"
    PUBLIC_SAFETY = "public_safety"
    TRANSPORT = "transport"


class Qualifier(StrEnum):
    """An NSIR qualifier on the incident."""

    DOMESTIC_ABUSE = "domestic_abuse"
    HATE = "hate"
    VULNERABLE_VICTIM = "vulnerable_victim"
    REPEAT_VICTIM = "repeat_victim"
    CHILD_PROTECTION = "child_protection"
    MENTAL_HEALTH = "mental_health"
    ALCOHOL_RELATED = "alcohol_related"
    DRUGS_RELATED = "drugs_related"


class Source(_ContactPart):
    """The calling system and its own reference for the incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(
        min_length=1,
        max_length=50,
        description="The calling system (STORM, ControlWorks, an online form, ...).",
        examples=["STORM"],
    )
    reference: str = Field(
        min_length=1,
        max_length=100,
        description="The calling system's own incident reference, quoted on every record of this contact.",
        examples=["INC-0001"],
    )


class Reporter(_ContactPart):
    """The person who made the report, and how they relate to the victim."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relationship: ReporterRelationship = Field(
        description="Who reported: the victim, someone acting for the victim, a witness, a third party, a "
        "professional (e.g. social worker, teacher) or the police themselves. A third-party report of an "
        "identified victim leaves the crime pending until the victim confirms it (NCRS)."
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, description="The reporter's name.")
    phone: str | None = Field(
        default=None, min_length=3, max_length=32, description="A phone number to reach the reporter on."
    )
    email: str | None = Field(
        default=None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="An email address to reach the reporter at.",
    )


class Victim(_ContactPart):
    """A person or organisation the report says an offence was committed against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: Ref = Field(description="The victim's label in this contact (V1, V2, ...); offences name it.")
    kind: VictimKind = Field(description="A person or an organisation.")
    name: str | None = Field(default=None, min_length=1, max_length=200, description="The victim's name, when known.")
    date_of_birth: BirthDate | None = Field(default=None, description="A person's date of birth, when known.")
    identified: StrictBool = Field(
        description="Whether the victim is identified: NCRS records a crime for an identified victim."
    )
    confirmed: StrictBool = Field(
        description="Whether the victim has confirmed the offence: a third party's report of an identified "
        "victim is not recorded until the victim confirms it (NCRS)."
    )


class Incident(_ContactPart):
    """The incident record every contact becomes at once (NSIR)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: IncidentCategory = Field(
        description="The NSIR opening category: crime, anti-social behaviour, public safety and welfare, "
        "transport. The closing category may differ."
    )
    opening_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="The calling system's own opening code for the incident, if it has one.",
    )
    qualifiers: list[Qualifier] = Field(
        default_factory=list,
        max_length=len(Qualifier),
        description="NSIR qualifiers, each at most once (domestic abuse, hate, vulnerable victim, ...).",
    )

    @field_validator("qualifiers")
    @classmethod
    def _qualifiers_once(cls, qualifiers: list[Qualifier]) -> list[Qualifier]:
        repeated = sorted({q.value for q in qualifiers if qualifiers.count(q) > 1})
        if repeated:
            raise ValueError(f"each qualifier may be given once; repeated: {', '.join(repeated)}")
        return qualifiers


class Location(_ContactPart):
    """Where the incident happened."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = Field(
        default=None, min_length=1, max_length=500, description="Where it happened, in words."
    )
    postcode: str | None = Field(
        default=None,
        min_length=2,
        max_length=10,
        pattern=r"^[A-Za-z0-9 ]+$",
        description="The postcode, or the part of it that is known.",
        examples=["M1 1AE"],
    )
    force_area: ForceCode | None = Field(
        default=None,
        description="The force in whose area it happened; omitted or null means the receiving force. A crime "
        "committed in another force's area is recorded and then transferred to that force (cancellation C1).",
    )


class ReportedOffence(_ContactPart):
    """One offence the report discloses: against which victim, under which Home Office class, by whom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    victim_ref: Ref | None = Field(
        default=None,
        description="The victim it was committed against (a victims[].ref); null for an offence against the "
        "state, such as possession of drugs or weapons.",
    )
    ho_class: HoClass = Field(
        description="The Home Office class the call handler gives it (8N assault with injury, 105A assault "
        "without injury, 19C rape, ...). The recorder may refuse a class that is not recordable."
    )
    offender_ref: Ref | None = Field(
        default=None,
        description="A label for the suspect (S1, S2, ...): offences by the same offender against the same "
        "victim in one incident count once (HOCR section E). Null when no suspect is known.",
    )
    incident_ref: Ref | None = Field(
        default=None,
        description="A label for the incident within the report when it describes several (monday, friday): "
        "each finished incident counts separately (HOCR section E). Null means the contact's one incident.",
    )


class FieldProblem(BaseModel):
    """Something in a contact that the offence and force catalogue cannot accept, and where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loc: tuple[str | int, ...] = Field(description="Where in the contact, e.g. ('offences', 0, 'ho_class').")
    message: str = Field(max_length=1000, description="What is wrong, in words a call handler understands.")


class ContactCreate(_ContactPart):
    """A report to the police (a call, an online report, a visit) as a call-handling system sends it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="ContactCreate",
        json_schema_extra={
            "examples": [EXAMPLE_SINGLE_VICTIM, EXAMPLE_TWO_VICTIMS, EXAMPLE_ASB_MINIMAL],
            "description": (
                "One contact with the police, sent to `POST /v1/contacts` as soon as it is taken. Every "
                "contact becomes an incident record at once, whoever reports it and whether or not it is "
                "crime-related (NSIR); the recorder then decides, by the National Crime Recording "
                "Standard, which crimes it discloses and records them - one per victim (HOCR section D), the "
                "principal offence of each finished incident (HOCR sections E and F) - within 24 hours of "
                "`received_at`. "
                "Unknown fields are refused; timestamps must carry a timezone."
            ),
        },
    )

    force: ForceCode = Field(description="The force that received the report (e.g. GMP); one of FORCES.")
    source: Source = Field(description="Which system sent the contact, and its reference for it.")
    channel: Channel = Field(
        description="How the report arrived: 999, 101, online, front_counter, officer (found by an "
        "officer) or agency_referral."
    )
    received_at: AwareDatetime = Field(
        description="When the report first reached the police, with a timezone. The 24-hour recording clock "
        "starts here and is never reset."
    )
    reporter: Reporter = Field(description="Who made the report.")
    victims: list[Victim] = Field(
        default_factory=list,
        max_length=MAX_VICTIMS,
        description="Every victim the report names, each with a ref unique within the contact. Empty when "
        "there is none (anti-social behaviour, an offence against the state).",
    )
    incident: Incident = Field(description="The NSIR opening category and qualifiers.")
    location: Location = Field(default_factory=Location, description="Where it happened; omitted means not yet known.")
    occurred_from: AwareDatetime | None = Field(
        default=None, description="When it happened, or the start of the window it happened in."
    )
    occurred_to: AwareDatetime | None = Field(
        default=None, description="The end of the window it happened in; not before occurred_from."
    )
    offences: list[ReportedOffence] = Field(
        default_factory=list,
        max_length=MAX_OFFENCES,
        description="Every offence the report discloses, as the call handler classifies it; may be empty. "
        "The recorder counts them: one crime per victim (HOCR section D), the most serious offence of each "
        "finished incident (sections E and F).",
    )
    credible_evidence_to_contrary: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Credible evidence, immediately available, that no crime happened (NCRS). When given, "
        "the contact becomes a crime-related incident with this as its written reason, which auditors check.",
    )
    narrative: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NARRATIVE,
        description="What was reported, in the call handler's words.",
    )

    @field_validator("force")
    @classmethod
    def _force_is_known(cls, force: str) -> str:
        if not is_force(force):
            raise ValueError(f"{force} is not a force crimerec knows")
        return force

    @model_validator(mode="after")
    def _refs_resolve_and_times_agree(self) -> ContactCreate:
        errors: list[InitErrorDetails] = []

        def refuse(loc: tuple[str | int, ...], message: str, value: object) -> None:
            errors.append(InitErrorDetails(type=PydanticCustomError("contact", message), loc=loc, input=value))

        seen: set[str] = set()
        for index, victim in enumerate(self.victims):
            if victim.ref in seen:
                # HOCR section D counts crimes per victim, so each victim must be named once.
                refuse(
                    ("victims", index, "ref"), f"victim ref {victim.ref} is used twice; each must be unique", victim.ref
                )
            seen.add(victim.ref)
        for index, offence in enumerate(self.offences):
            if offence.victim_ref is not None and offence.victim_ref not in seen:
                refuse(
                    ("offences", index, "victim_ref"),
                    f"{offence.victim_ref} names no victim in victims",
                    offence.victim_ref,
                )
        if self.occurred_from is not None and self.occurred_to is not None and self.occurred_to < self.occurred_from:
            refuse(("occurred_to",), "occurred_to must not be before occurred_from", self.occurred_to.isoformat())
        if errors:
            # Raised with each field's own location, so a caller sees body.offences.1.victim_ref, not body.
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @property
    def incident_force(self) -> str:
        """The force in whose area it happened: the location's force area, else the receiving force."""
        return self.location.force_area or self.force


def catalogue_problems(contact: ContactCreate, catalogue: OffenceCatalogue | None = None) -> list[FieldProblem]:
    """What in a contact the catalogue refuses: classes a force may not record under, unknown force areas."""
    if catalogue is None:
        catalogue = OffenceCatalogue.default()
    problems: list[FieldProblem] = []
    area = contact.location.force_area
    if area is not None and not is_force(area):
        problems.append(FieldProblem(loc=("location", "force_area"), message=f"{area} is not a force crimerec knows"))
    for index, offence in enumerate(contact.offences):
        reason = catalogue.recordable(offence.ho_class)
        if reason is not None:
            problems.append(FieldProblem(loc=("offences", index, "ho_class"), message=reason))
    return problems
