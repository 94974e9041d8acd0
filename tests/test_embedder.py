"""The embedders: the fake one for plumbing, the real one checked and offline."""
import numpy as np
import pytest

from evidence.models.embedder import FakeEmbedder, SentenceTransformerEmbedder, get_embedder
from evidence.errors import EvidenceError


def test_fake_embedder_is_deterministic_normalised_and_word_sensitive():
    e = FakeEmbedder()
    a, b, c = e.encode(["older woman bus closed", "older woman bus closed", "greyhound races fishing"])
    assert a.dtype == np.float32 and a.shape == (384,)
    assert np.allclose(a, b)
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ c) < float(a @ b)


def test_wrong_checksum_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    emb = SentenceTransformerEmbedder("x", tmp_path, "0" * 64)
    with pytest.raises(EvidenceError, match="SHA-256"):
        emb.encode(["hello"])


def test_unknown_model_name_is_not_downloaded(monkeypatch):
    monkeypatch.delenv("EVIDENCE_EMBEDDER", raising=False)
    with pytest.raises(EvidenceError, match="nothing is downloaded"):
        get_embedder(name="sentence-transformers/some-hub-model")


@pytest.mark.model
def test_real_model_loads_offline_and_ranks_by_meaning(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    e = get_embedder(name="all-MiniLM-L6-v2")
    q, good, bad = e.encode(["lonely after the bus route closed", "isolated when the bus service stopped", "quarterly workforce statistics"])
    assert q.shape == (384,)
    assert float(q @ good) > float(q @ bad) + 0.1
