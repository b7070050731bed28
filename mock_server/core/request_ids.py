"""Request ids for async calls: random UUID4s, or a reproducible sequence after ``seed`` (POST /_mock/seed)."""
from __future__ import annotations

import random
import threading
import uuid


class RequestIds:
    """A thread-safe source of UUID4 strings; seeded, the same sequence every run."""

    def __init__(self) -> None:
        self._random = random.Random()
        self._seeded = False
        self._lock = threading.Lock()

    def new(self) -> str:
        """A UUID4: from os.urandom, or from the seeded generator after ``seed``."""
        with self._lock:
            if not self._seeded:
                return str(uuid.uuid4())
            return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def seed(self, seed: int | str | None) -> None:
        """Make ids reproducible from ``seed``; None makes them random again."""
        with self._lock:
            self._seeded = seed is not None
            self._random.seed(seed)
