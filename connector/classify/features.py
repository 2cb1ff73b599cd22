"""Ticket text → a sparse, hashed feature vector for the local model.

Features are word unigrams, word bigrams, character 3–5-grams inside words (they survive typos
and inflection: "refund", "refunded", "refnud" share most of them) and subject words. Each
feature is hashed (CRC-32, stable across processes and platforms) into one of ``n_buckets``
columns with a sign from the hash's top bit, so collisions cancel out on average instead of
adding up (Weinberger et al., "Feature hashing for large scale multitask learning", 2009).

Numbers, emails, links, money and codes are replaced by placeholder words first: "order 1043"
and "order 88121" should look the same to the model.
"""

from __future__ import annotations

import itertools
import re
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from connector.classify.concepts import LEXICON_VERSION, MULTI_FIRST_WORDS, concept_of_word, multi_word_concepts
from connector.classify.text import latest_message, strip_accents

_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b")
_MONEY = re.compile(r"(?:[$€£]\s?\d[\d.,]*|\d[\d.,]*\s?(?:[$€£]|eur\b|usd\b|gbp\b|euros?\b|dollars?\b))")
_ORDER_REF = re.compile(r"#\s?\d+")
_CODE = re.compile(r"\b(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{8,}\b")  # tracking numbers, coupon-like codes
_NUMBER = re.compile(r"\d+")
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+", re.U)

PLACEHOLDERS = frozenset({"xurl", "xemail", "xmoney", "xorder", "xcode", "xnum"})


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
    lexicon_version: int = LEXICON_VERSION  # connector/classify/concepts.py; 0 = no concept features
    max_chars: int = 2500

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)


def normalize(text: str) -> str:
    """Lower-case, accents folded, entities replaced by placeholder words."""
    text = strip_accents(text.lower())
    text = _URL.sub(" xurl ", text)
    text = _EMAIL.sub(" xemail ", text)
    text = _MONEY.sub(" xmoney ", text)
    text = _ORDER_REF.sub(" xorder ", text)
    text = _CODE.sub(" xcode ", text)
    return _NUMBER.sub(lambda m: " xnum " if len(m.group(0)) >= 3 else f" {m.group(0)} ", text)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _hash(feature: str, mask: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode("utf-8"))
    return h & mask, (1.0 if h & 0x80000000 else -1.0)


def word_hash(word: str) -> int:
    """The id of a word in a model's known-word list (its training vocabulary)."""
    return zlib.crc32(word.encode("utf-8"))


class Featurizer:
    """Turns (subject, body) into (bucket ids, values, tokens). Thread-safe: the per-word cache
    only ever gains entries that are a pure function of the word."""

    _CACHE_LIMIT = 200_000

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._mask = self.config.n_buckets - 1
        if self.config.n_buckets & self._mask:
            raise ValueError("n_buckets must be a power of two")
        self._concepts = bool(self.config.lexicon_version and self.config.concept_weight)
        if self._concepts and self.config.lexicon_version != LEXICON_VERSION:
            raise ValueError(f"model uses concept lexicon v{self.config.lexicon_version}; "
                             f"this Deskguard has v{LEXICON_VERSION}: retrain it")
        self._word_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _weighted(self, feature: str, weight: float) -> tuple[int, float]:
        bucket, sign = _hash(feature, self._mask)
        return bucket, sign * weight

    def _word_arrays(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """A word's own features: unigram, character n-grams and its concept, cached per word."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        cfg = self.config
        feats = [self._weighted("w|" + word, cfg.word_weight)]
        if word not in PLACEHOLDERS and len(word) >= 2:
            padded = f"<{word}>"
            for n in range(cfg.char_min, cfg.char_max + 1):
                for i in range(len(padded) - n + 1):
                    feats.append(self._weighted("c|" + padded[i: i + n], cfg.char_weight))
        if self._concepts:
            concept = concept_of_word(word)
            if concept:
                feats.append(self._weighted("k|" + concept, cfg.concept_weight))
        cached = (np.fromiter((b for b, _ in feats), np.int64, len(feats)),
                  np.fromiter((v for _, v in feats), np.float32, len(feats)))
        if len(self._word_cache) >= self._CACHE_LIMIT:
            self._word_cache.clear()
        self._word_cache[word] = cached
        return cached

    def text_tokens(self, subject: str, body: str) -> tuple[list[str], list[str]]:
        """Subject tokens and latest-message tokens, normalised."""
        subject_text, body_text = self._normalized(subject, body)
        return tokens(subject_text), tokens(body_text)

    def _normalized(self, subject: str, body: str) -> tuple[str, str]:
        return normalize(subject or ""), normalize(latest_message(body)[: self.config.max_chars])

    def transform(self, subject: str, body: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Bucket ids (int64, unique), L2-normalised values (float32), and the tokens they came from."""
        cfg = self.config
        subject_text, body_text = self._normalized(subject, body)
        subject_tokens, body_tokens = tokens(subject_text), tokens(body_text)
        words = subject_tokens + body_tokens
        parts = [self._word_arrays(word) for word in words]
        # Subject words, bigrams and multi-word concepts, hashed inline: the hot path of every reading.
        extra = [("s|" + word, cfg.subject_weight) for word in subject_tokens]
        extra += [(f"b|{first}|{second}", cfg.bigram_weight)
                  for first, second in itertools.pairwise([*subject_tokens, "|", *body_tokens])
                  if first != "|" and second != "|"]
        if self._concepts and not MULTI_FIRST_WORDS.isdisjoint(words):
            extra += [("k|" + concept, cfg.concept_weight)
                      for concept in multi_word_concepts(f"{subject_text}\n{body_text}")]
        if extra:
            crc32, mask = zlib.crc32, self._mask
            hashes = [crc32(feature.encode("utf-8")) for feature, _ in extra]
            parts.append((np.array([h & mask for h in hashes], np.int64),
                          np.array([w if h & 0x80000000 else -w for h, (_, w) in zip(hashes, extra, strict=True)],
                                   np.float32)))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), []
        all_ids = np.concatenate([ids for ids, _ in parts])
        all_values = np.concatenate([values for _, values in parts])
        ids, where = np.unique(all_ids, return_inverse=True)  # one value per bucket: collisions add up
        values = np.bincount(where, weights=all_values, minlength=len(ids)).astype(np.float32)
        norm = float(np.sqrt(values @ values))
        if norm > 0:
            values /= norm
        return ids, values, words

    def word_contributions(self, words: list[str], column: np.ndarray) -> list[tuple[str, float]]:
        """How much each distinct word (its unigram, character n-grams and concept) pushes toward
        one category, given that category's weight column; used for a reading's reasons."""
        distinct = [w for w in dict.fromkeys(words) if w not in PLACEHOLDERS and len(w) >= 3]
        if not distinct:
            return []
        arrays = [self._word_arrays(word) for word in distinct]
        ids = np.concatenate([a for a, _ in arrays])
        values = np.concatenate([v for _, v in arrays])
        starts = np.cumsum([0] + [len(a) for a, _ in arrays[:-1]])
        totals = np.add.reduceat(values * column[ids], starts)
        return sorted(zip(distinct, totals.tolist(), strict=True), key=lambda item: item[1], reverse=True)
