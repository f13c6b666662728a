"""A sleepmem plugin that keeps secrets out of the model's weights.

Anything edited into the weights can later be recalled by anyone who talks to that user's
memory, and it cannot be redacted from a log. So a fact that carries a secret is vetoed in
``before_edit``, before the solve: it is never written, never stored in the ledger, and it
costs no edit time.

What counts as a secret:

- credentials: a password, passcode, passphrase, PIN, CVV, one-time or recovery code, seed
  phrase, private key or social security number given as a value ("My password is x");
- API keys and tokens: the known formats (OpenAI/Anthropic ``sk-``, GitHub ``ghp_`` and
  ``github_pat_``, AWS ``AKIA``, Google ``AIza``, Slack ``xox?-``, Stripe, JWTs, PEM private
  keys) and long high-entropy strings next to the words key, token or secret;
- payment card numbers: 13 to 19 digits, spaces or dashes allowed, that pass the Luhn
  check (so "my lucky number is 1234 5678 9012 3456" is not refused);
- IBANs: a known country's length and a valid ISO 7064 mod-97 checksum;
- US social security numbers written as ``123-45-6789``.

It also adds ``/secrets``: how many facts were refused for you (by kind, never the value),
and ``/secrets <text>`` to check a sentence without remembering anything.

The detector (``find_secrets``) is plain Python with no sleepmem import, so it can be reused
and tested on its own.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from sleepmem.plugin import hookimpl

log = logging.getLogger("sleepmem_secret_veto")

CREDENTIAL = "password or credential"
TOKEN = "API key or token"
PRIVATE_KEY = "private key"
CARD = "payment card number"
IBAN = "IBAN"
SSN = "social security number"

_CREDENTIAL_WORDS = (
    r"pass(?:word|wd|code|phrase)|pin(?: code| number)?|cvv|cvc|security code|"
    r"(?:one[- ]time|otp|2fa|mfa|backup|recovery) codes?|seed phrase|mnemonic|"
    r"private key|secret(?: key)?|social security number|ssn"
)
# "my password is x", "wifi passcode: x", "PIN = 1234": the word followed by a value.
_CREDENTIAL_VALUE = re.compile(
    rf"\b(?:{_CREDENTIAL_WORDS})\b\s*(?:is|was|:|=|-)\s*\S", re.IGNORECASE
)
_CREDENTIAL_SLOT = re.compile(rf"\b(?:{_CREDENTIAL_WORDS})\b", re.IGNORECASE)

_TOKEN_PATTERNS = (
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
_KEY_WORDS = re.compile(r"\b(?:api|key|token|secret|bearer|credential)s?\b", re.IGNORECASE)
_LONG_WORD = re.compile(r"[A-Za-z0-9_\-+/=]{20,}")

_CARD_CANDIDATE = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_IBAN_CANDIDATE = re.compile(r"\b([A-Z]{2})(\d{2})((?: ?[A-Z0-9]){10,30})", re.IGNORECASE)

# Total IBAN length per country (ISO 13616 registry), so that trailing words are never
# mistaken for part of the account number.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


# --------------------------------------------------------------------------- checks


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 7064 mod-97: move the first four characters to the end, letters to 10..35."""
    compact = re.sub(r"\s+", "", iban).upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _entropy(word: str) -> float:
    counts = Counter(word)
    return -sum(n / len(word) * math.log2(n / len(word)) for n in counts.values())


def _looks_random(word: str) -> bool:
    """A generated key rather than a word: long, mixed letters and digits, high entropy."""
    classes = sum(any(test(c) for c in word) for test in (str.islower, str.isupper, str.isdigit))
    return len(word) >= 20 and classes >= 2 and _entropy(word) >= 3.5


def _cards(text: str) -> bool:
    for match in _CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        # Issuers' numbers start with 2-6; the check keeps phone numbers and ids out.
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            return True
    return False


def _ibans(text: str) -> bool:
    for match in _IBAN_CANDIDATE.finditer(text):
        country = match.group(1).upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        compact = (match.group(1) + match.group(2) + match.group(3).replace(" ", "")).upper()
        if len(compact) >= length and iban_ok(compact[:length]):
            return True
    return False


def find_secrets(text: str, slot: str = "") -> list[str]:
    """The kinds of secret ``text`` carries (empty: none). Never returns the secret itself.

    ``slot``: what the text is about (a fact's subject, relation and slot), where a
    credential word ("password") means the value is one even without "is".
    """
    kinds: list[str] = []
    if _CREDENTIAL_VALUE.search(text) or (slot and _CREDENTIAL_SLOT.search(slot)):
        kinds.append(CREDENTIAL)
    if _PRIVATE_KEY.search(text):
        kinds.append(PRIVATE_KEY)
    if any(p.search(text) for p in _TOKEN_PATTERNS) or (
        _KEY_WORDS.search(text) and any(_looks_random(w) for w in _LONG_WORD.findall(text))
    ):
        kinds.append(TOKEN)
    if _cards(text):
        kinds.append(CARD)
    if _ibans(text):
        kinds.append(IBAN)
    if _SSN.search(text):
        kinds.append(SSN)
    return kinds


def fact_secrets(fact: Any) -> list[str]:
    """``find_secrets`` over every field of a sleepmem Fact that could hold the value."""
    text = "\n".join(str(getattr(fact, name, "") or "") for name in ("text", "object", "answer"))
    slot = " ".join(
        str(getattr(fact, name, "") or "").replace("_", " ").replace(":", " ")
        for name in ("subject", "relation", "slot")
    )
    return find_secrets(text, slot)


# --------------------------------------------------------------------------- plugin

_refused: dict[str, Counter[str]] = {}
_refused_lock = threading.Lock()


def refused(user_id: str) -> Counter[str]:
    """How many facts were vetoed for ``user_id`` in this process, by kind."""
    with _refused_lock:
        return Counter(_refused.get(user_id, Counter()))


@hookimpl
def before_edit(user_id: str, fact: Any) -> bool | None:
    kinds = fact_secrets(fact)
    if not kinds:
        return None
    with _refused_lock:
        _refused.setdefault(user_id, Counter()).update(kinds)
    # The log names the kind and the fact id, never its text: the log must not leak it either.
    log.warning("refused to remember a %s for user %s (fact %s)", kinds[0], user_id, fact.id)
    return False


def secrets_command(engine: Any, user_id: str, arg: str) -> str:
    if arg.strip():
        kinds = find_secrets(arg)
        if kinds:
            return f"I would not remember that: it looks like a {', '.join(kinds)}."
        return "That looks fine to remember; nothing in it looks like a secret."
    counts = refused(user_id)
    if not counts:
        return "I have not refused anything: nothing you said looked like a secret."
    total = sum(counts.values())
    detail = ", ".join(f"{kind} x{n}" for kind, n in counts.most_common())
    return (
        f"I refused to remember {total} thing{'s' if total != 1 else ''} that looked like "
        f"secrets ({detail}). They were never written into my memory."
    )


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register(
        "secrets",
        secrets_command,
        "/secrets [text]: what I refused to remember because it looked like a secret",
    )
