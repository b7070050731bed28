"""Arrays saved by numpy (.npy bytes, .npz files), read safely from any number of threads.

np.load parses every array's header with ast.literal_eval, and in CPython 3.11 building an AST is not safe when
two threads do it at once: the AST constructor's recursion counter is shared, and an interleaving can raise
"SystemError: AST constructor recursion depth mismatch" (python/cpython gh-106905). The server parses stored
voiceprints on its request threads, and eight enrollments racing each other once got a 500 from it in CI, so every
parse in this process goes through one lock (~70 us per voiceprint, and identify parses each one once).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np

_PARSE_LOCK = threading.Lock()


def load_npy(data: bytes) -> np.ndarray:
    """The array of np.save's bytes (no pickles). Raises ValueError for bytes that are not .npy."""
    with _PARSE_LOCK:
        return np.load(io.BytesIO(data), allow_pickle=False)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file (no pickles), read at once: an open NpzFile parses each header on access."""
    with _PARSE_LOCK, np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
