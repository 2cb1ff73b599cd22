"""Turn short training utterances into ticket-shaped text.

The shared datasets are one-line chatbot queries; real tickets arrive as emails with a subject,
a greeting, pleasantries, a signature, a phone number, a quoted earlier reply and typos. Wrapping
training examples in that noise teaches the model that none of it decides the category. The
noise below is category-neutral on purpose: it must never carry a label's signal.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

GREETINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "Hi,",
        "Hello,",
        "Hi there,",
        "Dear Sir or Madam,",
        "Hello team,",
        "Hey,",
        "Good morning,",
        "Dear {store} team,",
        "Hi {agent},",
        "Hello {store},",
        "Good afternoon,",
        "To whom it may concern,",
    ),
    "de": (
        "Hallo,",
        "Guten Tag,",
        "Sehr geehrte Damen und Herren,",
        "Hallo zusammen,",
        "Liebes {store}-Team,",
        "Hallo {agent},",
        "Moin,",
        "Guten Morgen,",
    ),
    "fr": (
        "Bonjour,",
        "Bonjour madame, monsieur,",
        "Madame, Monsieur,",
        "Salut,",
        "Bonjour l'équipe {store},",
        "Bonsoir,",
        "Bonjour {agent},",
    ),
    "es": (
        "Hola,",
        "Buenos días,",
        "Estimados señores:",
        "Hola equipo,",
        "Buenas tardes,",
        "Hola {agent},",
        "Hola {store},",
    ),
    "nl": (
        "Hallo,",
        "Beste,",
        "Goedemiddag,",
        "Geachte heer/mevrouw,",
        "Hoi,",
        "Beste {store},",
        "Goedemorgen,",
    ),
    "it": (
        "Ciao,",
        "Buongiorno,",
        "Gentili signori,",
        "Salve,",
        "Buonasera,",
        "Gentile {store},",
        "Ciao {agent},",
    ),
}
FILLERS: dict[str, tuple[str, ...]] = {
    "en": (
        "I hope you are well.",
        "Sorry to bother you.",
        "Thanks in advance for your help.",
        "I have been a customer for a while.",
        "Hope you can help.",
        "Looking forward to hearing from you.",
        "Please get back to me when you can.",
        "I tried to call but nobody answered.",
        "I already sent an email last week.",
        "Thank you for your time.",
    ),
    "de": (
        "Ich hoffe, es geht Ihnen gut.",
        "Vielen Dank im Voraus.",
        "Ich freue mich auf Ihre Antwort.",
        "Bitte melden Sie sich bei mir.",
        "Ich habe schon letzte Woche geschrieben.",
        "Danke für Ihre Hilfe.",
    ),
    "fr": (
        "J'espère que vous allez bien.",
        "Merci d'avance pour votre aide.",
        "Dans l'attente de votre réponse.",
        "J'ai déjà envoyé un mail la semaine dernière.",
        "Merci de me répondre rapidement.",
    ),
    "es": (
        "Espero que estén bien.",
        "Gracias de antemano.",
        "Quedo a la espera de su respuesta.",
        "Ya les escribí la semana pasada.",
        "Muchas gracias por su ayuda.",
    ),
    "nl": (
        "Ik hoop dat het goed met jullie gaat.",
        "Alvast bedankt voor de hulp.",
        "Ik hoor graag van jullie.",
        "Ik heb vorige week ook al gemaild.",
        "Bedankt voor jullie tijd.",
    ),
    "it": (
        "Spero stiate bene.",
        "Grazie in anticipo.",
        "Resto in attesa di una vostra risposta.",
        "Ho già scritto la settimana scorsa.",
        "Grazie per l'aiuto.",
    ),
}
CLOSINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "Thanks,",
        "Best regards,",
        "Kind regards,",
        "Cheers,",
        "Thank you,",
        "Regards,",
        "Many thanks,",
        "Best,",
    ),
    "de": ("Viele Grüße", "Mit freundlichen Grüßen", "Danke und Gruß", "LG", "Beste Grüße"),
    "fr": ("Cordialement,", "Merci,", "Bien à vous,", "Bonne journée,", "Merci d'avance,"),
    "es": ("Saludos,", "Un saludo,", "Gracias,", "Atentamente,", "Saludos cordiales,"),
    "nl": ("Met vriendelijke groet,", "Groetjes,", "Groeten,", "Alvast bedankt,", "Mvg,"),
    "it": ("Cordiali saluti,", "Grazie,", "Saluti,", "Un saluto,", "Grazie mille,"),
}
MOBILE: dict[str, str] = {
    "en": "Sent from my iPhone",
    "de": "Von meinem iPhone gesendet",
    "fr": "Envoyé de mon iPhone",
    "es": "Enviado desde mi iPhone",
    "nl": "Verstuurd vanaf mijn iPhone",
    "it": "Inviato da iPhone",
}
QUOTE_HEADER: dict[str, str] = {
    "en": "On {date}, {store} Support <support@{domain}> wrote:",
    "de": "Am {date} schrieb {store} Kundenservice <service@{domain}>:",
    "fr": "Le {date}, Service client {store} <contact@{domain}> a écrit :",
    "es": "El {date}, Atención al cliente {store} <ayuda@{domain}> escribió:",
    "nl": "Op {date} schreef {store} Klantenservice <klantenservice@{domain}>:",
    "it": "Il giorno {date} Assistenza {store} <assistenza@{domain}> ha scritto:",
}
QUOTED_REPLY: dict[str, tuple[str, ...]] = {
    "en": (
        "Thank you for contacting us! A member of our team will get back to you shortly.",
        "Thanks for reaching out. Could you send us your order number?",
        "Is there anything else we can help with?",
    ),
    "de": (
        "Vielen Dank für Ihre Nachricht! Wir melden uns so schnell wie möglich.",
        "Können Sie uns bitte Ihre Bestellnummer schicken?",
    ),
    "fr": (
        "Merci pour votre message ! Nous revenons vers vous rapidement.",
        "Pouvez-vous nous envoyer votre numéro de commande ?",
    ),
    "es": (
        "¡Gracias por escribirnos! Le responderemos lo antes posible.",
        "¿Nos puede enviar su número de pedido?",
    ),
    "nl": (
        "Bedankt voor je bericht! We nemen zo snel mogelijk contact met je op.",
        "Kun je ons je bestelnummer sturen?",
    ),
    "it": (
        "Grazie per averci scritto! Ti risponderemo il prima possibile.",
        "Puoi inviarci il numero d'ordine?",
    ),
}
GENERIC_SUBJECTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Question",
        "Help",
        "Help please",
        "Inquiry",
        "Customer enquiry",
        "(no subject)",
        "Hello",
        "Order {order}",
        "Re: Your order {order}",
        "Re: Order confirmation {order}",
        "Fwd: {store} order {order}",
        "Contact form: new message",
        "Message from website",
    ),
    "de": (
        "Frage",
        "Anfrage",
        "Hilfe",
        "Bestellung {order}",
        "AW: Ihre Bestellung {order}",
        "Kundenanfrage",
        "Kontaktformular",
    ),
    "fr": (
        "Question",
        "Demande",
        "Aide",
        "Commande {order}",
        "RE: Votre commande {order}",
        "Formulaire de contact",
    ),
    "es": (
        "Consulta",
        "Pregunta",
        "Ayuda",
        "Pedido {order}",
        "RE: Su pedido {order}",
        "Formulario de contacto",
    ),
    "nl": ("Vraag", "Hulp", "Bestelling {order}", "Re: Je bestelling {order}", "Contactformulier"),
    "it": (
        "Domanda",
        "Richiesta",
        "Aiuto",
        "Ordine {order}",
        "R: Il tuo ordine {order}",
        "Modulo di contatto",
    ),
}
NAMES = (
    "Anna",
    "Tom Becker",
    "Sarah J.",
    "Marco Rossi",
    "Lea",
    "Pieter de Vries",
    "Claire Martin",
    "Javier",
    "Emma W.",
    "Luca",
    "Sophie Müller",
    "J. Smith",
    "Isabel García",
    "Noah",
    "Femke",
    "Giulia Bianchi",
)
STORES = (
    "Northwind",
    "Luma Living",
    "Kettle & Co",
    "Bloomly",
    "Velo Parts",
    "Hausgold",
    "Petit Coton",
    "Nordic Oak",
)


def _typos(text: str, rng: random.Random, rate: float) -> str:
    """Swap, drop or double a letter in a share of the words, as hurried typists do."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(word) - 1)
            kind = rng.random()
            if kind < 0.4:
                word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            elif kind < 0.7:
                word = word[:j] + word[j + 1 :]
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
    return " ".join(words)


