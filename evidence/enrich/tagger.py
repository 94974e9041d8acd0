"""Tagger: scores texts against the domains of a codebook with three
methods (phrase rules, embedding similarity, a trained classifier) and
combines them into one score per (text, domain), keeping the sentence that
supports it.

Plain data in, plain data out: the build (evidence/enrich/tagging.py) and the
evaluation (evidence/enrich/evaluate.py) both use it. numpy is needed; spaCy,
scikit-learn and the embedding model are used only through the objects
passed in or imported inside the methods that need them.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from evidence.errors import EvidenceError

METHODS = ("rule", "embedding", "classifier")
# a line wholly in Markdown emphasis ("*Source: ...*") is an attribution, not content
_ATTRIBUTION = re.compile(r"^([*_])[^*_].*\1$", re.DOTALL)


@dataclass
class Label:
    """One domain of a codebook, as the tagger sees it."""

    key: str  # "<framework>/<domain>" in the build; the label itself in eval
    label: str
    description: str = ""
    examples: list[str] = field(default_factory=list)

    def anchors(self) -> list[str]:
        """The texts that describe the domain: label, description, examples."""
        return [t for t in [self.label, self.description, *self.examples] if t and t.strip()]


@dataclass
class Settings:
    """Tagging settings (pipelines/tagging.yml); see that file."""

    weights: dict[str, float] = field(default_factory=lambda: {"rule": 0.25, "embedding": 1.0, "classifier": 1.0})
    similarity_low: float = 0.1
    similarity_high: float = 0.6
    similarity_top_k: int = 3
    threshold: float = 0.35
    max_tags_per_framework: int = 4
    min_examples: int = 3
    classifier_c: float = 4.0
    training: list[str] = field(default_factory=list)
    # a sentence's score is multiplied by its role's weight (sentence roles,
    # evidence.enrich.nlp_components); texts with no listed people are 'other'
    role_weights: dict[str, float] = field(default_factory=dict)
    # per-domain thresholds (domain key -> threshold); others use `threshold`
    thresholds: dict[str, float] = field(default_factory=dict)
    # the threshold of a domain scored without a classifier (too few labelled
    # examples: a codebook with no training data), whose score is the rule
    # and embedding alone; None: `threshold`
    codebook_threshold: float | None = None
    # every sentence of a tag scoring at least max(threshold - support_below,
    # best - support_margin) is listed as supporting it (and highlighted):
    # the tag needs its threshold, a sentence beside its best a little less
    support_margin: float = 1.0
    support_below: float = 0.0
    # the classifier also sees a sentence's neighbours (the mean vector of the
    # sentences before and after it in the same story), times this weight,
    # when its training data says which sentences are neighbours (a `story`
    # column); 0: the sentence alone
    context_weight: float = 0.35
    # the domains the classifier does not score (for_trained sets it; not a setting)
    _unscored: tuple[str, ...] = ()

    def threshold_for(self, keys: Sequence[str]) -> np.ndarray:
        """The threshold of each domain key (per-domain, else the default)."""
        return np.array([self.thresholds.get(k, self.threshold) for k in keys], dtype=np.float32)

    def support_floors(self, keys: Sequence[str]) -> np.ndarray:
        """The score a sentence beside a tag's best needs to support it, per
        domain key: the domain's threshold, less `support_below` where the
        classifier scores the domain (a codebook-only domain's threshold was
        chosen for its sentences as they are: lower, they were worse)."""
        below = np.array([0.0 if k in self._unscored else self.support_below for k in keys], dtype=np.float32)
        return self.threshold_for(keys) - below

    def version(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def for_trained(self, keys: Sequence[str], trained: Sequence[bool]) -> "Settings":
        """These settings as a tagger uses them once it knows which domains
        its classifier scores: a domain it does not score gets
        `codebook_threshold` (unless `thresholds` names it)."""
        unscored = tuple(k for k, t in zip(keys, trained) if not t)
        if self.codebook_threshold is None:
            return replace(self, _unscored=unscored)
        extra = {k: self.codebook_threshold for k in unscored if k not in self.thresholds}
        return replace(self, thresholds={**extra, **self.thresholds}, _unscored=unscored)


def load_settings(root: Path | None) -> Settings:
    """Settings from ROOT/pipelines/tagging.yml (defaults where absent). A
    value the tagger would run with but not as meant (a threshold of 5 tags
    nothing, -0.5 everything; a misspelt role's weight is never used) is
    refused in one line naming the file, the line and the setting."""
    from evidence.content.settings import read_settings

    s = Settings()
    path = Path(root or ".") / "pipelines" / "tagging.yml"
    data = read_settings(path, tuple(k for k in Settings.__dataclass_fields__ if not k.startswith("_")))

    def number(key: str, value: Any, low: float | None = None, high: float | None = None, whole: bool = False,
               name: str | None = None) -> float:
        return _setting_number(path, key, value, low, high, whole, name)

    for key, value in data.items():
        if key == "weights":
            if not isinstance(value, dict) or set(value) - set(METHODS):
                raise _setting_error(path, key, f"'weights' maps {', '.join(METHODS)} to numbers")
            s.weights = {**s.weights, **{k: number(key, v, 0, name=f"weights.{k}") for k, v in value.items()}}
            if not any(w > 0 for w in s.weights.values()):
                raise _setting_error(path, key, "'weights' are all 0, so no method scores; give one a weight above 0")
        elif key == "training":
            if value is not None and not isinstance(value, list):  # a string would be read letter by letter
                raise _setting_error(path, key, f"'training' is {value!r}; write it as a list, one CSV path a line "
                                                "after '- ' (training:\\n  - pipelines/training/stories_dev.csv)")
            s.training = [str(v) for v in (value or [])]
        elif key == "codebook_threshold":
            s.codebook_threshold = None if value is None else number(key, value, 0, 1)
        elif key in ("role_weights", "thresholds"):
            if not isinstance(value, dict):
                raise _setting_error(path, key, f"'{key}' maps names to numbers, not {value!r}")
            if key == "role_weights":
                _check_roles(path, value)
            setattr(s, key, {str(k): number(key, v, 0, 1, name=f"{key}.{k}") for k, v in value.items()})
        elif value is not None:
            low, high, whole = _BOUNDS.get(key, (None, None, False))
            setattr(s, key, type(getattr(s, key))(number(key, value, low, high, whole)))
    if s.similarity_low >= s.similarity_high:
        raise _setting_error(path, "similarity_low", f"'similarity_low' ({s.similarity_low:g}) must be below "
                             f"'similarity_high' ({s.similarity_high:g}); they map a similarity to 0.05 and 0.95")
    return s


# (lowest, highest, whole number) of each plain number setting of tagging.yml
_BOUNDS: dict[str, tuple[float | None, float | None, bool]] = {
    "threshold": (0, 1, False), "similarity_low": (-1, 1, False), "similarity_high": (-1, 1, False),
    "similarity_top_k": (1, None, True), "max_tags_per_framework": (1, None, True), "min_examples": (1, None, True),
    "classifier_c": (1e-9, None, False), "support_margin": (0, None, False), "support_below": (0, 1, False),
    "context_weight": (0, 1, False)}


def _setting_error(path: Path, key: str, message: str) -> EvidenceError:
    """An error naming the settings file, the line of `key` and the problem."""
    line = None
    try:
        line = next((i for i, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
                     if not text.lstrip().startswith("#") and re.search(rf"(?<![\w/-]){re.escape(key)}\s*:", text)), None)
    except (OSError, UnicodeDecodeError):
        pass
    return EvidenceError(f"{path}:{line}: {message}" if line else f"{path}: {message}")


def _setting_number(path: Path, key: str, value: Any, low: float | None, high: float | None, whole: bool,
                    name: str | None = None) -> float:
    """`value` as a number within [low, high] (a whole one when `whole`), or
    an error at its line; a yes/no is no number (true would be 1)."""
    name = name or key
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number != number:
        problem = "a number"
    elif whole and not number.is_integer():
        problem = "a whole number"
    elif (low is not None and number < low) or (high is not None and number > high):
        problem = None
    else:
        return number
    if problem is None:
        problem = (f"a number between {low:g} and {high:g}" if low is not None and high is not None else
                   f"{'a whole number' if whole else 'a number'} of {low:g} or more" if low and low >= 1 else
                   "a number above 0" if low else "a number of 0 or more")
    where = key if name == key else name.split(".", 1)[-1]
    raise _setting_error(path, where, f"'{name}' is {value!r}; write {problem}")


def check_thresholds(root: Path | None, settings: Settings, domains: Iterable[str]) -> None:
    """A per-domain threshold must name a domain of the evidence base's
    codebooks: a misspelt key ('ascot/contrl-over-daily-life') would leave
    that domain at the default threshold without a word."""
    from evidence.content.yamldoc import suggest

    known = sorted(domains)
    for key in settings.thresholds:
        if key not in known:
            raise _setting_error(Path(root or ".") / "pipelines" / "tagging.yml", key,
                                 f"'thresholds' has the unknown domain '{key}'{suggest(key, known)}; a key is "
                                 "<framework>/<domain> as the codebooks in pipelines/frameworks/ give it")


def _check_roles(path: Path, weights: dict) -> None:
    """A role_weights key must be a sentence role: a misspelt one ('comentary')
    would leave that role at weight 1 without a word."""
    from evidence.enrich.nlp_components import ROLES

    known = [r for r in ROLES if r != "none"]
    for role in weights:
        if role not in known:
            raise _setting_error(path, str(role), f"'role_weights' has the unknown role '{role}'; the roles are: "
                                 f"{', '.join(known)}")


@dataclass
class ItemScores:
    """Per-unit scores of one text: units are (start, end, text) spans
    (sentences, or the whole text); arrays are units x labels."""

    units: list[tuple[int, int, str]]
    rule: np.ndarray
    embedding: np.ndarray  # rescaled similarity in [0, 1]
    classifier: np.ndarray | None  # NaN where the label has no classifier
    similarity: np.ndarray | None = None  # raw cosine, for inspection
    factor: np.ndarray | None = None  # per unit: its sentence role's weight (1 when none)
    roles: list[str] | None = None  # per unit: its sentence role


@dataclass
class Tag:
    """One (text, domain) decision with its evidence."""

    key: str
    score: float
    unit: int
    methods: list[str]
    rule: float
    embedding: float
    classifier: float | None


class Tagger:
    """Scores texts against `labels`. `nlp` is a spaCy pipeline with a
    sentencizer and token.norm_ stems (evidence.enrich.nlp); `embedder` has
    encode(list[str]) -> L2-normalised vectors."""

    def __init__(self, labels: Sequence[Label], embedder: Any, nlp: Any, settings: Settings | None = None):
        if not labels:
            raise EvidenceError("the codebook has no domains to tag with")
        self.labels = list(labels)
        self.keys = [lab.key for lab in self.labels]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.embedder = embedder
        self.nlp = nlp
        self.settings = settings or Settings()
        self.classifier: Any = None
        self.trained: np.ndarray = np.zeros(len(self.labels), dtype=bool)
        self.examples_per_label: np.ndarray = np.zeros(len(self.labels), dtype=int)
        self._anchor_owner: list[int] = []
        anchors: list[str] = []
        for i, lab in enumerate(self.labels):
            for text in lab.anchors():
                anchors.append(text)
                self._anchor_owner.append(i)
        self._anchor_owner_arr = np.array(self._anchor_owner)
        self.anchor_vectors = np.asarray(embedder.encode(anchors), dtype=np.float32)
        self._matcher = self._phrase_matcher()

    @property
    def effective_settings(self) -> Settings:
        """The settings as they apply to this tagger's domains: those its
        classifier does not score get `codebook_threshold`."""
        return self.settings.for_trained(self.keys, self.trained)

    # -- the three methods ---------------------------------------------------

    def _phrase_matcher(self):
        from spacy.matcher import PhraseMatcher

        matcher = PhraseMatcher(self.nlp.vocab, attr="NORM")
        stem = self.nlp.get_pipe("stem_norm") if "stem_norm" in self.nlp.pipe_names else None
        for i, lab in enumerate(self.labels):
            phrases = [p for p in [lab.label, *lab.examples] if p.strip()]
            docs = [self.nlp.make_doc(p) for p in phrases]
            if stem is not None:
                docs = [stem(d) for d in docs]
            # one- or two-letter phrases and bare stop words match everywhere: skip them
            docs = [d for d in docs if len(d.text.strip()) > 3 and not all(t.is_stop or t.is_punct for t in d)]
            if docs:
                matcher.add(str(i), docs)
        return matcher

    def units(self, doc: Any, whole_text_max_words: int = 0) -> list[tuple[int, int, str]]:
        """The spans scored for one doc: its sentences, or the whole text when
        it is at most `whole_text_max_words` words long."""
        from evidence.enrich.nlp import sentence_units

        text = doc.text.strip()
        if whole_text_max_words and len(text.split()) <= whole_text_max_words and text:
            lead = len(doc.text) - len(doc.text.lstrip())
            return [(lead, lead + len(text), text)]
        units = [u for u in sentence_units(doc) if not _ATTRIBUTION.match(u[2])]
        return units or ([(0, len(doc.text), doc.text)] if text else [])

    def analyse(self, docs: Sequence[Any], whole_text_max_words: int = 0, batch_size: int = 64) -> list[ItemScores]:
        """Score every unit of every doc with each method (batched encoding)."""
        all_units = [self.units(d, whole_text_max_words) for d in docs]
        flat = [u[2] for units in all_units for u in units]
        vecs = np.asarray(self.embedder.encode(flat, batch_size=batch_size), dtype=np.float32) if flat else np.zeros((0, 1), np.float32)
        sim = self._similarity(vecs) if flat else np.zeros((0, len(self.labels)), np.float32)
        clf = self._predict(flat, self._features(vecs, [len(u) for u in all_units])) if flat else None
        out, pos = [], 0
        lo, hi = self.settings.similarity_low, self.settings.similarity_high
        for doc, units in zip(docs, all_units):
            n = len(units)
            rule = np.zeros((n, len(self.labels)), dtype=np.float32)
            for match_id, start, end in self._matcher(doc):
                label = int(self.nlp.vocab.strings[match_id])
                a, b = doc[start:end].start_char, doc[start:end].end_char
                for u, (us, ue, _) in enumerate(units):
                    if a >= us and b <= ue:
                        rule[u, label] = 1.0
            s = sim[pos:pos + n]
            roles = unit_roles(doc, units)
            factor = np.array([1.0 if r == "none" else self.settings.role_weights.get(r, 1.0) for r in roles], dtype=np.float32)
            out.append(ItemScores(units=units, rule=rule, embedding=rescale(s, lo, hi),
                                  classifier=None if clf is None else clf[pos:pos + n], similarity=s,
                                  factor=factor, roles=roles))
            pos += n
        return out

    def _features(self, vecs: np.ndarray, runs: Sequence[int]) -> np.ndarray:
        """The classifier's dense features of units whose vectors are `vecs`,
        in runs of neighbours (a doc's units): the vectors, and when the
        classifier was trained with context, their neighbours' mean beside."""
        if self.classifier is None or self.classifier.dense_dim <= vecs.shape[1]:
            return vecs
        return np.hstack([vecs, self.settings.context_weight * neighbours(vecs, runs)])

    def _similarity(self, vecs: np.ndarray) -> np.ndarray:
        """units x labels: the mean of the `similarity_top_k` best cosines
        between a unit and the label's anchors (vectors are normalised, so a
        dot product); measured better than the single best or a centroid."""
        cos = vecs @ self.anchor_vectors.T
        out = np.full((len(vecs), len(self.labels)), -1.0, dtype=np.float32)
        k = max(1, self.settings.similarity_top_k)
        for i in range(len(self.labels)):
            cols = self._anchor_owner_arr == i
            if cols.any():
                c = cos[:, cols]
                out[:, i] = np.sort(c, axis=1)[:, -k:].mean(axis=1) if c.shape[1] > 1 else c[:, 0]
        return out

    def fit(self, texts: Sequence[str], label_sets: Sequence[Iterable[str]],
            negatives: Sequence[Iterable[str]] | None = None, vectors: np.ndarray | None = None,
            scope: Sequence[Iterable[str] | None] | None = None, stories: Sequence[str] | None = None) -> "Tagger":
        """Train the classifier (one logistic regression per label, one-vs-rest,
        balanced classes) on labelled texts. `negatives[i]` names labels text i
        is known NOT to have (rejected tags). `scope[i]` names the labels text
        i was labelled for (None: all): for any other label it is neither a
        positive nor a negative and is left out of that label's regression (a
        CSV labelled for another codebook says nothing about this one's
        domains). `stories[i]` names the story text i is a sentence of
        ('' for none): consecutive texts of one story are neighbours, and
        with `context_weight` the classifier learns from each text's
        neighbours too (the sentences' context, as a coder reads them).
        Labels with fewer than min_examples positives get no classifier.
        Returns self."""
        self.classifier, self.trained = None, np.zeros(len(self.labels), dtype=bool)
        if not texts:
            return self
        Y = np.zeros((len(texts), len(self.labels)), dtype=np.int8)  # 1 yes, -1 known no, 0 unknown (a no)
        for r, labs in enumerate(label_sets):
            for k in labs:
                if k in self.index:
                    Y[r, self.index[k]] = 1
        for r, labs in enumerate(negatives or []):
            for k in labs:
                if k in self.index and Y[r, self.index[k]] != 1:
                    Y[r, self.index[k]] = -1
        known = np.ones(Y.shape, dtype=bool)  # rows labelled for the label (a 0 there is a no)
        masks: dict[frozenset, np.ndarray] = {}
        for r, keys in enumerate(scope or []):
            if keys is not None:
                keys = frozenset(keys)
                if keys not in masks:
                    masks[keys] = np.array([k in keys for k in self.keys], dtype=bool)
                known[r] = masks[keys]
        known |= Y == 1
        self.examples_per_label = (Y == 1).sum(axis=0)
        usable = (self.examples_per_label >= max(1, self.settings.min_examples)) & (((Y != 1) & known).sum(axis=0) > 0)
        if not usable.any():
            return self
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vecs = np.asarray(self.embedder.encode(list(texts)) if vectors is None else vectors, dtype=np.float32)
        if stories is not None and self.settings.context_weight > 0 and any(stories):
            vecs = np.hstack([vecs, self.settings.context_weight * neighbours(vecs, story_runs(stories))])
        # words seen once are noise in a large training set but all there is in a small one
        tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2 if len(texts) >= 1000 else 1,
                                max_features=200_000, token_pattern=LinearClassifier.TOKEN.pattern)
        from scipy.sparse import csr_matrix, hstack

        X = hstack([tfidf.fit_transform(list(texts)), csr_matrix(vecs)]).tocsr()
        from threadpoolctl import threadpool_limits

        models = {}
        # liblinear makes thousands of tiny BLAS calls: with a second BLAS
        # thread that a busy machine does not schedule, a 0.02 s fit took 1.7 s
        with threadpool_limits(1, user_api="blas"):
            for i in np.flatnonzero(usable):
                rows = np.flatnonzero(known[:, i])
                y = (Y[rows, i] == 1).astype(int)
                m = LogisticRegression(C=self.settings.classifier_c, class_weight="balanced", max_iter=2000,
                                       solver="liblinear", random_state=0)
                models[int(i)] = m.fit(X if len(rows) == len(texts) else X[rows], y)
        self.classifier = LinearClassifier.from_sklearn(tfidf, models, len(self.labels))
        self.trained = usable
        return self

    def use_classifier(self, classifier: "LinearClassifier") -> "Tagger":
        """Use a classifier fitted before (read back from the working
        database) instead of fitting one; returns self."""
        if classifier.n_labels != len(self.labels):
            raise EvidenceError(f"a stored classifier has {classifier.n_labels} domains, the codebook {len(self.labels)}")
        self.classifier = classifier
        self.trained = np.zeros(len(self.labels), dtype=bool)
        self.trained[classifier.label_index] = True
        return self

    def _predict(self, texts: list[str], vecs: np.ndarray) -> np.ndarray | None:
        if not self.classifier:
            return None
        return self.classifier.predict(texts, vecs)


def story_runs(stories: Sequence[str]) -> list[int]:
    """The lengths of the runs of consecutive rows of one story (a row with
    no story is a run of its own)."""
    runs: list[int] = []
    for i, sid in enumerate(stories):
        if i and sid and sid == stories[i - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def neighbours(vecs: np.ndarray, runs: Sequence[int]) -> np.ndarray:
    """Each row's context: the mean of the rows just before and after it
    within its run (zeros for a run of one)."""
    out = np.zeros_like(vecs)
    pos = 0
    for n in runs:
        if n > 1:
            v = vecs[pos:pos + n]
            total = np.zeros_like(v)
            total[1:] += v[:-1]
            total[:-1] += v[1:]
            count = np.full((n, 1), 2.0, dtype=vecs.dtype)
            count[0] = count[-1] = 1.0
            out[pos:pos + n] = total / count
        pos += n
    return out


class LinearClassifier:
    """The fitted classifier in plain numpy: tf-idf of words and word pairs
    (computed as scikit-learn's TfidfVectorizer does: lower case, words of
    two or more characters, 1 + log tf, smoothed idf, unit length) beside
    the sentence vector, and one logistic regression per trained domain.

    Predicting needs neither scikit-learn nor scipy (importing them costs
    seconds a curator would wait), and the whole classifier round-trips
    through bytes, so a build stores it and the next one reads it back."""

    TOKEN = re.compile(r"(?u)\b\w\w+\b")
    FORMAT = "1"

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 label_index: Sequence[int], n_labels: int, ngrams: int = 2):
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)  # trained labels x (terms + vector dimensions)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.label_index = np.asarray(label_index, dtype=np.int64)
        self.n_labels = int(n_labels)
        self.ngrams = int(ngrams)

    def __bool__(self) -> bool:
        return len(self.label_index) > 0

    @classmethod
    def from_sklearn(cls, tfidf: Any, models: dict[int, Any], n_labels: int) -> "LinearClassifier":
        order = sorted(models)
        return cls({str(k): int(v) for k, v in tfidf.vocabulary_.items()}, tfidf.idf_,
                   np.vstack([models[i].coef_[0] for i in order]) if order else np.zeros((0, 0)),
                   np.array([models[i].intercept_[0] for i in order]), order, n_labels, tfidf.ngram_range[1])

    @property
    def dense_dim(self) -> int:
        """How many dense features (sentence vector, and context) it takes."""
        return int(self.coef.shape[1] - len(self.idf)) if self.coef.size else 0

    def terms(self, text: str) -> list[str]:
        words = self.TOKEN.findall(text.lower())
        out = list(words)
        for n in range(2, self.ngrams + 1):
            out += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        return out

    def decision(self, texts: Sequence[str], vecs: np.ndarray) -> np.ndarray:
        """texts x trained labels: each regression's decision value."""
        n_terms = len(self.idf)
        out = np.asarray(vecs, dtype=np.float64) @ self.coef[:, n_terms:].T + self.intercept
        for r, text in enumerate(texts):
            counts: dict[int, int] = {}
            for term in self.terms(text):
                j = self.vocabulary.get(term)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            val = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[idx]
            val /= np.sqrt(val @ val)
            out[r] += self.coef[:, idx] @ val
        return out

    def predict(self, texts: Sequence[str], vecs: np.ndarray) -> np.ndarray:
        """texts x all labels: the probability of each trained label (NaN for
        a label with no classifier: a gap, not a zero)."""
        out = np.full((len(texts), self.n_labels), np.nan, dtype=np.float32)
        if len(texts) and len(self.label_index):
            d = np.clip(self.decision(texts, vecs), -500, 500)
            out[:, self.label_index] = 1.0 / (1.0 + np.exp(-d))
        return out

    def to_bytes(self) -> bytes:
        import io

        terms = sorted(self.vocabulary, key=self.vocabulary.get)
        buf = io.BytesIO()
        np.savez(buf, format=np.array([self.FORMAT]), terms=np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
                 idf=self.idf, coef=self.coef, intercept=self.intercept, label_index=self.label_index,
                 shape=np.array([self.n_labels, self.ngrams]))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "LinearClassifier | None":
        """The classifier, or None when the bytes are of another format."""
        import io

        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            if str(z["format"][0]) != cls.FORMAT:
                return None
            text = z["terms"].tobytes().decode("utf-8")
            terms = text.split("\n") if text else []
            n_labels, ngrams = (int(x) for x in z["shape"])
            return cls({t: i for i, t in enumerate(terms)}, z["idf"], z["coef"], z["intercept"], z["label_index"],
                       n_labels, ngrams)
        except (ValueError, KeyError, OSError, UnicodeDecodeError):
            return None


