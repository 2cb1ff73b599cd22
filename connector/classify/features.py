"""Ticket text → a sparse, hashed feature vector for the local model.

Features are word unigrams, word bigrams, character 3–5-grams inside words (they survive typos
and inflection: "refund", "refunded", "refnud" share most of them), subject words and concepts
(connector/classify/concepts.py). Each feature is hashed into one of ``n_buckets`` columns with a
sign from the hash's top bit, so collisions cancel out on average instead of adding up
(Weinberger et al., "Feature hashing for large scale multitask learning", 2009).

Numbers, emails, links, money and codes become placeholder words: "order 1043" and
"order 88121" should look the same to the model.

Built for speed on long emails (feature scheme 2): everything that depends on one word only — its
unigram, character n-grams and concept — is computed once per distinct word and cached; the
features that join words (bigrams, subject words) are hashed from the words' cached 32-bit hashes
with numpy (multiplicative hashing), not from strings. The vector is divided by the square root
of the sum of its squared entries *before* entries landing in the same bucket are added up, so a
model can add up cached per-word contributions instead of building the vector
(``LocalClassifier`` does; tests check that both give the same logits).
"""

from __future__ import annotations

import bisect
import re
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from connector.classify.concepts import LEXICON_VERSION, concept_of_word, multi_word_concepts
from connector.classify.text import latest_message, strip_accents

FEATURE_SCHEME = 2  # 1: string-hashed bigrams, exact L2 norm (models before 2026-11-23)

_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b")
_MONEY = re.compile(
    r"(?:[$€£]\s?\d[\d.,]*|\d[\d.,]*\s?(?:[$€£]|eur\b|usd\b|gbp\b|euros?\b|dollars?\b))"
)
_MONEY_HINTS = ("$", "€", "£", "eur", "usd", "gbp", "dollar")  # _MONEY cannot match without one
_ORDER_REF = re.compile(r"#\s?\d+")
_HAS_DIGIT = re.compile(r"\d")
_WORDS = re.compile(r"\w+")
_PARTS = re.compile(r"[^\W\d_]+|\d+")

PLACEHOLDERS = frozenset({"xurl", "xemail", "xmoney", "xorder", "xcode", "xnum"})

# Multipliers of the pair hashes (odd 64-bit constants; multiplication wraps modulo 2**64 and the
# top bits of the product pick the bucket: multiplicative hashing of already well-mixed CRCs).
_FIRST = np.uint64(0x9E3779B97F4A7C15)
_SECOND = np.uint64(0xC2B2AE3D27D4EB4F)
_SUBJECT = np.uint64(0x165667B19E3779F9)
_SIGN_BIT = np.uint64(40)


@dataclass(frozen=True)
class FeatureConfig:
    """How text becomes features; stored in model.json so a model always reads text its own way."""

    n_buckets: int = 1 << 18
    char_min: int = 3
    char_max: int = 5
    word_weight: float = 1.0
    bigram_weight: float = 0.7
    char_weight: float = 0.7
    subject_weight: float = 0.6
    concept_weight: float = 3.0
    lexicon_version: int = (
        LEXICON_VERSION  # connector/classify/concepts.py; 0 = no concept features
    )
    max_chars: int = 2500
    scheme: int = FEATURE_SCHEME

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values.setdefault("scheme", 1)  # written before the scheme was recorded
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def normalize(text: str) -> str:
    """Lower-case, accents folded, links, emails, money and "#1234" replaced by placeholder words
    (numbers and codes become placeholders word by word: see ``tokens``)."""
    return _placeholders(strip_accents(text.lower()))[0]


def _placeholders(text: str) -> tuple[str, bool]:
    """(text with placeholders, whether anything was replaced) of lower-case, accent-free text."""
    original = text
    if "http" in text or "www." in text:
        text = _URL.sub(" xurl ", text)
    if "@" in text:
        text = _EMAIL.sub(" xemail ", text)
    if any(hint in text for hint in _MONEY_HINTS) and _HAS_DIGIT.search(text):
        text = _MONEY.sub(" xmoney ", text)
    if "#" in text:
        text = _ORDER_REF.sub(" xorder ", text)
    return text, text is not original and text != original


def _canonical(token: str) -> tuple[str, ...]:
    """A ``\\w+`` token that is not all letters, as the model's words: 3+ digits → xnum; 8+
    letters and digits mixed (tracking numbers, codes) → xcode; else its letter and digit runs."""
    if token.isdigit():
        return ("xnum",) if len(token) >= 3 else (token,)
    parts = _PARTS.findall(token)
    if (
        len(token) >= 8
        and token.isalnum()
        and any(p[0].isdigit() for p in parts)
        and any(not p[0].isdigit() for p in parts)
    ):
        return ("xcode",)
    return tuple("xnum" if p.isdigit() and len(p) >= 3 else p for p in parts)


