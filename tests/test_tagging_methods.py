"""The tagger's three methods and how they are combined (fake embedder)."""
from pathlib import Path

import numpy as np
import pytest

from evidence.models.embedder import FakeEmbedder
from evidence.enrich.nlp import load_nlp
from evidence.enrich.tagger import (ItemScores, Label, Settings, Tagger, choose, combine, crosswalk_targets, decide, item_matrix,
                                    load_settings, tags_for)
from evidence.errors import EvidenceError

ROOT = Path(__file__).resolve().parent.parent
LABELS = [
    Label("t/social", "Social participation", "friends, family and community",
          ["neighbours call in for a cup of tea", "made new friends"]),
    Label("t/occupation", "Occupation", "meaningful activity, paid work or volunteering",
          ["got a job", "volunteers at the charity shop"]),
    Label("t/food", "Food and drink", "meals and drink", ["a hot meal every day"]),
]


@pytest.fixture(scope="module")
def tagger():
    return Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings())


def analyse(tagger, texts):
    return tagger.analyse(list(tagger.nlp.pipe(texts)))


def test_rule_matches_codebook_phrases_across_inflections(tagger):
    item, = analyse(tagger, ["It was quiet. Her neighbour calls in for a cup of tea most days."])
    social = tagger.index["t/social"]
    assert item.rule[:, social].tolist() == [0.0, 1.0]  # only the second sentence
    assert item.rule[:, tagger.index["t/food"]].sum() == 0


def test_embedding_similarity_prefers_the_domain_that_shares_meaning(tagger):
    item, = analyse(tagger, ["She volunteers at the charity shop on Fridays."])
    sims = item.similarity[0]
    assert sims[tagger.index["t/occupation"]] > sims[tagger.index["t/social"]]
    assert 0.0 <= item.embedding.min() and item.embedding.max() <= 1.0


def test_classifier_is_trained_only_for_labels_with_enough_examples():
    t = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=2))
    texts = ["he went fishing with his carer", "fishing trips every weekend", "fishing at the lake",
             "bingo night at the club", "bingo with neighbours", "a bingo evening"]
    t.fit(texts, [["t/occupation"]] * 3 + [["t/social"]] * 3)
    assert t.trained.tolist() == [True, True, False]
    item, = analyse(t, ["They go fishing on Sundays."])
    occ, soc, food = (t.index[k] for k in ("t/occupation", "t/social", "t/food"))
    assert item.classifier[0, occ] > 0.5 > item.classifier[0, soc]
    assert np.isnan(item.classifier[0, food])  # no classifier: not a zero, a gap


def test_a_domain_the_classifier_does_not_score_gets_the_codebook_threshold(tmp_path):
    """Rule and embedding alone score lower than with a classifier: a domain
    with too few examples (all of a codebook nobody labelled for) is judged
    against codebook_threshold; a per-domain threshold still wins."""
    t = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT),
               Settings(min_examples=2, threshold=0.5, codebook_threshold=0.2, thresholds={"t/social": 0.6}))
    assert t.effective_settings.threshold_for(t.keys).tolist() == pytest.approx([0.6, 0.2, 0.2])  # nothing trained
    t.fit(["he went fishing with his carer", "fishing trips every weekend", "bingo night", "bingo again"],
          [["t/occupation"]] * 2 + [["t/social"]] * 2)
    assert t.effective_settings.threshold_for(t.keys).tolist() == pytest.approx([0.6, 0.5, 0.2])
    same = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(threshold=0.5))  # codebook_threshold unset
    assert same.effective_settings.threshold_for(same.keys).tolist() == pytest.approx([0.5, 0.5, 0.5])
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "tagging.yml").write_text("codebook_threshold: 1.5\n")
    with pytest.raises(EvidenceError, match="codebook_threshold"):
        load_settings(tmp_path)
    assert load_settings(ROOT).codebook_threshold is not None  # the shipped file sets it


def test_neighbours_are_the_mean_of_the_rows_around_within_a_story():
    from evidence.enrich.tagger import neighbours, story_runs

    assert story_runs(["a", "a", "a", "", "", "b", "b", "a"]) == [3, 1, 1, 2, 1]  # '' stands alone
    v = np.array([[1, 0], [0, 1], [1, 1], [5, 5], [2, 0], [0, 2]], dtype=np.float32)
    got = neighbours(v, [3, 1, 2])
    assert got.tolist() == [[0, 1], [1, 0.5], [0, 1], [0, 0], [0, 2], [2, 0]]


