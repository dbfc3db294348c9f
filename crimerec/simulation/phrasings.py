"""The words simulated callers and call handlers use: several phrasings per offence, and non-crime narratives that
sound alarming but disclose no offence.

Data only (which class tells which story is decided in `narratives`). Each story has phrasings in the victim's
voice (first person, the call handler's shorthand about the caller, misspelt, or a partial disclosure that starts
as something else) and in a third party's. Slots: `{place}` (where, e.g. "in a park"), `{when}` ("last night"),
`{victim}` (who, to a third party: "my neighbour"). Third parties speak of the victim as "they".
"""

from __future__ import annotations

STORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "assault": {
        "victim": (
            "I was pushed over and kicked {place} {when}. No real injuries but I'm shaken up.",
            "IP states unknown male grabbed her by the arm and shoved her into a wall {place}. No visible injury.",
            "some bloke spat at me and shoved me {place}, didnt hurt me but its not right",
            "Caller reporting youths being rowdy {place}; when asked, said one of them slapped her across the face "
            "for telling them to move.",
            "A man I don't know threw a drink over me and then punched my shoulder {place} {when}.",
        ),
        "third_party": (
            "I saw a man get shoved to the ground and kicked {place} {when}. He got up and walked off.",
            "RP reports {victim} was pushed and slapped {place}; they are not injured but upset.",
            "{victim} got hit by some lad {place}, just a slap they said, but they want it reported",
        ),
    },
    "injury": {
        "victim": (
            "I was punched in the face {place} {when}. My nose is bleeding and I think it's broken.",
            "IP punched x2 to face by unk male {place}. Cut above L eye, attending A&E. OFF NFD, l/s on foot.",
            "got headbutted {place} by some lad i dont know, lip split open and tooth loose",
            "Caller mainly wanted to complain about drunks {place}; said one of them hit him and he has a cut lip, "
            "but he 'doesn't want a fuss'.",
            "Bouncer dragged me out and threw me down the steps {place}; my wrist is swollen and I can't move it.",
        ),
        "third_party": (
            "{victim} came home with a black eye and says a group of lads beat them up {place}.",
            "RP witnessed a man being punched repeatedly {place}; the man was bleeding from the head.",
            "my neighbour's lad got battered {place} {when}, hes got stitches in his head",
        ),
    },
    "serious_injury": {
        "victim": (
            "I've been stabbed in the arm {place}. The ambulance crew are with me now.",
            "IP slashed across the face with a blade {place} {when}. Serious injury, conveyed to hospital.",
            "they stamped on my head {place} til i was knocked out, woke up in hospital",
            "Caller calling from hospital about a noise complaint; then said the men from the noisy house attacked "
            "him with a bat {when} and broke his jaw.",
        ),
        "third_party": (
            "{victim} was kicked unconscious {place} {when}; they're in hospital with a fractured skull.",
            "RP reports a man was stabbed {place}; lots of blood, the attacker ran off.",
        ),
    },
    "racist_assault": {
        "victim": (
            "I was punched {place} by a man shouting racist abuse at me. I've got a cut on my cheek.",
            "IP assaulted {place} {when}; OFF used racial slurs throughout, told IP to 'go home'. Bruising to face.",
            "man called me a p*ki and hit me with a bottle {place}, head is bleeding",
        ),
        "third_party": (
            "{victim} was beaten up {place} by two men yelling racist names at them; they have cuts to the face.",
            "RP saw a woman in a headscarf punched {place} by a man shouting abuse about her religion.",
        ),
    },
    "harassment": {
        "victim": (
            "A man from my old work keeps turning up at my house and messaging me after I told him to stop.",
            "IP receiving repeated abusive messages from ex-colleague, 30+ in a week, told to stop, continuing.",
            "my neighbour shouts abuse at me every time i go out, calling me names, its every day now",
            "Called about the neighbour's music, then said the same neighbour leaves notes on her car calling her "
            "names and has said he'll 'sort her out' if she complains again.",
            "I keep getting texts from a number I don't know saying they know where I live and I'll get what's "
            "coming to me.",
        ),
        "third_party": (
            "My elderly dad's neighbour bangs on his door and shouts threats at him; it's been going on for weeks.",
            "RP reports {victim} is being sent threatening messages daily by a former friend and is too scared to "
            "go out.",
        ),
    },
    "stalking": {
        "victim": (
            "My ex keeps following me to work and waiting outside my flat. He turned up at my gym yesterday even "
            "though I've blocked him everywhere.",
            "IP states ex-partner following her daily, parks outside home address, contacted her new employer. "
            "IP scared to go out.",
            "ive seen the same man outside my house every night this week, he followed me home from the bus stop",
            "Caller rang about a car parked on her street for days; it belongs to a man she went on one date with, "
            "who also sends her photos of her own front door.",
        ),
        "third_party": (
            "A man has been following {victim} home from work for a month and sits outside their house at night.",
            "RP (friend) says {victim}'s ex turns up wherever they go and has put a tracker on their car.",
        ),
    },
    "domestic_assault": {
        "victim": (
            "My boyfriend hit me again {when}. I've got a cut on my lip and the kids saw it.",
            "IP states ex-partner grabbed her by the throat at home address and pushed her to the floor. Marks "
            "to neck.",
            "my husband punched me when he come in drunk {when}, hes asleep now, i dont want him to know i rang",
            "Caller asked for advice about changing the locks; says her partner 'gets handy' when he's had a drink "
            "and she has bruises she covers up.",
            "Caller first said the shouting was from next door, then that it was her partner, who threw a mug at "
            "her and cut her head.",
        ),
        "third_party": (
            "My sister's husband beats her. She rang me crying this morning with a black eye.",
            "RP (mother) reports daughter's partner assaulted daughter at their address {when}; bruising to arms.",
            "i can hear my neighbour's fella hitting her through the wall, she was screaming for him to stop",
        ),
    },
    "coercive_control": {
        "victim": (
            "My partner checks my phone, takes my wages and won't let me see my family. He says he'll take the "
            "kids if I leave.",
            "IP states husband controls all finances, tracks her location, stops her leaving the house alone. "
            "Ongoing 2 yrs.",
            "he goes thru my phone every nite, wont let me have money or see my mates, i cant go anywhere without him",
            "Caller asked whether it is normal for a partner to keep her bank card and passwords; says she is not "
            "allowed out without him and is 'walking on eggshells'.",
        ),
        "third_party": (
            "My friend's boyfriend won't let her have her own money or phone, and she's stopped seeing anyone. "
            "She's terrified of him.",
            "RP (colleague) concerned: {victim}'s husband drops them at work, collects them, takes their wages, and "
            "they say he would 'kill them' if they left.",
        ),
    },
    "rape": {
        "victim": (
            "I was raped {when} by a man I met {place}. I haven't told anyone else.",
            "IP discloses she was raped by an acquaintance at his flat {when}; she did not consent and told him "
            "to stop.",
            "he forced himself on me {when} even tho i said no and tried to push him off",
            "Caller said she 'woke up and he was on top of her' after a night out {when}; she does not want "
            "police to come round yet.",
        ),
        "third_party": ("RP reports {victim} told them they were raped {when} by a man they met {place}.",),
    },
    "sexual_assault": {
        "victim": (
            "A man groped me {place} {when}.",
            "IP states unknown male touched her sexually over clothing {place} without consent. OFF l/s on foot.",
            "some man grabbed my bum and tried to put his hand up my skirt {place}",
            "Caller reporting a man being a nuisance {place}; when asked what he did, said he had touched her "
            "between the legs.",
        ),
        "third_party": (
            "{victim} told me a man touched them sexually {place} {when} without their consent.",
            "RP (teacher) reports a pupil says an adult male rubbed himself against her {place}.",
        ),
    },
    "robbery": {
        "victim": (
            "Two men threatened me with a knife {place} and took my phone and wallet.",
            "IP robbed of mobile {place}; OFF punched IP and snatched it, made off on foot. Minor injury.",
            "got jumped {place}, they took my chain and my phone, one had a blade",
            "Caller reporting youths causing trouble {place}; one of them pinned him against a wall and made him "
            "hand over his headphones.",
        ),
        "third_party": (
            "{victim} was held at knifepoint {place} {when} and made to hand over their bank card.",
            "RP saw a woman knocked over {place} and her handbag ripped from her; the men ran off.",
        ),
    },
    "burglary": {
        "victim": (
            "Someone broke into my house {when} while we were out. The back door was forced and the TV and laptop "
            "are gone.",
            "IP home address entered via rear window, untidy search, jewellery and cash taken.",
            "some1 broke in2 my house wile we was at work, telly and laptop gone, back door smashed",
        ),
        "third_party": (
            "My neighbour's house has been broken into. The front door is smashed and they say their jewellery is "
            "gone.",
        ),
    },
    "attempted_burglary": {
        "victim": (
            "Someone tried to break in {when}; there are pry marks round the back door lock but they didn't get in.",
            "Attempted entry at IP home address, rear door lock damaged, no entry gained, nothing taken.",
        ),
        "third_party": ("I saw two men trying to force {victim}'s back door {when}; they ran when I shouted.",),
    },
    "business_burglary": {
        "victim": (
            "Our shop was broken into overnight. The shutter was forced and the till and stock were taken.",
            "Business premises entered via roof overnight, power tools stolen.",
        ),
        "third_party": ("The church hall down the road has been broken into, window smashed and equipment taken.",),
    },
    "theft": {
        "victim": (
            "Someone took my handbag from the back of my chair {place}.",
            "IP's parcel stolen from doorstep; doorbell footage shows a male picking it up and walking off.",
            "my phone got nicked {place} {when}, i put it down for a second and it was gone",
        ),
        "third_party": ("{victim} had their phone stolen {place} {when}.",),
    },
    "theft_from_person": {
        "victim": (
            "My wallet was taken from my pocket {place}. I felt someone bump into me.",
            "IP pickpocketed {place}, purse taken from open bag.",
        ),
        "third_party": ("Someone lifted {victim}'s purse out of their bag {place}.",),
    },
    "shoplifting": {
        "victim": (
            "I'm the store manager; a man filled a bag with meat and walked out without paying.",
            "Store detective reports female took cosmetics worth £120 and left without paying; on CCTV.",
        ),
        "third_party": ("I saw a lad stuff bottles of spirits up his jumper in the corner shop and walk out.",),
    },
    "theft_from_vehicle": {
        "victim": (
            "My van was broken into overnight and my tools were taken.",
            "Veh window smashed {place}, satnav and bag taken from IP's car.",
        ),
        "third_party": ("Someone smashed {victim}'s car window {place} and took the bag off the seat.",),
    },
    "vehicle_taken": {
        "victim": (
            "My car has been stolen from outside my house. The keys were on the hook indoors.",
            "IP's vehicle taken from driveway overnight; both keys still with IP.",
        ),
        "third_party": ("{victim}'s car was driven away from outside their house {when} by someone they don't know.",),
    },
    "cycle_theft": {
        "victim": (
            "My bike was stolen {place}; the lock was cut.",
            "bike nicked from outside the shop, lock cut clean thru",
        ),
        "third_party": ("Someone cut the lock on {victim}'s bike {place} and rode off on it.",),
    },
    "damage_home": {
        "victim": (
            "Someone smashed my front window {when} and scratched the word 'grass' on my door.",
            "Windows at IP home address smashed with a brick, glass throughout lounge.",
            "kids keep putting my windows thru, 2nd time this week",
            "Caller complaining about youths hanging around; says they kicked her fence panels in {when}.",
        ),
        "third_party": ("Someone poured paint over {victim}'s car and smashed their front window {when}.",),
    },
    "damage_building": {
        "victim": (
            "The community centre's doors have been sprayed with graffiti and a window smashed.",
            "Business premises: shutters and glass frontage damaged overnight, CCTV available.",
        ),
        "third_party": ("I saw a group kicking in the bus shelter glass and the library door {when}.",),
    },
    "modern_slavery": {
        "victim": (
            "I work at a car wash. The boss keeps my passport, pays me nothing and I sleep in the back room. I am "
            "not allowed to leave.",
            "im working on a farm they took my passport and say i owe them 3000 pound, they lock the caravan at night",
            "IP states employer holds ID docs, no wages for 4 months, threatens family back home if IP leaves. "
            "Lives on site.",
            "Caller nervous, asked what happens if someone's boss keeps their passport; said it was 'for a friend', "
            "then that he himself cannot leave the nail bar he works at and is never paid.",
        ),
        "third_party": (
            "About ten men are dropped at the house on the corner at 5am and collected at night; one told me they "
            "owe the driver for bringing them here and cannot leave.",
        ),
    },
    "fraud": {
        "victim": (
            "I had a call from 'my bank' and moved £2,400 to a 'safe account'. The bank now says it wasn't them.",
            "someone used my card details online, 6 payments i never made, bank has frozen it",
            "Caller paid an £800 deposit for a puppy advertised online; the seller stopped answering and the "
            "advert has gone.",
            "Elderly caller says a man at the door took £1,500 up front for roof work that was never done and now "
            "won't answer his phone.",
        ),
        "third_party": (),
    },
    "drugs": {
        "police": (
            "Officer on patrol saw a male handing wraps to several people {place}; stopped and searched, 14 wraps "
            "of suspected crack cocaine and cash found. Arrested for PWITS.",
            "PC stop search {place}: suspect in possession of 20 bags of cannabis and scales, admitted selling. "
            "Points to prove made out.",
            "Officers observed hand-to-hand exchanges {place} {when}; suspect found with deal bags and a burner "
            "phone. Arrested for supply.",
        ),
    },
    "public_order": {
        "police": (
            "Officers found a man {place} shouting and swearing at passers-by and offering to fight them; refused "
            "to stop when warned. Arrested.",
            "Patrol {place}: male waving a bottle, threatening people in the queue, causing alarm and distress. "
            "Points to prove made out.",
        ),
    },
}