def tokens(text: str) -> list[str]:
    """The model's words of normalised text."""
    return _canonical_words(_WORDS.findall(text))


def _canonical_words(raw: list[str]) -> list[str]:
    """``\\w+`` tokens as the model's words (in place): see ``_canonical``."""
    alpha = list(map(str.isalpha, raw))
    if all(alpha):
        return raw
    for i in reversed([i for i, ok in enumerate(alpha) if not ok]):
        raw[i : i + 1] = _canonical(raw[i])
    return raw


@dataclass(frozen=True)
class Parsed:
    """A ticket's text as the model reads it, plus what the non-ML signals can reuse."""

    subject_words: list[str]
    body_words: list[str]
    plain: str  # subject + "\n" + latest message, lower-case, accents folded (signals.read_signals)
    raw_words: list[str] | None  # ``\\w+`` tokens of ``plain``; None when placeholders changed them


def word_hash(word: str) -> int:
    """A word's 32-bit hash: its id in a model's known-word list, and the seed of its bigrams."""
    return zlib.crc32(word.encode("utf-8"))


@dataclass(frozen=True)
class WordFeatures:
    """Everything about one word that does not depend on its neighbours (plain lists: cheaper to
    build one word at a time than small arrays)."""

    ids: list[int]  # buckets of its unigram, character n-grams and concept
    values: list[float]  # signed weights (float32 values)
    sq: float  # sum of squared values (its share of the normaliser)
    hash: int  # word_hash(word)