# the same words mean work after a sentence about fishing and company after
# one about bingo: only the neighbours tell them apart
_AFTER = "That made all the difference to him"
_CONTEXT_STORIES = [(f"s{i}", first, label) for i in range(6) for first, label in (
    ("He went fishing with his carer at the lake", "t/occupation"), ("Bingo night at the club with neighbours", "t/social"))]


def _context_training():
    texts, labels, stories = [], [], []
    for n, (sid, first, label) in enumerate(_CONTEXT_STORIES):
        texts += [first, _AFTER + "." * (1 + n % 3)]  # not one text repeated: each row is its own example
        labels += [[label], [label]]
        stories += [f"{sid}-{label}"] * 2
    return texts, labels, stories


def test_the_classifier_reads_a_sentence_with_its_neighbours_when_it_knows_them():
    texts, labels, stories = _context_training()
    occ, soc = (LABELS.index(next(lab for lab in LABELS if lab.key == k)) for k in ("t/occupation", "t/social"))
    docs = [f"He went fishing with his carer at the lake. {_AFTER}.", f"Bingo night at the club with neighbours. {_AFTER}."]
    with_context = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=2)).fit(texts, labels, stories=stories)
    assert with_context.classifier.dense_dim == 2 * FakeEmbedder.dim
    fishing, bingo = with_context.analyse(list(with_context.nlp.pipe(docs)))
    assert fishing.classifier[1, occ] > 0.5 > fishing.classifier[1, soc]
    assert bingo.classifier[1, soc] > 0.5 > bingo.classifier[1, occ]
    # without a story for each row (a CSV with no story column): the sentence alone, as before
    alone = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=2)).fit(texts, labels)
    assert alone.classifier.dense_dim == FakeEmbedder.dim
    fishing, bingo = alone.analyse(list(alone.nlp.pipe(docs)))
    assert abs(fishing.classifier[1, occ] - bingo.classifier[1, occ]) < 0.05
    off = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=2, context_weight=0.0))
    assert off.fit(texts, labels, stories=stories).classifier.dense_dim == FakeEmbedder.dim


def test_a_reused_classifier_keeps_its_training_vectors_in_the_cache(tmp_path, monkeypatch):
    """A build that reuses the classifier marks its training sentences' vectors
    as used, so pruning after a large retag keeps them: a withdrawal refits
    the classifier without the story's sentences, and with them gone it
    would encode thousands of sentences again (torch, in a curator's action)."""
    from evidence.enrich import tagging
    from evidence.store import vector_cache
    from evidence.store.schema import open_db

    db = open_db(tmp_path / "w.db")
    texts, labels = _training_rows(60)
    keys = sorted({k for labs in labels for k in labs})
    lab = [Label(k, k, k, [k]) for k in keys]
    none = [[] for _ in texts]

    def tagger():
        return Tagger(lab, vector_cache.CachedEmbedder(db, FakeEmbedder()), load_nlp(ROOT), Settings())

    tagging._FITTED.clear()
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500) == "fitted"
    later = tagger()  # the next build: it tags other sentences and reuses the classifier
    later.embedder.encode([f"A sentence of another story, number {i}." for i in range(40)])
    assert tagging._fit_or_reuse(db, later, texts, labels, none, items=1) == "reused"
    monkeypatch.setattr(vector_cache, "CAP", 0)  # keep only what this build used
    later.embedder.prune()
    kept = {r[0] for r in db.execute("SELECT text_hash FROM vector_cache")}
    assert {vector_cache.text_key(t) for t in texts} <= kept
    db.close()
    # another evidence base built by this process gets the classifier from
    # memory, and the training vectors with it, even after a fit of another
    # classifier in between (other settings, other sentences)
    third = open_db(tmp_path / "third.db")
    assert tagging._fit_or_reuse(third, Tagger(lab, vector_cache.CachedEmbedder(third, FakeEmbedder()), load_nlp(ROOT),
                                               Settings(classifier_c=1.0)), texts[:30], labels[:30], none[:30],
                                 items=500) == "fitted"
    third.close()
    other = open_db(tmp_path / "other.db")
    given = Tagger(lab, vector_cache.CachedEmbedder(other, FakeEmbedder()), load_nlp(ROOT), Settings())
    assert tagging._fit_or_reuse(other, given, texts, labels, none, items=500) == "reused"
    assert {vector_cache.text_key(t) for t in texts} <= {r[0] for r in other.execute("SELECT text_hash FROM vector_cache")}
    other.close()