# A crime of a class without a story of its own, told plainly; `{offence}` is the class name.
GENERIC = {
    "victim": (
        "Caller reports {offence} {place} {when}.",
        "IP reports {offence} {place}; OFF left before police arrived.",
    ),
    "third_party": ("A third party reports {offence} against {victim} {place}.",),
    "police": ("Officer on patrol found {offence} {place}; suspect detained, points to prove made out.",),
}

# When a second victim was there too, in the voice of the story told.
SECOND_VICTIM = {
    "victim": (
        "The same happened to the friend I was with.",
        "2nd IP (caller's friend) also targeted by same OFF, same incident.",
        "my mate got it as well",
    ),
    "third_party": (
        "Their friend was with them and the same happened to them.",
        "RP says two people were targeted, not just the one.",
    ),
}

# Non-crime contacts by NSIR category: alarming words, no offence disclosed.
DISTRACTORS = {
    "asb": (
        "Youths gathering {place} killing time and playing loud music late at night; no one harmed and nothing "
        "damaged.",
        "Neighbour's dog barks all night; caller says it 'attacked the post' again this morning, shredded the "
        "letters. Nobody bitten, dog stays behind the door.",
        "Group of teenagers shot a video for social media {place}, lots of screaming and running about; they've "
        "gone and nobody was hurt.",
        "Loud party next door, music thumping until 3am; caller says it's 'murder' trying to sleep with a newborn.",
        "kids playing football against my wall every nite, bangin and shouting, no damage but its doing my head in",
        "Fireworks let off {place} {when}, sounded like gunshots; nobody hurt, nothing damaged.",
        "Neighbours arguing loudly in the street; officers attended, she said nothing happened, no injuries, both "
        "calm, no offences disclosed.",
        "Screaming from next door {when} turned out to be a horror film turned up loud; patrol checked, all fine.",
        "Motorbikes racing up and down the field behind the houses; noise nuisance only, nobody hurt.",
        "Caller says the drilling next door is 'killing' her; building work at weekends, no damage to her house.",
        "Caller feels 'robbed' by a private parking charge at the retail park and wants to complain about the firm.",
    ),
    "public_safety": (
        "Concern for the welfare of an elderly neighbour not seen for two days.",
        "Caller's father has a stabbing pain in his chest and is confused; ambulance requested, nobody else involved.",
        "Caller found a wallet {place} and wants to hand it in; nothing suggests it was stolen.",
        "Lost my phone, think I left it on the bus {when}. Not stolen, just want a reference for the insurance.",
        "Caller worried about her son, 17, who said he 'wants to kill himself' after his exams; he is at home with "
        "her now and not injured.",
        "Woman sitting {place} crying, knee bleeding after a fall; she says nobody pushed her, she tripped on the "
        "kerb.",
        "Man {place} holding what looked like a gun: a prop, they were filming a music video. Officers checked, "
        "nobody threatened.",
        "Caller's daughter didn't come home from a party; she later rang from a friend's house, safe, and said "
        "nothing happened.",
        "Carer concerned an elderly client isn't eating and the house is cold; no suggestion anyone is harming her.",
        "Caller reported her car 'stolen', then found it in the next street where she had parked it.",
        "Smell of gas and a loud bang from a flat; fire service attended, faulty boiler, nobody hurt.",
        "my nan has gone missing from the care home she has dementia pls help",
        "Caller lost his bank card {when}; the bank says there have been no payments since. Advised it is lost "
        "property.",
    ),
    "transport": (
        "Broken-down vehicle blocking a lane; no collision.",
        "Minor collision {place}, nobody was hurt, details exchanged.",
        "Car hit a deer on the bypass; driver shaken but unhurt, deer dead in the road.",
        "Lorry shed its load of gravel on the roundabout; no one injured.",
        "Traffic lights out at the junction {when}; near misses but no collisions.",
    ),
}
GENERIC_DISTRACTOR = "Contact about {category}; no offence reported."

PLACES = ("outside a bar on the high street", "at home", "in a supermarket car park", "on a bus",
          "at the railway station", "in a park", "outside a school", "at a takeaway")  # fmt: skip
WHEN = ("last night", "earlier this evening", "about an hour ago", "this afternoon", "just now", "yesterday")
VICTIMS = ("my neighbour", "my sister", "a woman in the flat upstairs", "an elderly man on my street", "my friend",
           "a lad from the estate", "my mum", "a colleague")  # fmt: skip
# How a call handler cites the log, on some narratives of every kind.
LOG_REFERENCES = (" Ref {n}.", " (see log {n})", " CAD {n}.", " Linked to incident {n}.")
