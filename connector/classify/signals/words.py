"""The word lists of the risk-flag, sentiment and urgency signals.

They live together because the lexicon (``lexicon.LISTS``) looks every word of a ticket up in all
of them at once. Everything is matched on lower-cased, accent-stripped text, in the six languages
of the default model (en, de, fr, es, nl, it).
"""

from __future__ import annotations

# Word stems per flag, matched on lower-cased, accent-stripped text at word starts. Keep them
# specific: a flag sends a ticket to a person, so recall matters more than precision, but a flag
# on every ticket would be ignored.
RISK_TERMS: dict[str, tuple[str, ...]] = {
    "legal_threat": (
        r"lawyers?",
        r"attorneys?",
        r"solicitors?",
        r"legal (?:action|steps|proceedings|advice)",
        r"sue\b",
        r"suing",
        r"lawsuit",
        r"small claims",
        r"take (?:you|this) to court",
        r"court\b",
        r"trading standards",
        r"consumer (?:protection|rights|authority|ombudsman)",
        r"ombudsman",
        r"better business bureau",
        r"(?:rechts)?anwalt",
        r"anwaltlich",
        r"klage\b",
        r"verklagen",
        r"gericht",
        r"verbraucherzentrale",
        r"rechtliche schritte",
        r"avocats?",
        r"poursuites?",
        r"tribunal",
        r"porter plainte",
        r"action en justice",
        r"mise en demeure",
        r"abogados?",
        r"demandar(?:los|les)?",
        r"denuncia(?:r)?",
        r"accion(?:es)? legal(?:es)?",
        r"oficina del consumidor",
        r"consumo\b",
        r"advocaat",
        r"rechter",
        r"rechtszaak",
        r"juridische stappen",
        r"consumentenbond",
        r"geschillencommissie",
        r"avvocat[oi]",
        r"vie legali",
        r"azion[ei] legal[ei]",
        r"tribunale",
        r"querela",
    ),
    "chargeback_fraud": (
        r"charge ?backs?",
        r"dispute (?:the|this|a) (?:charge|payment|transaction)",
        r"dispute with my (?:bank|card)",
        r"reverse the (?:charge|payment)",
        r"fraud",
        r"scam",
        r"unauthori[sz]ed",
        r"(?:did not|didn't|never) authori[sz]e",
        r"stolen (?:card|credit card)",
        r"identity theft",
        r"someone (?:else )?used my card",
        r"rueckbuchung",
        r"ruckbuchung",
        r"rucklastschrift",
        r"zahlung zuruckbuchen",
        r"betrug",
        r"betruger",
        r"nicht autorisiert",
        r"retrofacturation",
        r"fraude",
        r"arnaque",
        r"escroquerie",
        r"opposition bancaire",
        r"non autoris",
        r"contracargo",
        r"estafa",
        r"no autoriz",
        r"terugboeking",
        r"oplicht",
        r"niet geautoriseerd",
        r"frode",
        r"truffa",
        r"non autorizzat",
        r"storno",
    ),
    "safety": (
        r"burn(?:ed|t|s)? (?:me|my|his|her|their|our)",
        r"burns?\b",
        r"caught fire",
        r"on fire",
        r"fire hazard",
        r"smok(?:e|ing)\b",
        r"explod",
        r"explosion",
        r"overheat",
        r"electric(?:al)? shock",
        r"electrocut",
        r"injur",
        r"bleeding",
        r"hospital",
        r"emergency room",
        r"allergic",
        r"rash\b",
        r"chok(?:e|ed|ing)",
        r"poison",
        r"toxic",
        r"swallow",
        r"sharp edge",
        r"verbrann",
        r"verbrennung",
        r"brand\b",
        r"rauch",
        r"explodiert",
        r"stromschlag",
        r"verletz",
        r"krankenhaus",
        r"allergisch",
        r"ausschlag",
        r"erstick",
        r"giftig",
        r"brule",
        r"brulure",
        r"incendie",
        r"fumee",
        r"explose",
        r"electrocut",
        r"blesse",
        r"hopital",
        r"allergique",
        r"urgences",
        r"etouff",
        r"toxique",
        r"quemadura",
        r"quemo",
        r"incendio",
        r"humo",
        r"exploto",
        r"descarga electrica",
        r"herid[oa]",
        r"alergic",
        r"urgencias",
        r"toxico",
        r"verbrand",
        r"rook\b",
        r"ontploft",
        r"stroomschok",
        r"gewond",
        r"ziekenhuis",
        r"allergische",
        r"uitslag",
        r"bruciat",
        r"ustion",
        r"fumo\b",
        r"esplos",
        r"scossa",
        r"ferit[oa]",
        r"ospedale",
        r"pronto soccorso",
        r"allergic",
        r"tossic",
    ),
    "abuse": (
        r"fuck",
        r"f\*+ck",
        r"shit",
        r"bullshit",
        r"idiots?\b",
        r"morons?",
        r"assholes?",
        r"bastards?",
        r"bitch",
        r"scum",
        r"go to hell",
        r"kill you",
        r"i know where you",
        r"retard",
        r"scheiss",
        r"arschloch",
        r"idioten",
        r"wichser",
        r"vollidiot",
        r"merde",
        r"connard",
        r"putain",
        r"abrutis?",
        r"encule",
        r"mierda",
        r"idiotas?",
        r"imbeciles?",
        r"gilipollas",
        r"cabrones?",
        r"joder",
        r"klootzak",
        r"idioot",
        r"godverdomme",
        r"kanker",
        r"kut\b",
        r"cazzo",
        r"stronz",
        r"vaffanculo",
        r"coglion",
    ),
}

