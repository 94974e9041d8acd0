"""A numpy-only encoder for BERT-family sentence-transformers models (such as
all-MiniLM-L6-v2): the same vectors as sentence-transformers (mean pooling,
L2 normalisation), without importing torch.

Search embeds one short query at a time; importing sentence-transformers
takes seconds and hundreds of megabytes, this takes a fraction of a second
and maps the weights straight from `model.safetensors`. The build still
embeds with sentence-transformers (batched, multi-threaded torch); a model
test checks the two agree.
"""
from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from pathlib import Path

import numpy as np

from evidence.errors import EvidenceError

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def supported(path: Path) -> bool:
    """True when `path` holds a BERT model with mean pooling that this module can run."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
        modules = json.loads((path / "modules.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    return bool(config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
                and kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"}
                and _mean_pooling(pooling)
                and (path / "tokenizer.json").exists() and (path / "model.safetensors").exists())


def _mean_pooling(pooling: dict) -> bool:
    """True for plain mean pooling, in either way sentence-transformers
    writes it: `pooling_mode: mean` (version 6 on, e.g. a model saved after
    fine-tuning) or `pooling_mode_mean_tokens: true` and no other mode."""
    if "pooling_mode" in pooling:
        mode = pooling["pooling_mode"]
        return mode == "mean" or mode == ["mean"]
    return bool(pooling.get("pooling_mode_mean_tokens")) and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                 "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                 "pooling_mode_lasttoken"))


def safetensors_header(path: Path) -> tuple[dict, int]:
    """(header, offset of the data) of a .safetensors file."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(size)), 8 + size


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as read-only numpy arrays mapped from
    the file (no copy: only the pages used become resident)."""
    header, base = safetensors_header(path)
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise EvidenceError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        arr = np.frombuffer(mm, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start)
        out[name] = arr.reshape(info["shape"])
    return out


class RowReader:
    """Rows of a float32 matrix in a file, read on demand with pread: a query
    needs a dozen rows of the 47 MB word-embedding table, and mapping it
    would make whole neighbourhoods of it resident."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, int]):
        self.fd = os.open(path, os.O_RDONLY)
        self.offset = offset
        self.shape = shape
        self.row_bytes = shape[1] * 4

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        unique, inverse = np.unique(ids, return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= self.shape[0]):
            raise EvidenceError("token id out of range for the model's vocabulary")
        data = b"".join(os.pread(self.fd, self.row_bytes, self.offset + int(i) * self.row_bytes) for i in unique)
        rows = np.frombuffer(data, dtype="<f4").reshape(len(unique), self.shape[1])
        return rows[inverse.reshape(-1)].reshape(*ids.shape, self.shape[1])


_blas_limited = False


def one_blas_thread() -> None:
    """Let numpy's OpenBLAS use one thread (once per process). Its threads
    spin while they wait, which makes the small matrix products of a query
    several times slower on a busy 2-core machine; search parallelises its
    one big product itself (vector_index). torch's own threads are not
    touched."""
    global _blas_limited
    if _blas_limited:
        return
    _blas_limited = True
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits={"libscipy_openblas": 1, "libopenblas": 1})
    except Exception:  # pragma: no cover - threadpoolctl missing or BLAS unknown: only slower
        pass


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), computed in
    # place: the feed-forward activations are the largest arrays of a batch
    a = np.abs(x)
    e = np.multiply(a, a)
    np.negative(e, out=e)
    np.exp(e, out=e)
    t = np.multiply(a, np.float32(0.3275911))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    y = t * np.float32(1.061405429)
    y -= np.float32(1.453152027)
    y *= t
    y += np.float32(1.421413741)
    y *= t
    y -= np.float32(0.284496736)
    y *= t
    y += np.float32(0.254829592)
    y *= t
    y *= e
    np.subtract(np.float32(1.0), y, out=y)
    return np.copysign(y, x, out=y)


def _gelu(x: np.ndarray) -> np.ndarray:
    e = _erf(x * np.float32(0.7071067811865476))
    e += np.float32(1.0)
    e *= x
    e *= np.float32(0.5)
    return e


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyBertEncoder:
    """Encode texts with a BERT sentence-transformers model in numpy.
    Thread-safe: loading is locked, encoding keeps no state."""

    def __init__(self, name: str, path: Path, sha256: str | None):
        self.model_id = name
        self.path = Path(path)
        self.sha256 = sha256
        self.dim = 384
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Check the weights' SHA-256, then map them and read the tokenizer (once)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            from tokenizers import Tokenizer

            from evidence.models.weights import checked_weights

            weights = checked_weights(self.path, self.sha256)
            config = json.loads((self.path / "config.json").read_text())
            st_config = self.path / "sentence_bert_config.json"
            max_len = json.loads(st_config.read_text()).get("max_seq_length", 256) if st_config.exists() else 256
            self.max_len = min(int(max_len), int(config.get("max_position_embeddings", 512)))
            self.heads = int(config["num_attention_heads"])
            self.layers = int(config["num_hidden_layers"])
            self.eps = float(config.get("layer_norm_eps", 1e-12))
            one_blas_thread()
            tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tok.no_padding()
            tok.enable_truncation(self.max_len)
            self.tokenizer = tok
            w = {k.removeprefix("bert."): v for k, v in read_safetensors(weights).items()}
            header, base = safetensors_header(weights)
            name = next(k for k in header if k.removeprefix("bert.") == "embeddings.word_embeddings.weight")
            if header[name]["dtype"] == "F32":
                w["embeddings.word_embeddings.weight"] = RowReader(
                    weights, base + header[name]["data_offsets"][0], tuple(header[name]["shape"]))
            self.w = w
            self.dim = int(config["hidden_size"])
            self._loaded = True

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        heads, dh = self.heads, self.dim // self.heads
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(dh))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(t, name):  # 2-D matmuls go straight to BLAS
                out = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out.reshape(batch, length, -1)

            def split(t):
                return t.reshape(batch, length, heads, dh).transpose(0, 2, 1, 3)

            q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = _layer_norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], self.eps)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str], batch_size: int = 16, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (progress is ignored)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = [self.tokenizer.encode(str(t)) for t in texts]  # no rayon thread pool
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # similar lengths together
        for chunk in range(0, len(order), batch_size):
            part = order[chunk:chunk + batch_size]
            length = max(len(encodings[i].ids) for i in part)
            ids = np.zeros((len(part), length), dtype=np.int64)
            mask = np.zeros((len(part), length), dtype=np.float32)
            for row, i in enumerate(part):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[part] = self._forward(ids, mask)
        return out
