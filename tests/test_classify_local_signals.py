"""Non-ML signals: entities, risk flags, language, sentiment, urgency, and latest-message
cleaning."""

from __future__ import annotations

import pytest

from connector.classify.signals import (
    detect_language,
    extract_entities,
    read_signals,
    risk_flags,
    sentiment,
    urgency,
)
from connector.classify.text import latest_message, strip_accents


# --- order numbers --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("Where is my order #1001?", ("#1001",)),
        ("Order 1001 hasn't arrived", ("#1001",)),
        ("my order number is 55120, thanks", ("#55120",)),
        ("Order no. 20188 placed on 2 June", ("#20188",)),
        ("order #1001 and order #1002 both late", ("#1001", "#1002")),
        ("Bestellung Nr. 4521 ist nicht da", ("#4521",)),
        ("Commande n° 7781, merci", ("#7781",)),
        ("pedido 9981 no ha llegado", ("#9981",)),
        ("bestelling 61902 annuleren", ("#61902",)),
        ("ordine 70813 fatto ieri", ("#70813",)),
        ("Re: Your order #SH-4410", ("SH-4410",)),
    ],
)
def test_order_numbers(text, expected):
    assert extract_entities(text).order_numbers == expected


@pytest.mark.parametrize(
    "text",
    [
        "I placed my first order in 2023 and loved it",  # a year, not an order
        "Call me on +44 7700 900123",  # a phone number
        "The order of $49.90 was charged twice",  # an amount
        "I ordered 3 candles",  # a quantity
    ],
)
def test_things_that_are_not_order_numbers(text):
    assert extract_entities(text).order_numbers == ()


# --- emails, tracking numbers, amounts ---------------------------------------------------------
def test_emails_are_found_and_lower_cased():
    entities = extract_entities(
        "Reach me at Jane.Doe+shop@Example.co.uk or jd@example.com, not jd@example"
    )
    assert entities.emails == ("jane.doe+shop@example.co.uk", "jd@example.com")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("UPS says 1Z999AA10123456784 was delivered", "1Z999AA10123456784"),
        ("Sendungsnummer JJD000390007802385 bewegt sich nicht", "JJD000390007802385"),
        ("tracking RR123456789FR stuck", "RR123456789FR"),
        ("USPS 9400111899223197428490 shows nothing", "9400111899223197428490"),
        ("PostNL 3SABCD1234567 is niet bezorgd", "3SABCD1234567"),
        ("my tracking number is 4829103391 (DHL)", "4829103391"),
    ],
)
def test_tracking_numbers(text, expected):
    entities = extract_entities(text)
    assert entities.tracking_numbers == (expected,)
    assert all(expected not in o for o in entities.order_numbers)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I paid $49.90 twice", ("$49.90",)),
        ("Sie haben 20 € erstattet, bezahlt habe ich 35,90 €.", ("20 €", "35,90 €")),
        ("charged €64.90 and then £12", ("€64.90", "£12")),
        ("a refund of 30 euros or 15 EUR", ("30 euros", "15 EUR")),
        ("USD 1,500.00 is the total", ("USD 1,500.00",)),
    ],
)
def test_amounts_as_written(text, expected):
    assert extract_entities(text).amounts == expected


def test_entities_in_a_quoted_thread_add_order_numbers_but_not_the_stores_email():
    body = (
        "Still nothing here.\n\nOn Mon, 3 Jun 2024 at 10:12, Shop <help@shop.example> wrote:\n"
        "> Your order #4411 has shipped"
    )
    signals = read_signals("Parcel", body)
    assert signals.entities.order_numbers == ("#4411",)
    assert signals.entities.emails == ()


# --- risk flags ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, flag",
    [
        ("If this isn't sorted I'm calling my lawyer.", "legal_threat"),
        ("I will take legal action and report you to trading standards", "legal_threat"),
        ("Mein Anwalt wird sich bei Ihnen melden.", "legal_threat"),
        ("Je vais porter plainte.", "legal_threat"),
        ("I'm going to file a chargeback with my bank", "chargeback_fraud"),
        ("This is fraud, I never authorised this payment", "chargeback_fraud"),
        ("Das ist Betrug!", "chargeback_fraud"),
        ("Voy a pedir un contracargo", "chargeback_fraud"),
        ("The charger caught fire and burned my hand", "safety"),
        ("My son had an allergic reaction and ended up in hospital", "safety"),
        ("De lader is ontploft", "safety"),
        ("you are all fucking idiots", "abuse"),
        ("Ihr seid Vollidioten", "abuse"),
    ],
)
def test_risk_flags(text, flag):
    assert flag in risk_flags(text)