class Featurizer:
    """Turns (subject, body) into hashed features. Thread-safe: its caches only ever gain entries
    that are a pure function of the word."""

    _CACHE_LIMIT = 200_000

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._mask = self.config.n_buckets - 1
        if self.config.n_buckets & self._mask or self.config.n_buckets < 2:
            raise ValueError("n_buckets must be a power of two")
        self._shift = np.uint64(64 - (self.config.n_buckets.bit_length() - 1))
        if self.config.scheme != FEATURE_SCHEME:
            raise ValueError(
                f"model uses feature scheme {self.config.scheme}; this Deskguard reads scheme "
                f"{FEATURE_SCHEME}: retrain it (`make model`, or `deskguard train` for a store "
                "model)"
            )
        self._concepts = bool(self.config.lexicon_version and self.config.concept_weight)
        if self._concepts and self.config.lexicon_version != LEXICON_VERSION:
            raise ValueError(
                f"model uses concept lexicon v{self.config.lexicon_version}; "
                f"this Deskguard has v{LEXICON_VERSION}: retrain it"
            )
        self._word_cache: dict[str, WordFeatures] = {}
        # The weights as float32 values, so lists of them turn into the same float32 arrays.
        self._word_weight, self._char_weight, self._concept_weight = (
            float(np.float32(w))
            for w in (self.config.word_weight, self.config.char_weight, self.config.concept_weight)
        )
        self._concept_cache: dict[str, tuple[int, float]] = {}

    # --- words -------------------------------------------------------------------------------
    def words(self, subject: str, latest: str) -> tuple[list[str], list[str]]:
        """The model's words of a subject and of a latest message (already split from quotes)."""
        parsed = self.parse(subject, latest)
        return parsed.subject_words, parsed.body_words

    def parse(self, subject: str, latest: str) -> Parsed:
        subject = (subject or "").strip()
        plain_subject, plain_latest = strip_accents(subject.lower()), strip_accents(latest.lower())
        plain = f"{plain_subject}\n{plain_latest}" if subject else plain_latest
        truncated = len(latest) > self.config.max_chars
        if truncated:
            plain_latest = strip_accents(latest[: self.config.max_chars].lower())
        subject_text, subject_changed = _placeholders(plain_subject)
        body_text, body_changed = _placeholders(plain_latest)
        raw_subject, raw_body = _WORDS.findall(subject_text), _WORDS.findall(body_text)
        shared = None if truncated or subject_changed or body_changed else raw_subject + raw_body
        return Parsed(_canonical_words(raw_subject), _canonical_words(raw_body), plain, shared)

    def text_tokens(self, subject: str, body: str) -> tuple[list[str], list[str]]:
        """Subject words and latest-message words of a ticket."""
        return self.words(subject, latest_message(body))

    def _hashed(self, feature: str, weight: float) -> tuple[int, float]:
        h = zlib.crc32(feature.encode("utf-8"))
        return h & self._mask, (weight if h & 0x80000000 else -weight)

    def word_features(self, word: str) -> WordFeatures:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        cfg = self.config
        grams = ["w|" + word]
        if word not in PLACEHOLDERS and len(word) >= 2:
            padded = f"<{word}>"
            grams += [
                "c|" + padded[i : i + n]
                for n in range(cfg.char_min, cfg.char_max + 1)
                for i in range(len(padded) - n + 1)
            ]
        weights = [self._word_weight] + [self._char_weight] * (len(grams) - 1)
        concept = concept_of_word(word) if self._concepts else None
        if concept:
            grams.append("k|" + concept)
            weights.append(self._concept_weight)
        hashes = list(map(zlib.crc32, map(str.encode, grams)))
        mask = self._mask
        values = [w if h & 0x80000000 else -w for h, w in zip(hashes, weights, strict=True)]
        cached = WordFeatures(
            [h & mask for h in hashes], values, sum(v * v for v in values), word_hash(word)
        )
        if len(self._word_cache) >= self._CACHE_LIMIT:
            self._word_cache.clear()
        self._word_cache[word] = cached
        return cached

    def _concept(self, concept: str) -> tuple[int, float]:
        cached = self._concept_cache.get(concept)
        if cached is None:
            cached = self._concept_cache[concept] = self._hashed(
                "k|" + concept, self.config.concept_weight
            )
        return cached

    # --- features that join words --------------------------------------------------------------
    def joint_features(
        self,
        subject_words: list[str],
        body_words: list[str],
        hashes: np.ndarray,
        multi_starts: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Subject-word, bigram (within the subject, within the body) and multi-word concept
        features: (bucket ids, signed weights). ``hashes``: uint64 word hashes of subject + body;
        ``multi_starts``: where a multi-word concept may start (all positions when None)."""
        cfg = self.config
        n_subject, n = len(subject_words), len(hashes)
        key = np.empty(n_subject + max(n - 1, 0), np.uint64)
        key[:n_subject] = hashes[:n_subject] * _SUBJECT
        key[n_subject:] = hashes[:-1] * _FIRST + hashes[1:] * _SECOND
        values = np.empty(len(key), np.float32)
        values[:n_subject] = cfg.subject_weight
        values[n_subject:] = cfg.bigram_weight
        if 0 < n_subject < n:
            values[2 * n_subject - 1] = 0.0  # no bigram across the subject/body boundary
        ids = (key >> self._shift).astype(np.int64)
        values[((key >> _SIGN_BIT) & np.uint64(1)) == 0] *= -1
        if self._concepts:
            if multi_starts is None:
                found = multi_word_concepts(subject_words) + multi_word_concepts(body_words)
            else:
                starts = multi_starts.tolist()
                cut = bisect.bisect_left(starts, n_subject)
                found = multi_word_concepts(subject_words, starts[:cut]) + multi_word_concepts(
                    body_words, [i - n_subject for i in starts[cut:]]
                )
            if found:
                extra = [self._concept(c) for c in found]
                ids = np.concatenate([ids, np.array([b for b, _ in extra], np.int64)])
                values = np.concatenate([values, np.array([v for _, v in extra], np.float32)])
        return ids, values

    # --- the whole vector (training) -----------------------------------------------------------
    def transform(self, subject: str, body: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Bucket ids (int64, unique), normalised values (float32), and the words they came from."""
        return self.transform_words(*self.text_tokens(subject, body))

    def transform_words(
        self, subject_words: list[str], body_words: list[str]
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        words = subject_words + body_words
        if not words:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), []
        per_word = [self.word_features(word) for word in words]
        hashes = np.fromiter((wf.hash for wf in per_word), np.uint64, len(per_word))
        joint_ids, joint_values = self.joint_features(subject_words, body_words, hashes)
        kept = joint_values != 0
        all_ids = np.concatenate(
            [np.fromiter((i for wf in per_word for i in wf.ids), np.int64), joint_ids[kept]]
        )
        all_values = np.concatenate(
            [np.fromiter((v for wf in per_word for v in wf.values), np.float32), joint_values[kept]]
        )
        norm = np.sqrt(
            sum(wf.sq for wf in per_word)
            + float(np.dot(joint_values.astype(np.float64), joint_values))
        )
        ids, where = np.unique(
            all_ids, return_inverse=True
        )  # one value per bucket: collisions add up
        # float64 (weighted): the stubs type bincount as int whatever the weights.
        values: np.ndarray = np.bincount(where, weights=all_values, minlength=len(ids))
        if norm > 0:
            values /= norm
        return ids, values.astype(np.float32), words