def unit_roles(doc: Any, units: list[tuple[int, int, str]]) -> list[str]:
    """The sentence role of each unit (doc._.sentence_roles, set by the
    evidence_sentence_roles component; 'none' when it is absent: a text
    with no listed people, whose sentences are not weighed)."""
    spans = doc._.sentence_roles if hasattr(doc, "has_extension") and doc.has_extension("sentence_roles") else None
    if not spans:
        return ["none"] * len(units)
    out = []
    for us, ue, _ in units:
        role = "none"
        for s, e, r in spans:
            if s <= us < e or (us <= s < ue):
                role = r
                break
        out.append(role)
    return out


# ---------------------------------------------------------------------------
# Combining


def rescale(similarity: np.ndarray, low: float, high: float) -> np.ndarray:
    """Cosine similarity to (0, 1) with a logistic curve: `low` maps to about
    0.05, `high` to about 0.95. Strictly increasing, so it never turns two
    different similarities into a tie (a clipped line did, and the best label
    of a short text was then picked arbitrarily)."""
    mid, width = (low + high) / 2, max(high - low, 1e-6) / 6
    return (1.0 / (1.0 + np.exp(-(similarity - mid) / width))).astype(np.float32)


def combine(item: ItemScores, weights: dict[str, float]) -> np.ndarray:
    """units x labels combined score: the weighted mean of the methods
    available for each label (the classifier only where it was trained)."""
    num = weights.get("rule", 0) * item.rule + weights.get("embedding", 0) * item.embedding
    den = np.full(item.rule.shape, weights.get("rule", 0) + weights.get("embedding", 0), dtype=np.float32)
    if item.classifier is not None and weights.get("classifier", 0):
        have = ~np.isnan(item.classifier)
        num = num + np.where(have, weights["classifier"] * np.nan_to_num(item.classifier), 0)
        den = den + np.where(have, weights["classifier"], 0)
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if item.factor is not None and len(item.factor) == len(out):
        out = out * item.factor[:, None]
    return out


