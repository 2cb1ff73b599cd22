"""A small multilingual lexicon of support concepts.

Most of the training text is English (the shared datasets); tickets arrive in six languages.
Each stem below, in any of those languages, also emits one language-neutral feature
("k|refund", "k|cancel", ...), so what the model learns about "refund" from thousands of English
examples carries over to "Rückerstattung", "remboursement", "reembolso", "terugbetaling" and
"rimborso". Stems match at the start of a word on lower-cased, accent-stripped text and may run
on ("stornier" matches "stornieren", "storniert"). Keep entries unambiguous across languages:
a stem that means different things in two languages (Italian "cancellare" is both cancel and
delete) goes under the more frequent meaning only, and words that shops use for many things
("box": a parcel, a product's packaging, a subscription box) stay out.

Changing this table changes the features: bump LEXICON_VERSION so models record which one they
were trained with.
"""

from __future__ import annotations

import re

LEXICON_VERSION = 3  # 3: stems split into words like the features (\w+); multi-word stems as word sequences

CONCEPTS: dict[str, tuple[str, ...]] = {
    "where": ("where is", "where's", "wheres", "where are", "wo ist", "wo bleibt", "wo sind", "ou est", "ou en est",
              "donde esta", "donde estan", "waar is", "waar blijft", "dov'e", "dove e", "dove sono"),
    "track": ("track", "sendungsverfolgung", "sendungsnummer", "paketverfolgung", "suivi", "seguimiento", "rastreo",
              "rastrear", "tracciamento", "tracking"),
    "dispatch": ("shipped", "dispatch", "sent out", "versendet", "verschickt", "versandt", "expedie", "expedition",
                 "enviado", "verzonden", "verstuurd", "spedit", "partito"),
    "deliver": ("deliver", "arriv", "liefer", "zugestellt", "zustell", "ankomm", "angekommen", "livr", "entreg",
                "llega", "llegado", "bezorg", "aankom", "aangekomen", "consegn", "recib", "ricevut", "reçu", "recu "),
    "parcel": ("parcel", "package", "paket", "colis", "paquete", "pakket", "pacco", "sendung"),
    "order": ("order", "bestell", "commande", "pedido", "ordine", "purchase", "auftrag", "compra"),
    "broken": ("damag", "broken", "crack", "crush", "smash", "shatter", "leak", "dented", "kaputt", "zerbroch",
               "beschadig", "beschadigt", "beschadigd", "zerdruckt", "ausgelaufen", "casse", "abime", "endommag",
               "ecrase", "roto", "rota", "danad", "aplastad", "kapot", "gebroken", "ingedeukt", "gelekt",
               "rott", "danneggiat", "schiacciat"),
    "missing": ("missing", "lost", "vanish", "never arrived", "never came", "never received", "not received",
                "fehlt", "verloren", "nicht angekommen", "manque", "perdu", "pas recu", "falta", "perdid",
                "no he recibido", "ontbreekt", "kwijt", "niet ontvangen", "mancant", "manca", "perso ", "non ricevut"),
    "late": ("late ", "delay", "overdue", "still waiting", "verspat", "verzoger", "warte", "retard", "en retard",
             "retraso", "todavia nada", "vertraging", "te laat", "wacht", "ritardo", "ancora niente"),
    "wrong_item": ("wrong item", "wrong product", "instead of", "falsche artikel", "falschen artikel", "statt",
                   "mauvais article", "au lieu", "equivocad", "en lugar de", "verkeerd", "in plaats van", "sbagliat",
                   "invece"),
    "shipping_cost": ("shipping cost", "delivery cost", "postage", "shipping fee", "versandkosten", "porto",
                      "frais de port", "frais de livraison", "gastos de envio", "verzendkosten", "costi di spedizione",
                      "spese di spedizione", "free shipping", "free delivery", "versandkostenfrei", "livraison gratuite",
                      "envio gratis", "gratis verzending", "spedizione gratuita"),
    "abroad": ("ship to", "deliver to", "international", "abroad", "countries", "country", "ausland", "lander",
               "etranger", "pays", "extranjero", "paises", "buitenland", "landen", "estero", "paesi", "schweiz",
               "suisse", "svizzera", "zwitserland", "canada", "usa ", "australia", "norway", "belgi", "osterreich",
               "austria", "portugal", "canarias", "sardegna", "islands"),
    "customs": ("customs", "dutie", "import fee", "import tax", "zoll", "douane", "aduana", "dogana", "invoerrecht"),
    "express": ("express", "next day", "next-day", "same day", "same-day", "overnight", "expres", "espressa"),
    "pickup": ("pick up", "pick-up", "pickup", "click and collect", "collect in", "locker", "packstation", "abhol", "point relais",
               "retrait", "recogida", "recoger", "afhaal", "ophalen", "ritiro", "ritirare"),
    "address": ("address", "adresse", "direccion", "adres", "indirizzo", "postcode", "postal code", "zip code",
                "postleitzahl", "plz", "code postal", "codigo postal", "cap ", "huisnummer", "hausnummer",
                "apartment", "flat ", "wohnung", "appartement", "piso", "interno"),
    "moved": ("moved", "moving", "umgezogen", "umzug", "demenag", "mudado", "mudanza", "verhuis", "trasferit",
              "trasloc"),
    "change": ("change", "modify", "modif", "edit", "correct", "switch", "anderen", "andern", "aenderung",
               "anderung", "korrigier", "umstellen", "changer", "cambiar", "cambio", "wijzig", "verander", "aanpass",
               "cambiare", "correggere"),
    "cancel": ("cancel", "stornier", "storno", "annul", "cancelar", "anular", "annuleer", "annulering",
               "annulla", "cancellare", "cancellat"),
    "size": ("size", "grosse", "groesse", "taille", "pointure", "talla", "maat", "taglia", "too small", "too big",
             "too large", "zu klein", "zu gross", "trop petit", "trop grand", "pequen", "te klein", "te groot",
             "piccol"),
    "colour": ("colour", "color", "farbe", "couleur", "kleur", "colore"),
    "quantity": ("quantity", "menge", "anzahl", "quantite", "cantidad", "aantal", "quantita"),
    "add": ("add ", "adding", "hinzufug", "dazu", "ajouter", "anadir", "agregar", "toevoeg", "aggiung"),
    "return": ("return", "send back", "send it back", "sending back", "zuruckschick", "zurucksend", "rucksend",
               "retoure", "ruckgabe", "zuruckgeb", "renvoy", "retourn", "retour", "devolv", "devoluc", "terugstur",
               "retourneer", "reso ", "restitu", "rendere", "rimandare"),
    "exchange": ("exchang", "swap", "umtausch", "tauschen", "echang", "intercamb", "ruil", "scambi", "sostitu"),
    "defect": ("defect", "faulty", "stopped working", "doesn't work", "does not work", "not working", "replace",
               "defekt", "funktioniert nicht", "ersatz", "defectu", "ne fonctionne", "remplac", "no funciona",
               "sustitu", "werkt niet", "doet het niet", "vervang", "difettos", "non funziona"),
    "refund": ("refund", "reimburs", "money back", "my money", "rebate", "erstatt", "geld zuruck", "rembours",
               "reembols", "devuelvan el dinero", "devolver el dinero", "terugbetal", "geld terug", "rimbors",
               "soldi indietro", "credit note", "gutschrift"),
    "payment": ("payment", "pay ", "paid", "paying", "charged", "charge ", "charges", "debit", "declin", "bezahl", "zahlung", "abgebucht",
                "abbuchung", "abgelehnt", "paiement", "payer", "paye", "preleve", "prelevement", "refuse",
                "pago", "pagar", "pagado", "cobr", "cargo", "rechaz", "betaal", "betaling", "betalen", "afgeschreven",
                "afschrijving", "geweigerd", "pagament", "pagare", "pagato", "addebit", "rifiutat"),
    "card": ("card ", "cards", "karte", "carte", "tarjeta", "kaart", "carta"),
    "invoice": ("invoice", "receipt", "vat ", "vat number", "rechnung", "quittung", "mwst", "mehrwertsteuer",
                "facture", "tva", "factura", "recibo", "iva", "factuur", "btw", "fattura", "ricevuta"),
    "paymethod": ("paypal", "klarna", "apple pay", "google pay", "ideal", "sepa", "bank transfer", "instalment",
                  "installment", "uberweisung", "vorkasse", "ratenzahlung", "virement", "en plusieurs fois",
                  "transferencia", "a plazos", "achteraf betalen", "bonifico", "a rate"),
    "subscription": ("subscription", "abo ", "abonnement", "suscripcion", "abbonament", "renew"),
    "discount": ("discount", "code", "coupon", "voucher", "promo", "rabatt", "gutschein", "reduction", "remise",
                 "descuento", "cupon", "korting", "sconto", "codice"),
    "sale": ("sale", "offer", "black friday", "deal", "angebot", "aktion", "soldes", "offre", "rebajas", "oferta",
             "uitverkoop", "actie", "aanbieding", "saldi", "offerta", "bogo", "buy one", "2 for 1", "3 for 2"),
    "price": ("price", "cheaper", "expensive", "preis", "gunstiger", "billiger", "prix", "moins cher", "precio",
              "barato", "prijs", "goedkoper", "prezzo", "costa meno", "price match"),
    "spec": ("material", "ingredient", "waterproof", "water resistant", "dimension", "measure", "compatib",
             "fabric", "made of", "contain", "vegan", "gluten", "allerg", "inhaltsstoff", "wasserdicht", "masse",
             "enthalt", "passt", "composition", "impermeable", "contient", "ingredientes", "medidas", "contiene",
             "ingredienten", "waterdicht", "afmeting", "bevat", "ingredienti", "impermeabil", "misure", "batter",
             "assembl", "wash", "washable", "care instruction", "run small", "runs small", "true to size",
             "fit ", "taillent", "tallan", "vallen", "vestono"),
    "stock": ("in stock", "out of stock", "restock", "back in stock", "sold out", "available", "availability",
              "lieferbar", "verfugbar", "ausverkauft", "disponible", "disponib", "en stock", "agotado",
              "op voorraad", "uitverkocht", "disponibil", "esaurit"),
    "warranty": ("warranty", "guarantee", "garantie", "garantia", "garanzia"),
    "recommend": ("recommend", "suggest", "which one", "difference between", "empfehl", "conseill", "recomiend",
                  "aanraden", "consigli"),
    "login": ("log in", "login", "log-in", "sign in", "signin", "password", "einlogg", "anmeld", "passwort",
              "kennwort", "connecter", "connexion", "mot de passe", "iniciar sesion", "contrasena", "inlogg",
              "wachtwoord", "accedere", "accesso", "locked", "gesperrt", "bloque", "geblokkeerd", "bloccat"),
    "account": ("account", "profile", "konto", "kundenkonto", "profil", "compte", "cuenta", "perfil", "registr",
                "verif", "activat"),
    "unsubscribe": ("unsubscribe", "mailing list", "newsletter", "marketing email", "stop sending", "abmelden",
                    "abbestell", "desinscri", "desabonn", "darme de baja", "denme de baja", "de baja", "afmeld",
                    "disiscri", "cancellatemi"),
    "personal_data": ("gdpr", "dsgvo", "rgpd", "avg ", "personal data", "my data", "meine daten",
                      "personenbezogen", "donnees personnelles", "datos personales", "persoonsgegevens",
                      "dati personali", "delete", "loschen", "supprim", "borrar", "eliminar", "verwijder"),
    "complaint": ("complain", "disappoint", "terrible", "worst", "unacceptable", "rude", "horrible", "awful",
                  "useless", "frustrat", "poor", "not happy", "beschwer", "enttausch", "unfreundlich", "schlecht",
                  "reclamation", "decu", "deplorable", "desagreable", "reclamacion", "decepcion", "pesim",
                  "maleducad", "klacht", "teleurgesteld", "onvriendelijk", "slecht", "reclamo", "delus", "pessim",
                  "scortes"),
    "praise": ("thank", "love", "great", "amazing", "beautiful", "lovely", "excellent", "keep it up",
               "danke", "toll", "wunderbar", "super", "merci", "magnifique", "bravo", "divinement", "gracias",
               "precios", "maravilla", "bedankt", "prachtig", "heerlijk", "grazie", "bellissim", "meraviglios",
               "complimenti"),
    "review": ("review", "feedback", "bewertung", "avis", "opinion", "resena", "recensie", "recension"),
    "human": ("human", "real person", "speak to", "talk to", "agent", "call me", "phone number", "mensch",
              "mitarbeiter", "telefonnummer", "conseiller", "parler a", "persona", "hablar con", "persoon",
              "telefoonnummer", "operatore", "parlare con"),
    "pitch": ("seo", "agency", "partnership", "collaborat", "influencer", "followers", "wholesale", "stockist",
              "sponsor", "agentur", "kooperation", "grosshandel", "wiederverkauf", "agence", "partenariat",
              "revendeur", "agencia", "mayorista", "samenwerking", "groothandel", "agenzia", "ingrosso",
              "marketing", "investment", "crypto", "prize", "winner", "click here"),
    "job": ("apply", "application", "position", "cv", "resume", "hiring", "vacancy", "job", "bewerb", "lebenslauf",
            "stelle", "candidat", "postuler", "curriculum", "sollicit", "vacature", "magazzin"),
    "out_of_office": ("out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
                      "abwesen", "nicht im buro", "absent", "fuera de la oficina", "respuesta automatica",
                      "afwezig", "fuori ufficio", "risposta automatica", "delivery failed", "undeliverable"),
    "hours": ("opening hours", "open on", "hours", "offnungszeit", "erreichbar", "horaire", "horario",
              "openingstijd", "orari"),
    "time": ("when", "how long", "wann", "wie lange", "quand", "combien de temps", "cuando", "cuanto tarda",
             "wanneer", "hoe lang", "quando", "quanto"),
}