def test_a_sentences_neighbours_are_part_of_its_training_example(tmp_path):
    """A classifier fitted on rows with other neighbours is not the one to reuse."""
    from evidence.enrich import tagging
    from evidence.store.schema import open_db

    db = open_db(tmp_path / "w.db")
    texts, labels, stories = _context_training()
    none = [[] for _ in texts]
    tagger = lambda: Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=2))  # noqa: E731
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500, stories=stories) == "fitted"
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500, stories=stories) == "reused"
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500) == "fitted"  # no neighbours now
    db.close()


def test_a_sentence_beside_the_best_supports_a_tag_a_little_below_its_threshold():
    """The tag needs its threshold; another sentence needs the threshold less
    support_below, where the classifier scores the domain (a codebook-only
    domain keeps its own threshold for every sentence)."""
    from evidence.enrich.tagger import supporting_units

    keys = ["t/social", "t/occupation", "t/food"]
    s = Settings(threshold=0.4, support_below=0.05, codebook_threshold=0.2).for_trained(keys, [True, True, False])
    assert s.support_floors(keys).tolist() == pytest.approx([0.35, 0.35, 0.2])
    c = np.array([[0.5, 0.1, 0.3], [0.37, 0.1, 0.19], [0.3, 0.1, 0.21]], dtype=np.float32)
    floors = s.support_floors(keys)
    assert supporting_units(c, 0, floors[0], s.support_margin) == [0, 1]  # 0.37: below 0.4, above 0.35
    assert supporting_units(c, 2, floors[2], s.support_margin) == [0, 2]  # 0.19 is below the codebook's 0.2
    assert Settings(threshold=0.4).for_trained(keys, [True] * 3).support_floors(keys).tolist() == pytest.approx([0.4] * 3)


def test_rejected_examples_are_negatives():
    t = Tagger(LABELS, FakeEmbedder(), load_nlp(ROOT), Settings(min_examples=1))
    t.fit(["tea with neighbours", "tea with the vicar"], [["t/social"], []], negatives=[[], ["t/social"]])
    assert t.trained[t.index["t/social"]]
    with pytest.raises(EvidenceError):
        Tagger([], FakeEmbedder(), load_nlp(ROOT))


def test_combine_is_the_weighted_mean_of_the_available_methods():
    item = ItemScores(units=[(0, 1, "a"), (2, 3, "b")],
                      rule=np.array([[1.0, 0.0], [0.0, 0.0]], np.float32),
                      embedding=np.array([[0.5, 0.2], [0.9, 0.4]], np.float32),
                      classifier=np.array([[0.8, np.nan], [0.1, np.nan]], np.float32))
    w = {"rule": 1.0, "embedding": 2.0, "classifier": 1.0}
    c = combine(item, w)
    assert c[0, 0] == pytest.approx((1 * 1 + 2 * 0.5 + 1 * 0.8) / 4)
    assert c[1, 1] == pytest.approx((2 * 0.4) / 3)  # label 2 has no classifier: weights renormalised
    scores, best = item_matrix([item], w, 2)
    assert best[0].tolist() == [0, 1] and scores[0, 0] == pytest.approx(c[0, 0])
    tag, = tags_for(item, w, ["a", "b"], [0])
    assert tag.unit == 0 and tag.methods == ["rule", "embedding", "classifier"]


def test_decide_threshold_min_and_max_labels():
    s = np.array([[0.9, 0.6, 0.1], [0.2, 0.1, 0.3]])
    assert decide(s, 0.5) == [[0, 1], []]
    assert decide(s, 0.5, max_labels=1) == [[0], []]
    assert decide(s, 0.5, min_labels=1) == [[0, 1], [2]]


