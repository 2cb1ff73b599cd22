"""The embedded local engine: a hashed n-gram linear model with calibrated, novelty-aware
confidence. Pure numpy at inference; no network, no GPU, loads in well under a second.

How a ticket is read:
1. ``Featurizer`` turns subject + latest message into hashed word/bigram/char-n-gram features.
2. A multinomial logistic regression scores the categories; softmax at a fitted temperature gives
   the alternatives' scores.
3. The confidence is a *calibrated probability that the top category is right*: a small logistic
   model over (top score, margin to the runner-up, share of known words, number of known words,
   share of known word pairs, margin without the strongest word, and a never-positive offset per
   top category), fitted on held-out realistic tickets by ``connector.classify.train``.
4. It knows what it does not know: when too few of the words were ever seen in training
   (gibberish, another language, code, a recipe), the confidence is capped, and below a floor
   the reading falls back to ``other`` with a reason saying so.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from connector.classify.concepts import MULTI_FIRST_WORDS
from connector.classify.features import PLACEHOLDERS, FeatureConfig, Featurizer, Parsed
from connector.classify.signals import FUNCTION_WORDS, read_signals
from connector.classify.text import split_email
from connector.domain import CATEGORIES, Reading, TicketText
from connector.errors import ConfigError

MODEL_JSON = "model.json"
WEIGHTS = "weights.npz"
FORMAT_VERSION = 1


def default_model_dir() -> Path:
    """The model shipped inside the package (built by scripts/train_default_model.py)."""
    return Path(str(resources.files("connector.classify") / "model"))


@dataclass(frozen=True)
class Novelty:
    """Confidence caps from how familiar the words are (model.json "novelty")."""

    abstain_below: float = 0.35  # share of known words under which the reading becomes `other`
    full_above: float = 0.75  # share of known words from which confidence is not capped
    min_known_words: int = 2  # fewer known words than this also abstains
    abstain_confidence: float = 0.5  # highest confidence an abstention (`other`) may carry
    # Text built like code, markup or logs: CODE_CHARS per word, once there are at least
    # code_min_chars of them (a lone "=)" or "<3" is a smiley). Customers' messages stay below
    # 0.1 (4,700 hand-written tickets, 2026-11-22); SQL and HTML reach 0.3 to 1.5.
    code_full_below: float = 0.1  # no cap below this
    code_abstain_above: float = 0.2  # abstain to `other` from here; capped linearly in between
    code_min_chars: int = 3

    def limit(self, known_ratio: float, known_words: int, codeish: float) -> tuple[float, bool]:
        """(the highest confidence a reading may carry, whether it abstains to `other`) from the
        share and number of known words and the code share (``code_share``)."""
        cap = min(
            1.0,
            max(
                0.0,
                (known_ratio - self.abstain_below)
                / max(self.full_above - self.abstain_below, 1e-6),
            ),
        )
        if codeish > self.code_full_below:
            cap = min(
                cap,
                max(
                    0.0,
                    (self.code_abstain_above - codeish)
                    / max(self.code_abstain_above - self.code_full_below, 1e-6),
                ),
            )
        abstained = (
            known_ratio < self.abstain_below
            or known_words < self.min_known_words
            or codeish >= self.code_abstain_above
        )
        return cap, abstained


# Brackets are not in the list: "[Ticket #88213]" and "[EXTERNAL]" are ordinary email subjects.
CODE_CHARS = "{};=<>_|\\`"


def code_share(text: str, words: int, min_chars: int = 3) -> float:
    """Characters typical of code and markup (``CODE_CHARS``) per word of ``text``; 0 when there
    are fewer than ``min_chars`` of them."""
    found = sum(map(text.count, CODE_CHARS))
    return found / max(words, 1) if found >= min_chars else 0.0


@dataclass(frozen=True)
class Scored:
    """The model's raw view of one ticket, before it becomes a Reading (used by eval and train)."""

    probs: np.ndarray  # temperature-scaled softmax over model categories
    category: str
    confidence: float
    known_ratio: float
    known_words: int
    abstained: bool
    calibration_features: np.ndarray
    tokens: list[str]
    code_share: float = 0.0  # see Novelty.code_full_below
    pair_ratio: float = 0.0  # share of consecutive word pairs seen in training


