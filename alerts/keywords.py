"""SMS keywords a patient may answer: opt-out, opt-in and help, in every template language.

Sources (the sets the provider and the carriers act on, so our record agrees with the block
the provider applies to the number):

- Twilio, "Twilio support for opt-out keywords (SMS STOP filtering)": opt-out STOP, STOPALL,
  UNSUBSCRIBE, CANCEL, END, QUIT; opt-in START, YES, UNSTOP; HELP and INFO are answered
  without changing consent. Twilio's French-Canadian opt-outs ARRET, ARRETE, ARRETT
  (Twilio Proxy, "Opt-out keywords").
- FCC 24-24 (47 CFR 64.1200(a)(10), in force 2025): "stop", "quit", "end", "revoke",
  "opt out", "cancel" and "unsubscribe" revoke consent; CTIA Messaging Principles and Best
  Practices (2023) likewise list OPTOUT and REVOKE.
- AWS End User Messaging SMS, "Required opt-out list keywords": ARRET, CANCEL, END,
  OPT-OUT, OPTOUT, QUIT, REMOVE, STOP, TD, UNSUBSCRIBE.
- Portuguese, Spanish and French words a patient plausibly answers to "Responda STOP para
  sair" / "Responda STOP para salir" / "Répondez STOP pour arrêter": the verbs of the
  templates themselves (SAIR, SALIR, ARRÊTER) and the usual unsubscribe words of each
  language (CANCELAR, PARAR, BAJA, DESABONNER, DÉSINSCRIRE...).

Matching follows the providers: the keyword must be the whole message; case, accents,
surrounding spaces and punctuation do not matter, and a multi-word keyword ("STOP ALL",
"OPT OUT", "NO MAS") matches with spaces, hyphens or nothing between its words. A longer
sentence ("please stop") changes nothing: providers do not act on it either. Opt-in stays
with the carrier set only: a word we read as "yes" that the provider does not would record
consent while the provider keeps blocking the number.
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# One table: normalised keyword -> (meaning, language or "carrier").
KEYWORDS: dict[str, tuple[Keyword, str]] = {
    # Carrier and regulator opt-outs (Twilio, CTIA, FCC 24-24, AWS).
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "REMOVE"), (Keyword.OPT_OUT, "carrier")),
    # French (Twilio's and AWS's Canadian French set, plus the template's own verb).
    **dict.fromkeys(("ARRET", "ARRETE", "ARRETT", "ARRETER", "TD", "DESABONNER", "DESABONNEMENT", "DESINSCRIRE", "DESINSCRIPTION", "ANNULER"), (Keyword.OPT_OUT, "fr")),
    # Portuguese.
    **dict.fromkeys(("PARAR", "PARE", "SAIR", "CANCELAR", "DESCADASTRAR", "REMOVER"), (Keyword.OPT_OUT, "pt")),
    # Spanish ("PARAR" and "CANCELAR" are Portuguese and Spanish alike).
    **dict.fromkeys(("BAJA", "SALIR", "ALTO", "DETENER", "NOMAS", "DESUSCRIBIR", "ANULAR"), (Keyword.OPT_OUT, "es")),
    # Opt-in: the carrier set only (see the module docstring).
    **dict.fromkeys(("START", "UNSTOP", "YES"), (Keyword.OPT_IN, "carrier")),
    # Help: answered, consent unchanged.
    **dict.fromkeys(("HELP", "INFO"), (Keyword.HELP, "carrier")),
    "AIDE": (Keyword.HELP, "fr"),
    "AJUDA": (Keyword.HELP, "pt"),
    "AYUDA": (Keyword.HELP, "es"),
}  # fmt: skip

# What a provider ignores around and inside a keyword: whitespace, punctuation, symbols
# (emoji included), and the separators of a multi-word keyword.
_IGNORED_CATEGORIES = ("Z", "P", "S", "C")


def normalise(body: str) -> str:
    """The message as providers compare it: accents stripped, upper case, no spaces or
    punctuation ("  Arrêt ! " -> "ARRET", "stop-all" -> "STOPALL", "Opt out." -> "OPTOUT")."""
    decomposed = unicodedata.normalize("NFKD", body or "")
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":  # combining accent: Ê -> E
            continue
        if category[0] in _IGNORED_CATEGORIES:
            continue
        kept.append(char)
    # casefold: ß -> ss, dotless i variants; then upper for the table's spelling.
    return "".join(kept).casefold().upper()


_WORDS = re.compile(r"\w+", re.UNICODE)


def classify(body: str) -> Keyword | None:
    """The meaning of an inbound SMS, or None when it is not a keyword on its own.

    A message of more than a few words is never a keyword (providers require the keyword
    alone); "STOP ALL" and "OPT OUT" are two words and match.
    """
    if len(_WORDS.findall(body or "")) > 3:
        return None
    entry = KEYWORDS.get(normalise(body))
    return entry[0] if entry else None


# The answer to a help keyword, in the patient's language: GSM-7 only, one segment.
HELP_REPLY = {
    "en": "Your clinic's reminders. To book or ask, call {phone}. Reply STOP to opt out.",
    "pt": "Lembretes da sua clinica. Para marcar ligue {phone}. Responda STOP para sair.",
    "es": "Recordatorios de su clinica. Para citas llame al {phone}. Responda STOP para salir.",
    "fr": "Rappels de votre clinique. Rendez-vous : {phone}. Repondez STOP pour arreter.",
}