def _fill(template: str, rng: random.Random) -> str:
    store = rng.choice(STORES)
    return template.format(
        store=store,
        agent=rng.choice(("Sam", "Julia", "Max", "Team")),
        order=f"#{rng.randint(1001, 99999)}",
        domain=store.lower().replace(" ", "").replace("&", "") + ".com",
        date=f"{rng.randint(1, 28)}.{rng.randint(1, 12)}.2024",
    )


def as_email(
    example: Any,
    rng: random.Random,
    *,
    lang: str = "en",
    keep_subject: float = 0.6,
    typo_rate: float = 0.0,
) -> Any:
    """A copy of ``example`` (anything with subject/body, e.g. train.Example) dressed as an
    email."""
    lang = lang if lang in GREETINGS else "en"
    parts = []
    if rng.random() < 0.8:
        parts.append(_fill(rng.choice(GREETINGS[lang]), rng))
    body = example.body
    if rng.random() < 0.3:
        body = (
            f"{_fill(rng.choice(FILLERS[lang]), rng)} {body}"
            if rng.random() < 0.5
            else f"{body} {_fill(rng.choice(FILLERS[lang]), rng)}"
        )
    if typo_rate:
        body = _typos(body, rng, typo_rate)
    parts.append(body)
    if rng.random() < 0.7:
        parts.append(f"{rng.choice(CLOSINGS[lang])}\n{rng.choice(NAMES)}")
        if rng.random() < 0.25:
            parts.append(
                f"+{rng.randint(30, 49)} {rng.randint(100, 999)} {rng.randint(100000, 999999)}"
            )
    if rng.random() < 0.15:
        parts.append(MOBILE[lang])
    if rng.random() < 0.2:
        quoted = "\n".join(f"> {line}" for line in rng.sample(QUOTED_REPLY[lang], k=1))
        parts.append(f"{_fill(QUOTE_HEADER[lang], rng)}\n{quoted}")
    subject = example.subject
    if not subject or rng.random() > keep_subject:
        subject = _fill(rng.choice(GENERIC_SUBJECTS[lang]), rng) if rng.random() < 0.7 else ""
    return replace(example, subject=subject, body="\n\n".join(parts))
