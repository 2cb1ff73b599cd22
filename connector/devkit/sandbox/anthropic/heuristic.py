"""The Anthropic sandbox's stand-in for the model when the embedded local model is not
installed: a keyword heuristic over the ticket, in the languages the demo tickets use."""

from __future__ import annotations

import re
from typing import Any

KEYWORDS: dict[str, tuple[str, ...]] = {
    "refund": (
        "refund",
        "money back",
        "erstatt",
        "rückerstattung",
        "rembours",
        "reembols",
        "terugbetal",
        "rimbors",
    ),
    "cancel_order": ("cancel", "stornier", "annul", "cancelar", "annuleren", "annullare"),
    "payment_billing": (
        "charged",
        "charge",
        "payment",
        "abgebucht",
        "zahlung",
        "débit",
        "paiement",
        "cobro",
        "pago",
        "betaling",
        "betaald",
        "addebit",
        "pagamento",
        "invoice",
    ),
    "change_address": ("address", "adresse", "dirección", "adres", "indirizzo"),
    "shipping_problem": (
        "damaged",
        "lost",
        "never arrived",
        "beschädigt",
        "kaputt",
        "cassé",
        "roto",
        "kapot",
        "rotto",
        "not arrived",
        "nicht angekommen",
    ),
    "order_status": (
        "where is",
        "tracking",
        "wo ist",
        "sendung",
        "où est",
        "suivi",
        "dónde está",
        "waar is",
        "dov'è",
        "status",
    ),
    "return_exchange": (
        "return",
        "exchange",
        "umtausch",
        "rücksend",
        "retour",
        "échange",
        "devol",
        "cambio",
        "ruilen",
        "reso",
    ),
    "promo_pricing": (
        "discount",
        "coupon",
        "promo",
        "rabatt",
        "gutschein",
        "réduction",
        "descuento",
        "korting",
        "sconto",
    ),
    "product_question": (
        "size",
        "stock",
        "größe",
        "taille",
        "talla",
        "maat",
        "taglia",
        "ingredient",
    ),
    "account": (
        "password",
        "login",
        "log in",
        "account",
        "passwort",
        "konto",
        "mot de passe",
        "contraseña",
        "wachtwoord",
    ),
    "complaint_feedback": (
        "terrible",
        "disappointed",
        "unacceptable",
        "enttäuscht",
        "déçu",
        "decepcionado",
        "teleurgesteld",
        "deluso",
    ),
}


def heuristic_reading(subject: str, body: str) -> dict[str, Any]:
    text = f"{subject}\n{body}".lower()
    scores = {c: sum(text.count(k) for k in words) for c, words in KEYWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    top, hits = ranked[0]
    if hits == 0:
        top = "other"
    total = sum(v for _, v in ranked) or 1
    confidence = round(min(0.9, 0.4 + 0.5 * hits / total), 3) if hits else 0.35
    alternatives = [{"category": top, "score": confidence}]
    alternatives += [
        {"category": c, "score": round(v / total * (1 - confidence), 3)}
        for c, v in ranked
        if c != top and v
    ][:2]
    return {
        "category": top,
        "confidence": confidence,
        "alternatives": alternatives,
        "sentiment": "negative" if scores["complaint_feedback"] else "neutral",
        "sentiment_score": -0.5 if scores["complaint_feedback"] else 0.0,
        "urgency": "normal",
        "language": "en",
        "entities": {
            "order_numbers": re.findall(r"#\d{3,}", text),
            "emails": [],
            "tracking_numbers": [],
            "amounts": [],
        },
        "reasons": ["sandbox keyword heuristic"],
        "risk_flags": [],
    }