_WORD = re.compile(r"\w+")


def _split(concepts: dict[str, tuple[str, ...]]):
    """Single-word stems go to a dictionary looked up per word (and cached with the word's other
    features); stems of several words ("money back", "wo bleibt", "where's") to a table of word
    sequences keyed by their first word."""
    prefix: dict[str, str] = {}  # stem → concept; matches words that start with it
    exact: dict[str, str] = {}  # stem → concept; a trailing space in the table means "whole word only"
    multi: dict[str, dict[tuple[str, ...], tuple[bool, str]]] = {}
    for name, stems in concepts.items():
        for raw in stems:
            words = tuple(_WORD.findall(raw))
            if len(words) == 1 and words[0] == raw.strip():
                (exact if raw.endswith(" ") else prefix).setdefault(words[0], name)
            elif words:
                # The last word may run on ("non ricevut" → "non ricevuto") unless the stem ends
                # with a space or the word is too short to be a stem ("where's" → "where", "s").
                runs_on = not raw.endswith(" ") and len(words[-1]) >= 4
                multi.setdefault(words[0], {}).setdefault(words, (runs_on, name))
    sequences = {first: sorted(((w, *v) for w, v in seqs.items()), key=lambda s: len(s[0]), reverse=True)
                 for first, seqs in multi.items()}  # longest first: "free shipping" before "free"
    return prefix, exact, sequences