# Polarity words for sentiment: one regular expression per polarity.
NEGATIVE_WORDS = (
    r"\b(?:angry|furious|livid|disappoint\w*|unacceptable|terrible|awful|horrible|worst|ridiculous"
    r"|disgust\w*|frustrat\w*|annoy\w*|upset|outrage\w*|appalling|pathetic|useless|incompetent"
    r"|rubbish|poor|bad|never again|not happy|unhappy|fed up|sick of|joke|shame\w*|waste|broken"
    r"|damaged|still (?:not|no|waiting|haven)|enttausch\w*|verargert|wutend|unverschamt"
    r"|inakzeptabel|schrecklich|katastroph\w*|frech|schlecht\w*|kaputt|decu\w*|decevant"
    r"|inadmissible|inacceptable|scandal\w*|furieux|furieuse|horrible|nul(?:le)?|honteux|enerve\w*"
    r"|decepcion\w*|inaceptable|vergonz\w*|fatal|pesim\w*|harto|harta|enfadad\w*|molest\w*|horrible"
    r"|roto|teleurgesteld|teleurstell\w*|onacceptabel|belachelijk|boos|slecht\w*|schandalig|kapot"
    r"|waardeloos|delus\w*|inaccettabile|vergogn\w*|arrabbiat\w*|pessim\w*|scandalos\w*|rott[oa]"
    r"|pessimo)\b"
)
POSITIVE_WORDS = (
    r"\b(?:love[ds]?|great|amazing|excellent|perfect|happy|wonderful|fantastic|awesome|delighted"
    r"|pleased|brilliant|superb|lovely|impressed|beautiful|best|well done|kudos|thrilled|recommend"
    r"|super|toll|klasse|wunderbar|zufrieden|begeistert|perfekt|hervorragend|schon|prima|genial"
    r"|parfait|excellent|ravi[e]?|merveilleu\w*|bravo|magnifique|satisfait\w*|genial|encanta\w*"
    r"|perfect[oa]|excelente|estupend\w*|maravill\w*|content[oa]|geweldig|fantastisch|tevreden|blij"
    r"|prachtig|fijn|ottim[oa]|perfett[oa]|fantastic[oa]|bellissim[oa]|soddisfatt[oa]|felice"
    r"|contentissim[oa])\b"
)

# Words that ask for speed or name a deadline.
URGENT_WORDS = (
    r"\b(?:urgent\w*|asap|a\.s\.a\.p|immediately|right now|right away|today|tonight|tomorrow"
    r"|emergency|as soon as possible|dringend|sofort|eilig|heute|morgen|so schnell wie moglich"
    r"|unverzuglich|immediatement|aujourd'hui|demain|au plus vite|des que possible|tout de suite"
    r"|urgente\w*|inmediatamente|hoy|manana|cuanto antes|lo antes posible|spoed\w*|meteen|vandaag"
    r"|zo snel mogelijk|onmiddellijk|subito|oggi|domani|al piu presto|immediatamente)\b"
)