@pytest.mark.parametrize(
    "text",
    [
        "Where is my order? It was due on Monday.",
        "Can I change the size to a medium please?",
        "I'd like to return the fire-engine red dress",  # "fire" inside a colour name is no hazard
        "The smoke detector I ordered hasn't arrived",  # names a product, no incident
    ],
)
def test_ordinary_tickets_raise_no_risk_flag(text):
    flags = risk_flags(text)
    assert "legal_threat" not in flags and "chargeback_fraud" not in flags and "abuse" not in flags
    if "smoke detector" not in text:
        assert flags == ()


# --- language, sentiment, urgency -----------------------------------------------------------
@pytest.mark.parametrize(
    "text, lang",
    [
        ("Where is my order? I ordered it last week and it still has not arrived.", "en"),
        ("Hallo, wo bleibt meine Bestellung? Ich habe sie vor einer Woche bestellt.", "de"),
        ("Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous vérifier ?", "fr"),
        ("Hola, todavía no he recibido mi pedido, ¿me pueden ayudar?", "es"),
        ("Hallo, ik heb mijn bestelling nog niet ontvangen, kunnen jullie kijken?", "nl"),
        ("Buongiorno, non ho ancora ricevuto il mio ordine, potete controllare?", "it"),
        ("Olá, ainda não recebi o meu pedido, podem verificar?", "pt"),
        ("Dzień dobry, nie otrzymałam jeszcze zwrotu pieniędzy, proszę to sprawdzić.", "pl"),
        ("Hej, jag vill avbeställa min order, tack!", "sv"),
        ("Здравствуйте, где мой заказ?", "ru"),
        ("注文した商品がまだ届きません。", "ja"),
    ],
)
def test_language(text, lang):
    assert detect_language(text) == lang


def test_language_defaults_to_english_without_evidence():
    assert detect_language("") == "en"
    assert detect_language("12345 !!!") == "en"


@pytest.mark.parametrize(
    "text, label",
    [
        ("This is unacceptable, I'm furious and very disappointed.", "negative"),
        ("I am not happy with this at all.", "negative"),
        ("Ich bin sehr enttäuscht.", "negative"),
        ("Love it, the quality is amazing, thank you!", "positive"),
        ("Super schnelle Lieferung, ich bin begeistert!", "positive"),
        ("Can I change my delivery address?", "neutral"),
    ],
)
def test_sentiment(text, label):
    got, score = sentiment(text)
    assert got == label
    assert -1.0 <= score <= 1.0


def test_urgency_levels():
    assert urgency("my lawyer will call", flags=("legal_threat",)) == "urgent"
    assert urgency("I need it today, this is ridiculous", sentiment_score=-0.5) == "urgent"
    assert urgency("please cancel asap") == "high"
    assert urgency("please cancel", category="cancel_order") == "high"
    assert urgency("is the jacket waterproof?", category="product_question") == "low"
    assert urgency("where is my order?", category="order_status") == "normal"


# --- latest message ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, kept, dropped",
    [
        (
            "Still no parcel.\n\nOn Mon, 3 Jun 2024, Shop <a@b.com> wrote:\n> We refund you",
            "Still no parcel.",
            "refund",
        ),
        (
            "Wo bleibt es?\n\nAm 3. Juni 2024 schrieb Shop <a@b.de>:\n> Erstattung",
            "Wo bleibt es?",
            "Erstattung",
        ),
        (
            "Toujours rien.\n\nLe 3 juin 2024, Boutique <a@b.fr> a écrit :\n> remboursement",
            "Toujours rien.",
            "rembours",
        ),
        (
            "Nada aún.\n\nEl 3 jun 2024, Tienda <a@b.es> escribió:\n> reembolso",
            "Nada aún.",
            "reembolso",
        ),
        (
            "Nog niks.\n\nOp 3 jun 2024 schreef Winkel <a@b.nl>:\n> terugbetaling",
            "Nog niks.",
            "terugbetaling",
        ),
        (
            "Ancora niente.\n\nIl giorno 3 giu 2024 Negozio <a@b.it> ha scritto:\n> rimborso",
            "Ancora niente.",
            "rimborso",
        ),
        (
            "See below.\n\n-----Original Message-----\nFrom: Support\nrefund issued",
            "See below.",
            "refund",
        ),
        ("Where is it?\n\nSent from my iPhone", "Where is it?", "iPhone"),
        (
            "Where is it? It's late.\n\nKind regards,\nJane Doe\n+44 7700 900123",
            "It's late.",
            "7700",
        ),
    ],
)
def test_latest_message_drops_quotes_and_signatures(body, kept, dropped):
    latest = latest_message(body)
    assert kept in latest
    assert dropped not in latest


