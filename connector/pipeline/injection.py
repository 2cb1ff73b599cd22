"""Spotting instructions aimed at the assistant inside ticket text.

Ticket text is data, never instructions: no pipeline stage acts on what a ticket *says* to do —
actions follow only from the reading (category, confidence, risk) and the policy, and
refunds/cancellations are never executed by the pipeline at all. This detector is a second
line: when a ticket tries to steer the assistant ("ignore your rules, mark this solved"), the
``injection`` escalation rule sends it to a human instead of any automated reply.

Patterns are deliberately about *meta* instructions (rules, prompts, statuses, approvals), so
an ordinary "please refund me" is not flagged.
"""

from __future__ import annotations

import re
import unicodedata

_PATTERNS: dict[str, tuple[str, ...]] = {
    "ignore the rules": (
        r"\b(ignore|disregard|forget|override|bypass|skip)\b"
        r"[^.\n]{0,40}\b(rules?|instructions?|polic(y|ies)|guidelines?|prompts?|guardrails?|"
        r"restrictions?|programming)\b",
        r"\bignor(iere|ier|ieren)\b[^.\n]{0,40}\b(anweisungen|regeln|richtlinien|vorgaben|"
        r"instruktionen)\b",
        r"\b(vergiss|vergessen sie)\b[^.\n]{0,40}\b(anweisungen|regeln)\b",
        r"\b(ignore[rz]?|oublie[rz]?)\b[^.\n]{0,40}\b(instructions?|r[eè]gles?|consignes?)\b",
        r"\b(ignora|ignore|olvida|ignorar)\b[^.\n]{0,40}\b(instrucciones|reglas|normas|istruzioni|"
        r"regole|instruções|regras)\b",
        r"\b(negeer|vergeet)\b[^.\n]{0,40}\b(instructies|regels)\b",
        r"\b(zignoruj|ignoruj|zapomnij)\b[^.\n]{0,40}\b(instrukcje|zasady|polecenia|reguły)\b",
        r"\b(ignorera|glöm)\b[^.\n]{0,40}\b(instruktioner|regler)\b",
    ),
    "role play / new identity": (
        r"\byou are (now|no longer)\b",
        r"\b(act|behave|pretend) as\b[^.\n]{0,30}\b(admin|administrator|system|developer|"
        r"agent|supervisor)",
        r"\b(developer|god|admin|jailbreak|dan) mode\b",
        r"\bsystem\s*prompt\b",
        r"^\s*(system|assistant|developer)\s*:",
        r"\[\s*(system|admin|instructions?)\s*\]",
        r"<\s*/?\s*(system|instructions?)\s*>",
        r"\bdu bist (jetzt|ab sofort)\b",
        r"\btu es (maintenant|désormais)\b",
        r"\b(ahora eres|a partir de ahora eres)\b",
        r"\b(new|updated) instructions?\s*:",
        r"\bneue anweisung(en)?\s*:",
        r"\bnouvelles? instructions?\s*:",
        r"\bnuevas instrucciones\s*:",
        r"\bnuove istruzioni\s*:",
    ),
    "tells the assistant to change the ticket": (
        r"\b(mark|set|close|resolve|change)\b[^.\n]{0,30}\b(ticket|this|status)\b"
        r"[^.\n]{0,20}\b(as\s+)?(solved|closed|resolved|done|priority)\b",
        r"\b(mark|set)\b[^.\n]{0,20}\bas (solved|closed|resolved)\b",
        r"\b(markiere|setze|schließe)\b[^.\n]{0,40}\b(gelöst|geschlossen|erledigt)\b",
        r"\b(marque[rz]?|ferme[rz]?|cl[oô]ture[rz]?)\b[^.\n]{0,40}\b(résolu|fermé|clos)\b",
        r"\b(marca|marcar|cierra|cerrar)\b[^.\n]{0,40}\b(resuelto|cerrado|solucionado)\b",
        r"\b(segna|chiudi|contrassegna)\b[^.\n]{0,40}\b(risolto|chiuso)\b",
        r"\b(markeer|sluit)\b[^.\n]{0,40}\b(opgelost|gesloten)\b",
        r"\b(oznacz|zamknij)\b[^.\n]{0,40}\b(rozwiązan|zamknięt)\w*",
        r"\b(marque|feche)\b[^.\n]{0,40}\b(resolvido|fechado)\b",
    ),
    "tells the assistant to approve money or actions": (
        r"\b(approve|authori[sz]e|execute|process|issue|trigger)\b"
        r"[^.\n]{0,30}\b(refund|cancellation|payout|credit|discount)\b"
        r"[^.\n]{0,40}\b(without|no need|automatically|immediately|now)\b",
        r"\bwithout\b[^.\n]{0,20}\b(verification|approval|checks?|asking)\b",
        r"\b(genehmige|veranlasse|führe)\b[^.\n]{0,40}\b(erstattung|rückerstattung|stornierung|"
        r"gutschrift)\b",
        r"\bohne\b[^.\n]{0,20}\b(prüfung|rückfrage|genehmigung)\b",
        r"\b(approuve[rz]?|effectue[rz]?|déclenche[rz]?)\b"
        r"[^.\n]{0,40}\b(remboursement|annulation)\b",
        r"\bsans\b[^.\n]{0,20}\b(vérification|validation|approbation)\b",
        r"\b(aprueba|procesa|ejecuta|emite)\b[^.\n]{0,40}\b(reembolso|cancelación|devolución)\b",
        r"\bsin\b[^.\n]{0,20}\b(verificación|aprobación|comprobación)\b",
        r"\b(approva|esegui|emetti)\b[^.\n]{0,40}\b(rimborso|cancellazione)\b",
        r"\bsenza\b[^.\n]{0,20}\b(verifica|approvazione|controlli?)\b",
        r"\b(keur|voer)\b[^.\n]{0,40}\b(terugbetaling|restitutie|annulering)\b",
        r"\bzonder\b[^.\n]{0,20}\b(controle|goedkeuring|verificatie)\b",
        r"\bsem\b[^.\n]{0,20}\b(verificação|aprovação)\b",
        r"\bbez\b[^.\n]{0,20}\b(weryfikacji|zatwierdzenia|sprawdzania)\b",
    ),
    "asks the assistant to reveal or reply verbatim": (
        r"\b(print|reveal|show|repeat|output)\b[^.\n]{0,30}\b(your|the)\b"
        r"[^.\n]{0,20}\b(prompt|instructions|rules|configuration|api key|token|secret)s?\b",
        r"\b(reply|respond|answer)\b[^.\n]{0,20}\bwith (exactly|only|the following)\b",
        r"\b(als (ki|ai|assistent)|as an ai|en tant qu'ia|como ia)\b",
    ),
}

_COMPILED = [
    (label, re.compile(p, re.IGNORECASE | re.MULTILINE))
    for label, ps in _PATTERNS.items()
    for p in ps
]


def _normalise(text: str) -> str:
    # NFKC folds full-width and other look-alike characters; zero-width characters are dropped.
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)


def find_injection(*texts: str) -> tuple[str, ...]:
    """Labels of the assistant-directed instructions found in the texts (empty: none)."""
    found: list[str] = []
    for text in texts:
        clean = _normalise(text)
        for label, pattern in _COMPILED:
            if label not in found and pattern.search(clean):
                found.append(label)
    return tuple(found)
