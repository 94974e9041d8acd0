"""The tagger's three methods and how they are combined (fake embedder)."""
from pathlib import Path

import numpy as np
import pytest

from evidence.models.embedder import FakeEmbedder
from evidence.enrich.nlp import load_nlp
from evidence.enrich.tagger import ItemScores, Label, Settings, Tagger, combine, decide, item_matrix, load_settings, tags_for
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


def test_settings_file_is_read_and_checked(tmp_path):
    (tmp_path / "pipelines").mkdir()
    assert load_settings(ROOT).threshold == pytest.approx(0.3)  # pipelines/tagging.yml
    (tmp_path / "pipelines" / "tagging.yml").write_text("threshold: 0.7\nweights: {rule: 2}\n")
    s = load_settings(tmp_path)
    assert s.threshold == 0.7 and s.weights["rule"] == 2.0 and s.weights["embedding"] == 1.0
    (tmp_path / "pipelines" / "tagging.yml").write_text("treshold: 0.7\n")
    with pytest.raises(EvidenceError, match="unknown setting 'treshold'"):
        load_settings(tmp_path)