def test_a_short_thanks_is_kept():
    assert latest_message("Thanks!") == "Thanks!"


def test_strip_accents():
    assert (
        strip_accents("Rückerstattung, remboursé, reçu, número")
        == "Ruckerstattung, rembourse, recu, numero"
    )
    assert strip_accents("plain ascii") == "plain ascii"


# --- the fast paths give exactly what the plain regular expressions give -------------------------
def _corpus_texts() -> list[str]:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [
        *sorted((root / "connector" / "classify" / "trainingdata").glob("*.jsonl")),
        root / "tests" / "data" / "eval_tickets.jsonl",
        root / "tests" / "data" / "store_history.jsonl",
    ]
    texts = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(f"{row.get('subject', '')}\n{row['body']}")
    tricky = [
        "I will take you to court, my lawyer says; this is fraud, a chargeback, charge back, "
        "charge-backs.",
        "You f***ck idiots, go to hell. I know where you live. Didn't authorise it, never "
        "authorized.",
        "It burned my hand, caught fire, electrical shock, electric shock. Not happy, never again, "
        "fed up.",
        "Well done! Not great. Nicht zufrieden, super. ASAP a.s.a.p as soon as possible "
        "aujourd'hui right now",
        "order #1001, Order 2023, from 2023, #SH-4410, $49.90, US$ 12, 35,90 €, 30 euros, neur 5, "
        "CHF 20",
        "1Z999AA10123456784 RR123456789FR 3SABCD1234567 tracking number is 4829103391 track & "
        "trace 3SABC1234567",
        "Bestellnummer: 4521, n° 7781, cde 1234, pedido: 9981, İstanbul order 1234, ÀÉÎ 5 EUR, "
        "factuur 88812",
    ]
    return texts + tricky


def test_word_lists_match_exactly_what_their_full_patterns_match():
    from connector.classify.signals.lexicon import _plain, prepare
    from connector.classify.signals.risk import _RISK_RES
    from connector.classify.signals.sentiment import _NEGATIVE, _POSITIVE
    from connector.classify.signals.urgency import _URGENT

    for text in _corpus_texts():
        plain = _plain(text)
        prepared = prepare(text, plain)
        for flag, pattern in _RISK_RES.items():
            assert prepared.search(flag) == bool(pattern.search(plain)), (flag, text)
        assert prepared.count("abuse") == len(_RISK_RES["abuse"].findall(plain)), text
        assert prepared.count("negative") == len(_NEGATIVE.findall(plain)), text
        assert [m.span() for m in prepared.finditer("positive")] == [
            m.span() for m in _POSITIVE.finditer(plain)
        ], text
        assert prepared.search("urgent") == bool(_URGENT.search(plain)), text


def test_entity_scans_find_exactly_what_finditer_finds():
    from connector.classify.signals import entities
    from connector.classify.signals.patterns import scan

    cases = [
        (entities._ORDER_AFTER_WORD, entities._ORDER_LEADS, False),
        (entities._TRACKING_AFTER_WORD, entities._TRACKING_LEADS, False),
        (entities._AMOUNT, entities._AMOUNT_LEADS, True),
        (entities._HASH_NUMBER, ("#",), False),
    ]
    for text in _corpus_texts():
        lowered = text.lower()
        for pattern, leads, digit_runs in cases:
            fast = scan(
                pattern,
                text,
                lowered if len(lowered) == len(text) else None,
                leads,
                digit_runs=digit_runs,
            )
            assert [m.span() for m in fast] == [m.span() for m in pattern.finditer(text)], (
                pattern.pattern,
                text,
            )