_PREFIX, _EXACT, _SEQUENCES = _split(CONCEPTS)
MULTI_FIRST_WORDS = frozenset(_SEQUENCES)
_LENGTHS = sorted({len(stem) for stem in _PREFIX}, reverse=True)


def concept_of_word(word: str) -> str | None:
    """The concept of one normalised word: a whole-word stem, else the longest stem it starts with
    (so "wachtwoord" is login, not "wacht", waiting)."""
    if word in _EXACT:
        return _EXACT[word]
    for length in _LENGTHS:
        if length <= len(word):
            concept = _PREFIX.get(word[:length])
            if concept is not None:
                return concept
    return None


def multi_word_concepts(words: list[str], starts=None) -> list[str]:
    """Concepts of the multi-word stems in a sequence of normalised words (left to right, longest
    stem first, no overlaps). ``starts``: the positions of words in MULTI_FIRST_WORDS, when the
    caller knows them (others are ignored)."""
    found: list[str] = []
    n = len(words)
    at = 0
    if starts is None:
        starts = [i for i, word in enumerate(words) if word in _SEQUENCES]
    for i in starts:
        if i < at or not 0 <= i < n:
            continue
        for seq, runs_on, concept in _SEQUENCES[words[i]]:
            k = len(seq)
            if i + k > n:
                continue
            last = words[i + k - 1]
            if (last.startswith(seq[-1]) if runs_on else last == seq[-1]) and \
                    all(words[i + j] == seq[j] for j in range(1, k - 1)):
                found.append(concept)
                at = i + k
                break
    return found


def concepts_in(normalized_text: str) -> list[str]:
    """Every concept in lower-cased, accent-stripped text: per word, then the multi-word ones."""
    from connector.classify.features import tokens

    words = tokens(normalized_text)
    return [c for c in map(concept_of_word, words) if c] + multi_word_concepts(words)