def test_a_crosswalk_target_is_judged_on_its_own_score_and_passes_the_cap():
    keys = ["a/x", "a/y", "a/z", "b/p", "b/q"]
    crosswalk = {"b/p": ["a/y", "a/z"], "b/q": ["a/x"]}
    settings = Settings(threshold=0.3, max_tags_per_framework=1)
    best = np.array([0.9, 0.5, 0.2, 0.8, 0.1])
    chosen = [keys[i] for i in choose(best, keys, settings)]
    assert chosen == ["a/x", "b/p"]  # one per framework: a/y (0.5) is capped out
    # b/p maps to a/y (its own 0.5 reaches the threshold: past the cap) and
    # a/z (its own 0.2 does not: the source's 0.8 is not lent to it)
    assert crosswalk_targets(best, chosen, keys, crosswalk, settings) == [(1, "b/p")]
    assert crosswalk_targets(best, chosen, keys, crosswalk, settings, taken=["a/y"]) == []  # a curator's decision stands
    assert crosswalk_targets(best, chosen, keys, crosswalk, Settings(threshold=0.3, thresholds={"a/y": 0.6})) == []


def test_settings_file_is_read_and_checked(tmp_path):
    (tmp_path / "pipelines").mkdir()
    assert load_settings(ROOT).threshold == pytest.approx(0.4)  # pipelines/tagging.yml
    (tmp_path / "pipelines" / "tagging.yml").write_text("threshold: 0.7\nweights: {rule: 2}\n")
    s = load_settings(tmp_path)
    assert s.threshold == 0.7 and s.weights["rule"] == 2.0 and s.weights["embedding"] == 1.0
    (tmp_path / "pipelines" / "tagging.yml").write_text("treshold: 0.7\n")
    with pytest.raises(EvidenceError, match="unknown setting 'treshold'"):
        load_settings(tmp_path)
    (tmp_path / "pipelines" / "tagging.yml").write_text("context_weight: 1.5\n")
    with pytest.raises(EvidenceError, match="context_weight"):
        load_settings(tmp_path)
    (tmp_path / "pipelines" / "tagging.yml").write_text("support_below: -0.1\n")
    with pytest.raises(EvidenceError, match="support_below"):
        load_settings(tmp_path)
    (tmp_path / "pipelines" / "tagging.yml").write_text("_unscored: [t/food]\n")  # not a setting
    with pytest.raises(EvidenceError, match="unknown setting '_unscored'"):
        load_settings(tmp_path)


def _training_rows(n: int | None = None):
    import csv

    rows = list(csv.DictReader(open(ROOT / "pipelines" / "training" / "stories_dev.csv", encoding="utf-8")))
    rows = rows[:n] if n else rows
    return [r["text"] for r in rows], [[k for k in r["labels"].split("|") if k] for r in rows]