BASE_INPUTS = (
    "bias",
    "logit of the top score",
    "log ratio of the top two scores",
    "share of known words",
    "log(1 + known words)",
    # Distance from what was learnt, at the level of word pairs: "when is my paycheck arriving"
    # has familiar words but pairs no training ticket had.
    "share of known word pairs",
    # Evidence beyond one word: the top category's log ratio to the best other category once the
    # word that pushes it most is taken out. A reading that hangs on one keyword ("bill",
    # "order") drops; one with an ask spread over the message keeps its margin.
    "log ratio of the top category without its strongest word",
)
# Then one input per category, 1 for the top category: a per-category offset. Confident readings
# are not equally reliable across categories: in cross-validation on the training tickets,
# readings of store tickets as `other` at ≥ 0.9 were wrong 13 % of the time (store complaints,
# loyalty points, product questions) against about 1 % for the store categories, while CLINC150
# dev's off-topic questions are rightly `other`; a shared intercept cannot say both. The offsets
# are fitted on the same held-out rows after the shared inputs and are never positive
# (``train.category_offsets``): they only lower a category's confidence (docs/QUALITY.md).
CATEGORY_INPUTS = tuple(f"top category is {c}" for c in CATEGORIES)
CALIBRATION_INPUTS = BASE_INPUTS + CATEGORY_INPUTS
LOO_CLIP = 8.0  # the last base input is clipped to ±LOO_CLIP


