"""What the simulated call handler wrote in each contact's narrative, and whether it discloses a crime.

Seeded on its own stream, apart from the plan's: the narratives vary without changing which contacts, crimes and
breaches a seed plans. A crime's narrative tells the story of its class (a violent or harassing crime sometimes as
domestic abuse); one hidden behind an ASB or public-safety log may tell any story of the same audit category (a
violent one as modern slavery, say), since no offence in the contact names its class. Non-crime contacts get
narratives with alarming words and no offence, and a few disclose a fraud, which Action Fraud records nationally,
not the force: no crime is owed by the force for it, but a screener is right to flag it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crimerec.simulation import phrasings as words
from schemas.catalogue import OffenceCatalogue

# The offence families a screener names; "drugs" and "public_order" are found by officers, never hidden.
FAMILIES = (
    "violence",
    "sexual",
    "threats_harassment",
    "domestic_abuse",
    "theft_robbery",
    "criminal_damage",
    "modern_slavery",
    "fraud",
    "drugs",
    "public_order",
)

STORY_FAMILY = {
    "assault": "violence",
    "injury": "violence",
    "serious_injury": "violence",
    "racist_assault": "violence",
    "harassment": "threats_harassment",
    "stalking": "threats_harassment",
    "domestic_assault": "domestic_abuse",
    "coercive_control": "domestic_abuse",
    "rape": "sexual",
    "sexual_assault": "sexual",
    "robbery": "theft_robbery",
    "burglary": "theft_robbery",
    "attempted_burglary": "theft_robbery",
    "business_burglary": "theft_robbery",
    "theft": "theft_robbery",
    "theft_from_person": "theft_robbery",
    "shoplifting": "theft_robbery",
    "theft_from_vehicle": "theft_robbery",
    "vehicle_taken": "theft_robbery",
    "cycle_theft": "theft_robbery",
    "damage_home": "criminal_damage",
    "damage_building": "criminal_damage",
    "modern_slavery": "modern_slavery",
    "fraud": "fraud",
    "drugs": "drugs",
    "public_order": "public_order",
}

# The story told for each Home Office class the shipped profiles use; other classes go by their offence group.
CLASS_STORY = {
    "105A": "assault",
    "8N": "injury",
    "5D": "serious_injury",
    "8P": "racist_assault",
    "8L": "harassment",
    "8Q": "stalking",
    "19C": "rape",
    "20A": "sexual_assault",
    "34B": "robbery",
    "28E": "burglary",
    "28F": "attempted_burglary",
    "30C": "business_burglary",
    "49": "theft",
    "39": "theft_from_person",
    "46": "shoplifting",
    "45": "theft_from_vehicle",
    "48": "vehicle_taken",
    "44": "cycle_theft",
    "58A": "damage_home",
    "58B": "damage_building",
    "92A": "drugs",
    "66": "public_order",
}
GROUP_STORY = {
    "Violence against the person": "assault",
    "Robbery": "robbery",
    "Theft offences": "theft",
    "Criminal damage and arson": "damage_building",
    "Drug offences": "drugs",
    "Public order offences": "public_order",
}
# A violent or harassing crime by a partner or family member is domestic abuse: the same class, another story.
DOMESTIC_STORY = {
    "assault": "domestic_assault",
    "injury": "domestic_assault",
    "serious_injury": "domestic_assault",
    "harassment": "coercive_control",
    "stalking": "coercive_control",
}

# How often a violent or harassing crime is told as domestic abuse, a hidden violent one as modern slavery, a
# non-crime public-safety contact discloses a fraud, and a narrative cites its log number.
DOMESTIC_SHARE = 0.3
SLAVERY_SHARE = 0.15
FRAUD_SHARE = 0.06
LOG_REFERENCE_SHARE = 0.25


@dataclass(frozen=True)
class Narrative:
    """A contact's narrative and the truth about it: whether it discloses a crime, and the offence family."""

    text: str
    discloses_crime: bool
    family: str | None


class NarrativeWriter:
    """Writes contacts' narratives, several phrasings per offence, from its own seeded stream."""

    def __init__(self, seed: int, catalogue: OffenceCatalogue) -> None:
        self.rng = random.Random(f"narratives/{seed}")
        self.catalogue = catalogue

    def crime(self, code: str, *, victims: int, reporter: str, place: str, hidden: bool = False) -> Narrative:
        """The narrative of a crime of class `code`, told by the victim, a third party or the police; `hidden`
        when the call handler logged it as something else."""
        story = self._story(code, hidden=hidden)
        voice = "police" if reporter == "police" else "third_party" if reporter == "third_party" else "victim"
        phrasings = words.STORIES.get(story, {}).get(voice) or words.GENERIC[voice]
        offence = self.catalogue.get(code)
        text = self._fill(self.rng.choice(phrasings), place=place, offence=offence.name.lower() if offence else code)
        if victims > 1 and voice in words.SECOND_VICTIM:
            text += " " + self.rng.choice(words.SECOND_VICTIM[voice])
        return Narrative(self._cite(text, self.rng.randint(1000, 9999)), True, STORY_FAMILY.get(story))

    def non_crime(self, category: str, *, log_number: int) -> Narrative:
        """The narrative of a contact that reports no crime the force records: alarming words and no offence, or
        now and then a fraud (Action Fraud's to record)."""
        if category == "public_safety" and self.rng.random() < FRAUD_SHARE:
            text = self._fill(self.rng.choice(words.STORIES["fraud"]["victim"]))
            return Narrative(self._cite(text, log_number), True, "fraud")
        phrasings = words.DISTRACTORS.get(category) or (words.GENERIC_DISTRACTOR,)
        return Narrative(self._cite(self._fill(self.rng.choice(phrasings), category=category), log_number), False, None)

    def _story(self, code: str, *, hidden: bool) -> str:
        offence = self.catalogue.get(code)
        story = CLASS_STORY.get(code)
        if story is None and offence is not None:
            sexual = "rape" if offence.audit_category.value == "rape" else "sexual_assault"
            story = sexual if offence.group == "Sexual offences" else GROUP_STORY.get(offence.group)
        if story in DOMESTIC_STORY and self.rng.random() < DOMESTIC_SHARE:
            story = DOMESTIC_STORY[story]
        elif hidden and offence is not None and offence.audit_category.value == "violence":
            # Modern slavery is violence against the person: the audit category the truth owes stays the same.
            story = "modern_slavery" if self.rng.random() < SLAVERY_SHARE else story
        return story or ""

    def _fill(self, phrasing: str, *, place: str | None = None, offence: str = "", category: str = "") -> str:
        return phrasing.format(
            place=place or self.rng.choice(words.PLACES),
            when=self.rng.choice(words.WHEN),
            victim=self.rng.choice(words.VICTIMS),
            offence=offence,
            category=category,
        ).replace("  ", " ")

    def _cite(self, text: str, number: int) -> str:
        if self.rng.random() < LOG_REFERENCE_SHARE:
            text += self.rng.choice(words.LOG_REFERENCES).format(n=number)
        return text
