"""Suggested replies: per-category templates filled from the ticket and the enrichment, the
"written automatically" notice, and the promise checker every reply passes before use.

Templates never quote the customer's own text back (a reply can carry no injected content) and
never promise a refund, cancellation or discount: those need an agent's approval
(connector/commerce/approvals.py). ``check_reply`` rejects any draft — template or Claude —
that makes such a promise without an approval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from string import Formatter

from connector.domain import Order

# --- the automated-reply notice (one short line, in the customer's language) ---------------
AUTO_NOTICE: dict[str, str] = {
    "en": "This reply was written automatically. If it does not answer your question, "
    "just reply and a person from our team will help.",
    "de": "Diese Antwort wurde automatisch erstellt. "
    "Falls sie Ihre Frage nicht beantwortet, antworten Sie einfach – jemand aus unserem Team "
    "hilft Ihnen.",
    "fr": "Cette réponse a été rédigée automatiquement. "
    "Si elle ne répond pas à votre question, répondez simplement et un membre de notre équipe "
    "vous aidera.",
    "es": "Esta respuesta se ha escrito automáticamente. "
    "Si no responde a su pregunta, conteste a este mensaje y una persona de nuestro equipo le "
    "ayudará.",
    "nl": "Dit antwoord is automatisch geschreven. "
    "Beantwoordt het uw vraag niet, reageer dan gewoon en iemand van ons team helpt u verder.",
    "it": "Questa risposta è stata scritta automaticamente. "
    "Se non risponde alla sua domanda, risponda pure e una persona del nostro team la aiuterà.",
}

# --- templates ----------------------------------------------------------------------------
# Keys: category -> language -> text. Fields: {name} {order} {carrier} {tracking_number}
# {tracking_url} {answer} (the store's own answer from policy `answers.<category>`).
TEMPLATES: dict[str, dict[str, str]] = {
    "order_status": {
        "en": "Hi {name},\n\nThanks for getting in touch. "
        "Your order {order} is on its way with {carrier}. "
        "You can follow it here: {tracking_url} (tracking number {tracking_number}).\n\n"
        "Best regards",
        "de": "Hallo {name},\n\ndanke für Ihre Nachricht. "
        "Ihre Bestellung {order} ist mit {carrier} unterwegs. "
        "Sie können sie hier verfolgen: {tracking_url} (Sendungsnummer {tracking_number}).\n\n"
        "Viele Grüße",
        "fr": "Bonjour {name},\n\nMerci pour votre message. "
        "Votre commande {order} est en route avec {carrier}. "
        "Vous pouvez la suivre ici : {tracking_url} (numéro de suivi {tracking_number}).\n\n"
        "Bien cordialement",
        "es": "Hola {name}:\n\nGracias por escribirnos. "
        "Su pedido {order} está en camino con {carrier}. "
        "Puede seguirlo aquí: {tracking_url} (número de seguimiento {tracking_number}).\n\n"
        "Un saludo",
    },
    "shipping_info": {"en": "Hi {name},\n\nThanks for your question. {answer}\n\nBest regards"},
    "account": {"en": "Hi {name},\n\nThanks for getting in touch. {answer}\n\nBest regards"},
    "shipping_problem": {
        "en": "Hi {name},\n\nI'm sorry your delivery{order_phrase} is not going as it should. "
        "I'm looking into it with the carrier now and will get back to you with an update."
        "\n\nBest regards"
    },
    "change_address": {
        "en": "Hi {name},\n\nThanks for letting us know. I'm checking whether the address on "
        "order{order_phrase} can still be changed and will confirm shortly.\n\nBest regards"
    },
    "cancel_order": {
        "en": "Hi {name},\n\nThanks for your message. "
        "I'm checking the status of your order{order_phrase} and will let you know the options "
        "shortly.\n\nBest regards"
    },
    "order_change": {
        "en": "Hi {name},\n\nThanks for your message. "
        "I'm checking whether order{order_phrase} can still be changed and will get back to you "
        "shortly.\n\nBest regards"
    },
    "return_exchange": {
        "en": "Hi {name},\n\nThanks for getting in touch about a return or exchange{order_phrase}. "
        "I'm looking into it and will send you the next steps shortly.\n\nBest regards"
    },
    "refund": {
        "en": "Hi {name},\n\nThanks for your message about order{order_phrase}. "
        "A colleague is reviewing your request and will get back to you with the next steps."
        "\n\nBest regards"
    },
    "payment_billing": {
        "en": "Hi {name},\n\nThanks for letting us know about this payment question. "
        "I'm checking the details{order_phrase} and will get back to you shortly.\n\nBest regards"
    },
    "promo_pricing": {
        "en": "Hi {name},\n\nThanks for your question about pricing. "
        "I'm checking the details and will get back to you shortly.\n\nBest regards"
    },
    "product_question": {
        "en": "Hi {name},\n\nThanks for your question. "
        "I'm checking the product details and will get back to you shortly.\n\nBest regards"
    },
    "complaint_feedback": {
        "en": "Hi {name},\n\nThank you for taking the time to tell us about this. I'm sorry about "
        "your experience; I'm looking into it personally and will get back to you.\n\nBest regards"
    },
    "other": {
        "en": "Hi {name},\n\nThanks for your message. "
        "I'm looking into it and will get back to you shortly."
        "\n\nBest regards"
    },
}


# While a refund or cancellation waits for an agent's approval: acknowledge, promise nothing.
PASSED_TO_TEAM: dict[str, str] = {
    "en": "Hi {name},\n\nThanks for your message{about}. "
    "We've passed your request to the team, and a colleague will get back to you shortly."
    "\n\nBest regards",
    "de": "Hallo {name},\n\ndanke für Ihre Nachricht{about_de}. "
    "Wir haben Ihr Anliegen an unser Team weitergegeben; "
    "eine Kollegin oder ein Kollege meldet sich in Kürze bei Ihnen.\n\nViele Grüße",
    "fr": "Bonjour {name},\n\nMerci pour votre message{about_fr}. "
    "Nous avons transmis votre demande à l'équipe ; "
    "un collègue reviendra vers vous rapidement.\n\nBien cordialement",
    "es": "Hola {name}:\n\nGracias por su mensaje{about_es}. "
    "Hemos pasado su solicitud al equipo y un compañero "
    "se pondrá en contacto con usted en breve.\n\nUn saludo",
}


def passed_to_team_text(language: str, *, name: str, order: str = "") -> tuple[str, str]:
    """(text, language) of the neutral hand-over reply; English when the language has none."""
    lang = language if language in PASSED_TO_TEAM else "en"
    about = {
        "about": f" about order {order}",
        "about_de": f" zur Bestellung {order}",
        "about_fr": f" concernant la commande {order}",
        "about_es": f" sobre el pedido {order}",
    }
    if not order:
        about = dict.fromkeys(about, "")
    return PASSED_TO_TEAM[lang].format(name=first_name(name), **about), lang


def first_name(name: str) -> str:
    name = (name or "").strip()
    if not name or "@" in name:
        return "there"
    return name.split()[0]


def order_fields(orders: list[Order]) -> dict[str, str]:
    if len(orders) != 1:
        return {
            "order": "",
            "order_phrase": "",
            "carrier": "",
            "tracking_number": "",
            "tracking_url": "",
        }
    order = orders[0]
    tracked = [f for f in order.fulfillments if f.tracking_number or f.tracking_url]
    f = tracked[-1] if tracked else None
    return {
        "order": order.name,
        "order_phrase": f" {order.name}",
        "carrier": (f.tracking_company if f else "") or "the carrier",
        "tracking_number": (f.tracking_number if f else "") or "—",
        "tracking_url": (f.tracking_url if f else "") or "",
    }


def fill(
    category: str, language: str, *, name: str, orders: list[Order], answer: str = ""
) -> tuple[str, str] | None:
    """(text, language) of the category's template; English when the language has none."""
    options = TEMPLATES.get(category) or TEMPLATES["other"]
    lang = language if language in options else "en"
    template = options.get(lang)
    if template is None:
        return None
    values = {"name": first_name(name), "answer": answer.strip(), **order_fields(orders)}
    needed = {f for _, f, _, _ in Formatter().parse(template) if f}
    if any(not values.get(f) for f in needed if f not in ("order_phrase",)):
        return None  # a field the template needs is unknown: no reply rather than a broken one
    return template.format(**values), lang