def test_the_numpy_classifier_gives_scikit_learns_probabilities_and_survives_bytes():
    """The classifier predicts in numpy (no scikit-learn or scipy import at
    tagging time); it must give what scikit-learn's own objects give."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from evidence.enrich.tagger import LinearClassifier

    texts, labels = _training_rows()
    keys = sorted({k for labs in labels for k in labs})
    lab = [Label(k, k, k, [k]) for k in keys]
    emb = FakeEmbedder()
    t = Tagger(lab, emb, load_nlp(ROOT), Settings()).fit(texts, labels)
    assert t.trained.sum() >= 5
    new = ["She joined a walking group and sees her friends on Tuesdays.", "The scheme started in 2014.",
           "He was finally able to cook his own meals again, which meant a lot to him.", "Ünïcode café, naïve résumé!", ""]
    vecs = emb.encode(new)
    got = t.classifier.predict(new, vecs)
    # scikit-learn, fitted the same way
    tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2 if len(texts) >= 1000 else 1,
                            max_features=200_000)  # as the tagger: words seen once dropped from 1,000 texts
    X = hstack([tfidf.fit_transform(texts), csr_matrix(emb.encode(texts))]).tocsr()
    Xn = hstack([tfidf.transform(new), csr_matrix(vecs)]).tocsr()
    for i in np.flatnonzero(t.trained):
        y = np.array([keys[i] in labs for labs in labels], dtype=int)
        m = LogisticRegression(C=Settings().classifier_c, class_weight="balanced", max_iter=2000, solver="liblinear",
                               random_state=0).fit(X, y)
        assert np.abs(got[:, i] - m.predict_proba(Xn)[:, 1]).max() < 1e-5
    assert np.isnan(got[:, ~t.trained]).all()
    again = LinearClassifier.from_bytes(t.classifier.to_bytes())
    assert np.array_equal(again.predict(new, vecs), got, equal_nan=True)
    assert LinearClassifier.from_bytes(b"not a classifier") is None


def test_a_small_build_keeps_a_close_classifier_and_fits_again_when_it_drifts(tmp_path):
    from evidence.enrich import tagging
    from evidence.store.schema import open_db

    db = open_db(tmp_path / "w.db")
    texts, labels = _training_rows(300)
    keys = sorted({k for labs in labels for k in labs})
    lab = [Label(k, k, k, [k]) for k in keys]

    def tagger():
        return Tagger(lab, FakeEmbedder(), load_nlp(ROOT), Settings())

    none = [[] for _ in texts]
    tagging._FITTED.clear()  # this process's memory of fits: tested below
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500) == "fitted"
    assert tagging._fit_or_reuse(db, tagger(), texts, labels, none, items=500) == "reused"
    # another evidence base built by this process: the same fit, from memory, kept in its database too
    fresh = open_db(tmp_path / "other.db")
    assert tagging._fit_or_reuse(fresh, tagger(), texts, labels, none, items=500) == "reused"
    assert fresh.execute("SELECT count(*) FROM classifier_cache").fetchone()[0] == 1
    fresh.close()
    extra = [f"A new confirmed sentence number {i} about her allotment." for i in range(3)]
    few = (texts + extra, labels + [[keys[0]]] * 3, none + [[]] * 3)
    assert tagging._fit_or_reuse(db, tagger(), *few, items=1) == "reused-close"
    assert tagging._fit_or_reuse(db, tagger(), *few, items=tagging.SMALL_BUILD + 1) == "fitted"  # a large build fits
    other_extra = [f"Another sentence, {i}, about his garden." for i in range(tagging.STALE_EXAMPLES + 1)]
    many = (texts + other_extra, labels + [[keys[0]]] * len(other_extra), none + [[]] * len(other_extra))
    assert tagging._fit_or_reuse(db, tagger(), *many, items=1) == "fitted"  # too far from any fitted one
    # other settings never reuse a classifier
    other = Tagger(lab, FakeEmbedder(), load_nlp(ROOT), Settings(classifier_c=1.0))
    assert tagging._fit_or_reuse(db, other, *few, items=1) == "fitted"
    assert db.execute("SELECT count(*) FROM classifier_cache").fetchone()[0] <= 3
    db.close()


def test_training_rows_of_a_framework_the_base_does_not_load_are_left_out_a_typo_is_not(tmp_path):
    """An evidence base that replaced the shipped codebooks still builds with
    the shipped training CSV (its labels of absent frameworks are left out),
    while a misspelt domain of a loaded framework stays a one-line error."""
    from evidence.enrich import tagging
    from evidence.store.schema import open_db

    (tmp_path / "pipelines" / "training").mkdir(parents=True)
    csv_path = tmp_path / "pipelines" / "training" / "t.csv"
    settings = Settings(training=["pipelines/training/t.csv"])
    known = {"wellbeing/connection", "wellbeing/purpose"}
    db = open_db(tmp_path / "w.db")
    csv_path.write_text("text,labels\nShe made friends at the club.,wellbeing/connection|ascot/social-participation-and-involvement\n"
                        "He cooks for himself now.,ascot/food-and-drink\n", encoding="utf-8")
    texts, pos, neg, _, _ = tagging.training_examples(db, tmp_path, settings, known)
    assert texts == ["She made friends at the club.", "He cooks for himself now."]
    assert pos == [["wellbeing/connection"], []] and neg == [[], []]
    csv_path.write_text("text,labels\nShe made friends.,wellbeing/conection\n", encoding="utf-8")
    with pytest.raises(EvidenceError) as err:
        tagging.training_examples(db, tmp_path, settings, known)
    assert "t.csv:2: unknown label 'wellbeing/conection'" in str(err.value) and "wellbeing/connection" in str(err.value)
    db.close()