def item_matrix(items: Sequence[ItemScores], weights: dict[str, float], n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(items x labels best combined score, items x labels index of the unit
    that gives it)."""
    scores = np.zeros((len(items), n_labels), dtype=np.float32)
    best = np.zeros((len(items), n_labels), dtype=np.int64)
    for r, item in enumerate(items):
        if not item.units:
            continue
        c = combine(item, weights)
        best[r] = c.argmax(axis=0)
        scores[r] = c.max(axis=0)
    return scores, best


def decide_matrix(scores: np.ndarray, threshold: float, min_labels: int = 0, max_labels: int = 0) -> np.ndarray:
    """rows x labels booleans: every score >= threshold, at most max_labels
    (the best; 0: no limit), and at least min_labels (the best ones)."""
    if scores.size == 0:
        return np.zeros(scores.shape, dtype=bool)
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(len(scores))[:, None], order] = np.arange(scores.shape[1])[None, :]
    chosen = scores >= threshold
    if max_labels:
        chosen &= rank < max_labels
    if min_labels:
        chosen |= rank < min_labels
    return chosen


def decide(scores: np.ndarray, threshold: float, min_labels: int = 0, max_labels: int = 0) -> list[list[int]]:
    """Label indices per row (best first), as decide_matrix chooses them."""
    chosen = decide_matrix(scores, threshold, min_labels, max_labels)
    return [[int(i) for i in np.argsort(-row, kind="stable") if c[i]] for row, c in zip(scores, chosen)]


def choose(best: np.ndarray, keys: Sequence[str], settings: Settings, skip: Iterable[str] = ()) -> list[int]:
    """The domains suggested for one item from its best score per domain:
    at or above the domain's threshold, best first, at most
    max_tags_per_framework per framework (a framework is the part of the
    key before '/'); keys in `skip` (curators' decisions) are left out."""
    thresholds, skip, per_fw, out = settings.threshold_for(keys), set(skip), {}, []
    for i in np.argsort(-best, kind="stable"):
        if best[i] < thresholds[i] or keys[i] in skip:
            continue
        fw = keys[i].split("/", 1)[0]
        if per_fw.get(fw, 0) >= settings.max_tags_per_framework:
            continue
        per_fw[fw] = per_fw.get(fw, 0) + 1
        out.append(int(i))
    return out


def crosswalk_targets(best: np.ndarray, chosen: Iterable[str], keys: Sequence[str], crosswalk: dict[str, list[str]],
                      settings: Settings, taken: Iterable[str] = ()) -> list[tuple[int, str]]:
    """(target index, source key) for each domain reached through the
    crosswalk (a domain's maps_to) from a chosen one, in the order chosen.
    A target is judged on its own sentences, as a coder judges each domain
    on its own description: it is reached only when its own best score
    reaches its threshold. The crosswalk lets it past the per-framework cap;
    it does not lend it the source's evidence (copying the source's sentence
    and score cost precision and cited sentences that do not show the
    target, measured on the development split: docs/tagging.md). Keys in
    `taken` (already tagged or decided by a curator) are left alone."""
    index, chosen = {k: i for i, k in enumerate(keys)}, list(chosen)
    thresholds, done, out = settings.threshold_for(keys), set(chosen) | set(taken), []
    for key in chosen:
        for target in crosswalk.get(key, []):
            j = index.get(target)
            if j is None or target in done or best[j] < thresholds[j]:
                continue
            done.add(target)
            out.append((j, key))
    return out


def supporting_units(c: np.ndarray, i: int, threshold: float, margin: float, first: int | None = None) -> list[int]:
    """The units that support label i (a column of the combined scores):
    every unit scoring at least the threshold and within `margin` of the
    best, best first; `first` (a curator's sentence) leads when given.
    Never empty: a curator's decision on a domain no sentence reaches has
    the best unit (or the curator's)."""
    col = c[:, i]
    floor = max(float(threshold), float(col.max()) - margin)
    units = [int(u) for u in np.argsort(-col, kind="stable") if col[u] >= floor] or [int(col.argmax())]
    if first is not None:
        units = [first] + [u for u in units if u != first]
    return units


def supporting_methods(rule: float, embedding: float, classifier: float | None, weights: dict[str, float]) -> list[str]:
    """The methods that support a tag: those scoring at least 0.5, else the
    one that contributed most to the combined score."""
    scored = [(m, v) for m, v in (("rule", rule), ("embedding", embedding), ("classifier", classifier))
              if v is not None and weights.get(m, 0)]
    strong = [m for m, v in scored if v >= 0.5]
    if strong or not scored:
        return strong
    return [max(scored, key=lambda mv: weights[mv[0]] * mv[1])[0]]


def tags_for(item: ItemScores, weights: dict[str, float], keys: Sequence[str], chosen: Iterable[int]) -> list[Tag]:
    """The Tag (score, supporting unit, contributing methods) for each chosen label."""
    c = combine(item, weights)
    out = []
    for i in chosen:
        u = int(c[:, i].argmax())
        r, e = float(item.rule[u, i]), float(item.embedding[u, i])
        k = None if item.classifier is None or np.isnan(item.classifier[u, i]) else float(item.classifier[u, i])
        out.append(Tag(key=keys[i], score=round(float(c[u, i]), 4), unit=u, methods=supporting_methods(r, e, k, weights),
                       rule=r, embedding=round(e, 4), classifier=None if k is None else round(k, 4)))
    return out