def calibration_features(
    probs: np.ndarray,
    known_ratio: float,
    known_words: int,
    pair_ratio: float = 0.0,
    loo_logits: np.ndarray | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Inputs of the confidence calibrator (order matters: it is stored as coefficients): the
    ``BASE_INPUTS``, then a one-hot of the top category over the model's categories.
    ``loo_logits``: the raw logits without the strongest word of the top category."""
    top = int(probs.argmax())
    onehot = np.zeros(len(probs), np.float64)
    onehot[top] = 1.0
    top2 = np.sort(probs)[-2:]
    p1 = float(min(max(top2[1], 1e-6), 1 - 1e-6))
    p2 = float(max(top2[0], 1e-6))
    loo = 0.0
    if loo_logits is not None and len(loo_logits) > 1:
        z = np.asarray(loo_logits, np.float64) / temperature  # a new array: free to change
        best = z[top]
        z[top] = -np.inf  # the best of the rest, without np.delete's copy
        loo = float(min(max(best - z.max(), -LOO_CLIP), LOO_CLIP))
    base = np.array(
        [
            1.0,
            math.log(p1 / (1 - p1)),
            math.log(p1 / p2),
            known_ratio,
            math.log1p(known_words),
            pair_ratio,
            loo,
        ],
        dtype=np.float64,
    )
    return np.concatenate([base, onehot])


_PAIR_FIRST = np.uint64(0x9E3779B97F4A7C15)
_PAIR_SECOND = np.uint64(0xC2B2AE3D27D4EB4F)
_PAIR_SHIFT = np.uint64(32)


def pair_fingerprints(hashes: np.ndarray) -> np.ndarray:
    """32-bit fingerprints of consecutive word pairs, from uint64 word hashes (known pairs are
    stored as these in weights.npz ``known_pairs``)."""
    if len(hashes) < 2:
        return np.zeros(0, np.uint32)
    h = np.asarray(hashes, np.uint64)
    with np.errstate(over="ignore"):
        key = h[:-1] * _PAIR_FIRST + h[1:] * _PAIR_SECOND
    return (key >> _PAIR_SHIFT).astype(np.uint32)


@dataclass(frozen=True)
class Evidence:
    """What the confidence is calibrated on besides the scores (see CALIBRATION_INPUTS)."""

    known_ratio: float
    known_words: int
    pair_ratio: float
    loo_logits: np.ndarray


@dataclass(frozen=True)
class Vocabulary:
    """Word-table rows shipped with a model (weights.npz ``vocab_*``): the words it was trained
    on, with their rows computed at save time from the saved (float16) weights by the same code
    as at reading time, so a fresh process reads familiar words as fast as a warm one and gets
    exactly the same numbers (a test compares them with rows computed on the fly)."""

    words: list[str]
    contrib: np.ndarray  # float32, (words, categories)
    sq: np.ndarray  # float64
    hashes: np.ndarray  # uint32 word_hash of each word

    ARRAYS = ("vocab_words", "vocab_contrib", "vocab_sq", "vocab_hashes")

    @classmethod
    def from_arrays(cls, data) -> Vocabulary | None:
        if not all(name in data for name in cls.ARRAYS):
            return None
        raw = bytes(data["vocab_words"]).decode("utf-8")
        words = raw.split("\n") if raw else []
        contrib, sq, hashes = data["vocab_contrib"], data["vocab_sq"], data["vocab_hashes"]
        if not (len(words) == len(contrib) == len(sq) == len(hashes)):
            raise ConfigError("model vocabulary arrays disagree in length: rebuild the model")
        return cls(
            words, contrib.astype(np.float32), sq.astype(np.float64), hashes.astype(np.uint64)
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "vocab_words": np.frombuffer("\n".join(self.words).encode("utf-8"), np.uint8),
            "vocab_contrib": self.contrib.astype(np.float32),
            "vocab_sq": self.sq.astype(np.float64),
            "vocab_hashes": self.hashes.astype(np.uint32),
        }


class _WordTable:
    """Per model: each distinct word's contribution to the logits (its unigram, character n-grams
    and concept features times the weights), its share of the normaliser, its hash, and whether
    it counts for familiarity and reasons — computed once, then a reading only adds up rows.
    Rows are only ever appended (under a lock), so readers never see a row change."""

    LIMIT = 200_000  # words learnt while reading (beyond the shipped rows) before starting afresh

    def __init__(self, model: LocalClassifier, vocabulary: Vocabulary | None = None) -> None:
        self.model = model
        self.rows: dict[str, int] = {}
        self.words: list[str] = []
        n_classes = len(model.categories)
        size = 1024 + (len(vocabulary.words) if vocabulary else 0)
        self.contrib = np.zeros((size, n_classes), np.float32)
        self.sq = np.zeros(size, np.float64)
        self.hashes = np.zeros(size, np.uint64)
        self.real = np.zeros(
            size, bool
        )  # counts for familiarity (≥ 2 letters, not a number or placeholder)
        self.known = np.zeros(size, bool)
        self.explains = np.zeros(size, bool)  # may be named in a reading's reasons
        self.multi = np.zeros(size, bool)  # may start a multi-word concept
        self.lock = threading.Lock()
        if vocabulary:
            self._fill(vocabulary.words, vocabulary.contrib, vocabulary.sq, vocabulary.hashes)
        self.shipped = len(self.words)  # rows that came with the model

    def indices(self, words: list[str]) -> np.ndarray:
        try:  # the usual case on a warm table: every word has its row
            return np.fromiter(map(self.rows.__getitem__, words), np.intp, len(words))
        except KeyError:
            pass
        get = self.rows.get
        idx = [get(w, -1) for w in words]
        if -1 in idx:
            with self.lock:
                new = [
                    w
                    for w in dict.fromkeys(w for w, i in zip(words, idx, strict=True) if i < 0)
                    if w not in self.rows
                ]
                if new:
                    self._add(new)
                rows = self.rows
                idx = [rows[w] for w in words]
        return np.array(idx, np.intp)

    def _add(self, words: list[str]) -> None:
        """Rows for new words, all at once (one gather of their weights). Caller holds the lock."""
        start = len(self.words)
        end = start + len(words)
        if end > len(self.sq):
            grow = max(2 * len(self.sq), end)
            self.contrib = np.concatenate(
                [
                    self.contrib,
                    np.zeros((grow - len(self.contrib), self.contrib.shape[1]), np.float32),
                ]
            )
            self.sq, self.hashes = np.resize(self.sq, grow), np.resize(self.hashes, grow)
            self.real, self.known = np.resize(self.real, grow), np.resize(self.known, grow)
            self.explains, self.multi = np.resize(self.explains, grow), np.resize(self.multi, grow)
        model = self.model
        feats = [model.featurizer.word_features(w) for w in words]
        ids = np.fromiter((i for f in feats for i in f.ids), np.intp)
        values = np.fromiter((v for f in feats for v in f.values), np.float32)
        offsets = np.cumsum([0] + [len(f.ids) for f in feats[:-1]])
        self._fill(
            words,
            np.add.reduceat(values[:, None] * model.weights[ids], offsets, axis=0),
            [f.sq for f in feats],
            [f.hash for f in feats],
        )

    def _fill(self, words: list[str], contrib, sq, hashes) -> None:
        """Rows ``len(self.words)`` onwards for ``words`` (there is room). Caller holds the lock
        (or owns the table)."""
        start = len(self.words)
        end = start + len(words)
        model = self.model
        self.contrib[start:end] = contrib
        self.sq[start:end] = sq
        self.hashes[start:end] = hashes
        real = [len(w) >= 2 and not w.isdigit() and w not in PLACEHOLDERS for w in words]
        self.real[start:end] = real
        known_words = model.known_words
        self.known[start:end] = [
            r and int(h) in known_words
            for r, h in zip(real, self.hashes[start:end].tolist(), strict=True)
        ]
        self.explains[start:end] = [
            len(w) >= 3 and w not in PLACEHOLDERS and w not in FUNCTION_WORDS for w in words
        ]
        self.multi[start:end] = [w in MULTI_FIRST_WORDS for w in words]
        self.words.extend(words)
        rows = self.rows
        for row, word in enumerate(
            words, start
        ):  # last: a reader that finds a row finds it filled in
            rows[word] = row


class LocalClassifier:
    """Reads tickets with a model directory (model.json + weights.npz). Thread-safe."""

    engine = "local"
    _cache: dict[str, tuple[tuple[int, int] | None, LocalClassifier]] = {}
    _cache_lock = threading.Lock()

    def __init__(
        self,
        meta: dict,
        weights: np.ndarray,
        bias: np.ndarray,
        known_words: np.ndarray,
        path: Path | None = None,
        *,
        vocabulary: Vocabulary | list[str] | None = None,
        known_pairs: np.ndarray | None = None,
    ) -> None:
        """``vocabulary``: precomputed rows (from weights.npz), or the words to precompute rows
        for when the model is saved (training passes the words it saw), or None.
        ``known_pairs``: fingerprints of the word pairs seen in training (``pair_fingerprints``);
        a model without them reads every pair as unknown (its calibrator gives that no weight)."""
        self.meta = meta
        self.path = path
        self.categories: tuple[str, ...] = tuple(meta["categories"])
        missing = set(CATEGORIES) - set(self.categories)
        if missing:
            raise ConfigError(f"model at {path} lacks categories: {', '.join(sorted(missing))}")
        try:
            self.featurizer = Featurizer(FeatureConfig.from_dict(meta["features"]))
        except ValueError as exc:
            raise ConfigError(f"model at {path}: {exc}") from None
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        if self.weights.shape != (self.featurizer.config.n_buckets, len(self.categories)):
            raise ConfigError(
                f"model at {path}: weights shape {self.weights.shape} does not match model.json"
            )
        self.known_words = frozenset(int(h) for h in known_words)
        self.known_pairs = np.unique(
            np.asarray(known_pairs if known_pairs is not None else [], np.uint32)
        )
        self._vocabulary = vocabulary if isinstance(vocabulary, Vocabulary) else None
        self.vocabulary_words: list[str] = list(
            vocabulary.words if isinstance(vocabulary, Vocabulary) else vocabulary or []
        )
        self._table = _WordTable(self, self._vocabulary)
        self.temperature = float(meta.get("temperature", 1.0))
        # The base inputs, then one per category (a model's categories are CATEGORIES, in its
        # own order). Inputs a calibrator does not mention get no weight: a model calibrated
        # before the per-category inputs reads as it always did.
        calibrator = np.zeros(len(BASE_INPUTS) + len(self.categories))
        given = np.asarray(meta.get("calibrator", [0.0, 1.0]), dtype=np.float64)[: len(calibrator)]
        calibrator[: len(given)] = given
        self.calibrator = calibrator
        self.novelty = Novelty(**meta.get("novelty", {}))
        self.model_id = str(meta.get("model_id", "local"))
        self._other = self.categories.index("other")

    # --- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> LocalClassifier:
        """The model in ``model_dir`` (a tenant model from ``deskguard train``), or the shipped
        default when None/empty. Loaded once per directory and process, then shared; loaded
        again when its files change (``deskguard train`` into the same directory)."""
        path = Path(model_dir) if model_dir else default_model_dir()
        key = str(path.resolve())
        try:
            stamp = ((path / MODEL_JSON).stat().st_mtime_ns, (path / WEIGHTS).stat().st_mtime_ns)
        except OSError:
            stamp = None  # from_dir below raises the clear error
        with cls._cache_lock:
            cached = cls._cache.get(key)
            if cached is None or cached[0] != stamp:
                cached = cls._cache[key] = (stamp, cls.from_dir(path))
            return cached[1]

    @classmethod
    def from_dir(cls, path: str | Path) -> LocalClassifier:
        path = Path(path)
        meta_file, weights_file = path / MODEL_JSON, path / WEIGHTS
        if not meta_file.is_file() or not weights_file.is_file():
            raise ConfigError(
                f"no local model at {path} (expected {MODEL_JSON} and {WEIGHTS}); "
                "build one with `deskguard train` or `make model`"
            )
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise ConfigError(
                f"model at {path} has format {meta.get('format')!r}; this Deskguard reads "
                f"format {FORMAT_VERSION}"
            )
        with np.load(weights_file) as data:
            return cls(
                meta,
                data["weights"],
                data["bias"],
                data["known_words"],
                path=path,
                vocabulary=Vocabulary.from_arrays(data),
                known_pairs=data.get("known_pairs"),
            )

    def save(self, path: str | Path, *, extra_arrays: dict[str, np.ndarray] | None = None) -> Path:
        """Write model.json + weights.npz (weights as float16: half the size, same readings)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "known_words": np.array(sorted(self.known_words), dtype=np.uint32),
            **({"known_pairs": self.known_pairs} if len(self.known_pairs) else {}),
            **(extra_arrays or {}),
        }
        if self.vocabulary_words:
            arrays.update(
                self._vocabulary_rows(arrays["weights"], arrays["known_words"]).to_arrays()
            )
        # The stubs also match **arrays against allow_pickle (bool); no key here is named that.
        np.savez_compressed(path / WEIGHTS, **arrays)  # type: ignore[arg-type]
        # The id hashes the arrays, not the file (zip entries carry a timestamp): the same training
        # inputs give the same id. The confidence settings count too: the same weights with
        # another calibration read differently, so they are another model.
        digest = hashlib.sha256()
        for key in sorted(arrays):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(arrays[key]).tobytes())
        reading = {k: self.meta.get(k) for k in ("temperature", "calibrator", "novelty")}
        digest.update(json.dumps(reading, sort_keys=True).encode())
        short = digest.hexdigest()[:12]
        self.meta["model_id"] = self.model_id = f"{self.meta.get('name', 'local')}-{short}"
        (path / MODEL_JSON).write_text(
            json.dumps(self.meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return path

    def _vocabulary_rows(self, saved_weights: np.ndarray, known: np.ndarray) -> Vocabulary:
        """Rows of ``vocabulary_words`` as a model loaded from the saved arrays computes them."""
        saved = LocalClassifier(self.meta, saved_weights.astype(np.float32), self.bias, known)
        words = list(dict.fromkeys(self.vocabulary_words))
        table = saved._table
        table.indices(words)
        n = len(table.words)
        return Vocabulary(
            table.words[:n], table.contrib[:n].copy(), table.sq[:n].copy(), table.hashes[:n].copy()
        )

    # --- reading -----------------------------------------------------------------------
    def logits(self, subject: str, body: str) -> tuple[np.ndarray, list[str]]:
        """Raw category scores of a ticket, and its words (subject first)."""
        logits, words, *_ = self._read(subject, split_email(body)[0])
        return logits, words

    def _read(
        self, subject: str, latest: str
    ) -> tuple[np.ndarray, list[str], np.ndarray, _WordTable, Parsed, np.ndarray, np.ndarray]:
        """(logits, words, their word-table rows, the table, the parsed text, the logits without
        the top category's strongest word, the distinct rows in ascending order): the same
        numbers as ``featurizer.transform`` times the weights, added up from cached per-word rows
        instead of building the vector."""
        table = self._table
        if (
            len(table.words) >= table.shipped + _WordTable.LIMIT
        ):  # bounded memory; shipped rows stay
            table = self._table = _WordTable(self, self._vocabulary)
        parsed = self.featurizer.parse(subject, latest)
        subject_words, body_words = parsed.subject_words, parsed.body_words
        words = subject_words + body_words
        if not words:
            empty = self.bias.astype(np.float64)
            none = np.zeros(0, np.intp)
            return empty, words, none, table, parsed, empty, none
        idx = table.indices(words)
        joint_ids, joint_values = self.featurizer.joint_features(
            subject_words, body_words, table.hashes[idx], np.flatnonzero(table.multi[idx])
        )
        per_word = table.contrib[idx]
        raw = per_word.sum(axis=0, dtype=np.float64) + joint_values @ self.weights[joint_ids]
        norm = math.sqrt(float(table.sq[idx].sum()) + float(np.dot(joint_values, joint_values)))
        logits = raw / norm + self.bias
        distinct = np.unique(idx, return_inverse=True)  # once, for this and the reasons
        return (
            logits,
            words,
            idx,
            table,
            parsed,
            self._without_strongest(logits, per_word, idx, norm, distinct),
            distinct[0],
        )

    @staticmethod
    def _without_strongest(
        logits: np.ndarray,
        per_word: np.ndarray,
        idx: np.ndarray,
        norm: float,
        distinct: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The logits with every occurrence of the one word that most separates the top category
        from the runner-up taken out (its own features only; pairs it is part of stay).
        ``distinct``: ``np.unique(idx, return_inverse=True)`` when the caller has it."""
        top = int(logits.argmax())
        rest = logits.astype(np.float64)  # a copy
        rest[top] = -np.inf
        runner = int(rest.argmax())
        push = per_word[:, top].astype(np.float64) - per_word[:, runner]
        words, where = distinct if distinct is not None else np.unique(idx, return_inverse=True)
        if len(words) == 1:
            strongest = np.ones(len(idx), bool)
        else:
            strongest = where == int(np.argmax(np.bincount(where, weights=push)))
        return logits - per_word[strongest].sum(axis=0, dtype=np.float64) / norm

    def _pair_ratio(self, idx: np.ndarray, table: _WordTable) -> float:
        """Share of consecutive word pairs (subject and body run together) seen in training."""
        if len(idx) < 2 or not len(self.known_pairs):
            return 0.0
        pairs = pair_fingerprints(table.hashes[idx])
        at = np.searchsorted(self.known_pairs, pairs)
        at[at == len(self.known_pairs)] = 0
        return float((self.known_pairs[at] == pairs).mean())

    def calibration_inputs(self, subject: str, body: str) -> tuple[np.ndarray, Evidence]:
        """(logits, evidence) of a ticket, read exactly as ``classify`` reads it: what
        confidence is calibrated on (``connector.classify.train``)."""
        logits, _, idx, table, _, loo, _ = self._read(subject, split_email(body)[0])
        ratio, known = self._familiar(idx, table)
        return logits, Evidence(ratio, known, self._pair_ratio(idx, table), loo)

    @staticmethod
    def _familiar(idx: np.ndarray, table: _WordTable) -> tuple[float, int]:
        real = int(table.real[idx].sum()) if len(idx) else 0
        known_words = int(table.known[idx].sum()) if real else 0
        return (known_words / real if real else 0.0), known_words

    def score(self, subject: str, body: str) -> Scored:
        return self._score(subject, split_email(body)[0])[0]

    def _score(
        self, subject: str, latest: str
    ) -> tuple[Scored, tuple[np.ndarray, _WordTable, np.ndarray], Parsed]:
        logits, words, idx, table, parsed, loo, distinct = self._read(subject, latest)
        z = logits / self.temperature
        z = np.exp(z - z.max())
        probs = z / z.sum()
        known_ratio, known_words = self._familiar(idx, table)
        pair_ratio = self._pair_ratio(idx, table)
        feats = calibration_features(
            probs, known_ratio, known_words, pair_ratio, loo, self.temperature
        )
        confidence = 1.0 / (1.0 + math.exp(-float(feats @ self.calibrator)))
        nov = self.novelty
        codeish = code_share(f"{subject}\n{latest}", len(words), nov.code_min_chars)
        cap, abstained = nov.limit(known_ratio, known_words, codeish)
        confidence = min(confidence, cap)
        top = int(np.argmax(probs))
        if abstained:
            top = self._other
            confidence = min(float(probs[self._other]), nov.abstain_confidence)
        return (
            Scored(
                probs=probs,
                category=self.categories[top],
                confidence=float(confidence),
                known_ratio=known_ratio,
                known_words=known_words,
                abstained=abstained,
                calibration_features=feats,
                tokens=words,
                code_share=codeish,
                pair_ratio=pair_ratio,
            ),
            (idx, table, distinct),
            parsed,
        )

    def classify(self, text: TicketText) -> Reading:
        started = time.perf_counter()
        parts = split_email(text.body)
        scored, rows, parsed = self._score(text.subject, parts[0])
        order = np.argsort(-scored.probs)[:3]
        alternatives = tuple((self.categories[i], round(float(scored.probs[i]), 4)) for i in order)
        signals = read_signals(
            text.subject,
            text.body,
            category=scored.category,
            parts=parts,
            plain=parsed.plain,
            words=parsed.raw_words,
        )
        return Reading(
            category=scored.category,
            confidence=round(scored.confidence, 4),
            alternatives=alternatives,
            sentiment=signals.sentiment,
            sentiment_score=signals.sentiment_score,
            urgency=signals.urgency,
            language=signals.language,
            entities=signals.entities,
            reasons=self._reasons(scored, *rows),
            risk_flags=signals.risk_flags,
            engine="local",
            model=self.model_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def _reasons(
        self,
        scored: Scored,
        idx: np.ndarray,
        table: _WordTable,
        distinct: np.ndarray | None = None,
    ) -> tuple[str, ...]:
        """``distinct``: ``np.unique(idx)`` when the caller has it."""
        reasons = []
        nov = self.novelty
        if scored.abstained and scored.code_share >= nov.code_abstain_above:
            reasons.append(
                f"looks like code or markup, not a customer's message "
                f"({scored.code_share:.2f} of {{}};=<>_| per word)"
            )
        elif scored.abstained:
            reasons.append(
                f"unfamiliar text: {scored.known_ratio:.0%} of its words were seen in training"
            )
        else:
            if distinct is None:
                distinct = np.unique(idx)
            rows = distinct[table.explains[distinct]] if len(idx) else idx
            if len(rows):
                push = table.contrib[rows, self.categories.index(scored.category)]
                best = np.argsort(-push, kind="stable")[:3]
                top = [table.words[rows[i]] for i in best if push[i] > 0]
                if top:
                    reasons.append("key words: " + ", ".join(top))
            if scored.known_ratio < nov.full_above:
                reasons.append(
                    f"confidence capped: only {scored.known_ratio:.0%} of the words are familiar"
                )
            if scored.code_share > nov.code_full_below:
                reasons.append("confidence capped: the text looks partly like code or markup")
        return tuple(reasons)