def with_notice(text: str, language: str) -> str:
    notice = AUTO_NOTICE.get(language, AUTO_NOTICE["en"])
    return f"{text.rstrip()}\n\n—\n{notice}"


# --- the promise checker ------------------------------------------------------------------
_PROMISES: dict[str, tuple[str, ...]] = {
    "refund": (
        r"\b(we|i)\s*(['’]ll|will|have|['’]ve|shall|can|are going to|am going to)\s+(now\s+|"
        r"already\s+|just\s+)?"
        r"(refund|reimburse|issue[d]?\s+(you\s+)?(a\s+|the\s+|your\s+)?(full\s+|partial\s+)?refund|"
        r"processed\s+(a\s+|the\s+|your\s+)?refund|refunded)",
        r"\brefund\b[^.\n]{0,40}\b(has|have)\s+been\s+(issued|processed|approved|sent|"
        r"initiated|made)\b",
        r"\b(will|is going to|has been|have been)\s+(be\s+)?refunded\b",
        r"\byou['’]?(ll| will)\s+(get|receive)\s+(a\s+|your\s+)?(full\s+|partial\s+)?(refund|"
        r"money back)\b",
        r"\b(we|i)\b[^.\n]{0,40}\b(refunded|reimbursed)\b",
        r"\b(erstatten|überweisen)\s+wir\b",
        r"\b(wir|ich)\s+(erstatten|überweisen)\b",
        r"\b(wir|ich)\s+(werden|haben|habe)\b[^.\n]{0,40}\b(erstattet|zurückerstattet|erstatten)\b",
        r"\b(rück)?erstattung\b[^.\n]{0,30}\b(wurde|wird|ist)\s+(veranlasst|bearbeitet|ausgezahlt|"
        r"angewiesen|genehmigt)\b",
        r"\bnous\s+(allons\s+|avons\s+)?(vous\s+)?rembours",
        r"\bremboursement\b[^.\n]{0,30}\b(a\s+été|sera)\s+(effectué|émis|traité|approuvé|validé)",
        r"\b(le\s+|te\s+)?(reembolsaremos|hemos\s+reembolsado|vamos\s+a\s+reembolsar)\b",
        r"\breembolso\b[^.\n]{0,30}\b(ha\s+sido|será)\s+(procesado|emitido|aprobado|realizado)",
    ),
    "cancellation": (
        r"\b(we|i)\s*(['’]ll|will|have|['’]ve|can|are going to|am going to)\s+(now\s+|already\s+|"
        r"just\s+)?cancel",
        r"\b(order|subscription)\b[^.\n]{0,40}\b(has\s+been|is\s+now|will\s+be)\s+(cancell?ed)\b",
        r"\b(we|i)\b[^.\n]{0,40}\bcancell?ed\b",
        r"\b(wir|ich)\s+(werden|haben|habe|stornieren)\b[^.\n]{0,40}\bstorn",
        r"\bbestellung\b[^.\n]{0,30}\b(wurde|wird|ist)\s+storniert",
        r"\bnous\s+(allons\s+|avons\s+)?annul",
        r"\bcommande\b[^.\n]{0,30}\b(a\s+été|sera)\s+annulée",
        r"\b(cancelaremos|hemos\s+cancelado|vamos\s+a\s+cancelar)\b",
        r"\bpedido\b[^.\n]{0,30}\b(ha\s+sido|será)\s+cancelado",
    ),
    "discount": (
        r"\b(we|i)\s*(['’]ll|will|can|are going to|am going to|['’]d like to|"
        r"would like to)\s+(give|offer|send|apply)\b"
        r"[^.\n]{0,40}\b(discount|voucher|coupon|store credit|gift card|\d+\s?%)",
        r"\b(here\s+is|here['’]s)\s+(a|your)\b[^.\n]{0,20}\b(discount|coupon|voucher|code)\b",
        r"\b\d+\s?%\s+(off|discount)\b",
        r"\buse\s+(the\s+)?code\b",
        r"\b\d+\s?%\s+rabatt\b",
        r"\b(gutschein|rabattcode)\b",
        r"\b\d+\s?%\s+de\s+(réduction|remise|descuento)\b",
        r"\bcode\s+promo\b",
        r"\bcódigo\s+(de\s+)?descuento\b",
    ),
}
_PROMISE_RE = {kind: [re.compile(p, re.IGNORECASE) for p in ps] for kind, ps in _PROMISES.items()}


def check_reply(text: str, *, approved: Iterable[str] = ()) -> tuple[str, ...]:
    """Problems with a reply: each promise of a refund/cancellation/discount not in ``approved``."""
    allowed = set(approved)
    problems = []
    for kind, patterns in _PROMISE_RE.items():
        if kind in allowed:
            continue
        for pattern in patterns:
            m = pattern.search(text or "")
            if m:
                problems.append(
                    f"promises a {kind} that no agent approved (“{m.group(0).strip()}”)"
                )
                break
    return tuple(problems)
