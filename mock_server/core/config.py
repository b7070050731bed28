"""Server settings: one frozen ServerConfig, read once by the process (``mock_server.server.cli`` turns flags
and environment variables into it) and handed to everything else; no handler reads ``os.environ``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server process can be told; handlers read this, never os.environ."""

    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path(".mock-data")
    api_keys: tuple[str, ...] = ()          # empty: any non-empty key is accepted
    log_level: str = "INFO"
    api_profile: str = "2020"               # the vendor's docs to answer as: "2020" (final) or "2019" (earlier)
    enrollments_required: int = 3           # 2019 profile: enrollments before a speaker is "Complete"
    min_enroll_speech_seconds: float = 6.0  # 2020 profile: less speech in one enrollment is refused
    complete_speech_seconds: float = 12.0   # 2020 profile: a speaker is complete at this much speech in total
    max_body_bytes: int = 50 * 1024 * 1024  # larger request bodies get 413 before being read
    max_audio_seconds: float = 2 * 3600.0   # longer audio gets 413
    url_timeout_seconds: float = 10.0       # audio url download, whole transfer
    url_max_bytes: int = 50 * 1024 * 1024   # audio url download cap
    threads: int = 8                        # WSGI threads serving requests concurrently
    job_workers: int = 2                    # async identify workers
    job_queue_size: int = 64                # queued async jobs before 429
    webhook_timeout_seconds: float = 5.0    # per delivery attempt
    # The vendor: anything but a 200 is retried, "up to 5 times, with exponential backoff" (no base given).
    # 3 s doubling spaces the five attempts over 3+6+12+24 = 45 s, so a receiver down for 30 s from the first
    # attempt is back for the last with 15 s to spare (2 s would span exactly 30 s: a race with its return).
    webhook_attempts: int = 5               # total attempts per delivery, the first included
    webhook_backoff_seconds: float = 3.0    # first retry delay, doubled each retry
    webhook_backoff_max_seconds: float = 30.0
    webhook_success: str = "200"            # "200" (the vendor's rule) or "2xx"
    # Off unless --rate-limit: ((requests, window seconds), ...) per api key and API, e.g. 5/min and 100/day.
    rate_limits: tuple[tuple[int, float], ...] = ()
    sync_max_audio_seconds: float = 120.0   # the vendor's sync calls take audio under 2 minutes
    admin: bool = True                      # the /_mock admin API and dashboard
    admin_remote: bool = False              # allow /_mock from non-loopback clients
    preload_dir: Path | None = None         # enroll DIR/<speakerId>/*.{wav,flac,...} at start (server/preload.py)
    preload_api_key: str | None = None      # the key to preload under; None: see preload_key
    url_file: Path | None = None            # write the base URL here once listening
    drain_seconds: float = 10.0             # SIGTERM: time allowed for in-flight work
    exit_with_parent: bool = False          # stop (as on SIGTERM) once the process that started it is gone
    store_busy_seconds: float = 30.0        # a write waits this long for the store's lock held by another process
    processes: int = 1                      # worker processes sharing one listening socket and one store
    grpc_port: int | None = 50051           # realtime gRPC (mock_server/realtime); 0 = a free port, None = off
    grpc_max_streams: int = 16              # concurrent realtime streams before RESOURCE_EXHAUSTED
    # A stream that gets no message for this long (s) is ended (DEADLINE_EXCEEDED), freeing its slot: a client
    # that sent a chunk and then neither sent more nor half-closed would hold it for ever. The vendor's SDK sends
    # a 30 s piece of audio per message, so a live source leaves ~30 s between messages; 120 s is four of those.
    grpc_idle_seconds: float = 120.0

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "speakers.sqlite3"

    @property
    def preload_key(self) -> str:
        """The key --preload enrolls under: --preload-api-key, else the first --api-key (so the voices are usable
        on a server that accepts only its own keys), else "sandbox"."""
        if self.preload_api_key is not None:
            return self.preload_api_key
        return self.api_keys[0] if self.api_keys else DEFAULT_PRELOAD_API_KEY

    def preload_key_problem(self) -> str | None:
        """Why --preload cannot run with these keys (a --preload-api-key the server would refuse), or None."""
        if self.preload_dir is not None and self.api_keys and self.preload_key not in self.api_keys:
            return ("--preload-api-key is not one of the --api-key keys, so the preloaded voices could never be "
                    "used (every call with that key would get 401); give one of the --api-key keys, or leave "
                    "--preload-api-key out to preload under the first --api-key")
        return None


PROFILES = ("2020", "2019")
DEFAULT_PRELOAD_API_KEY = "sandbox"  # what --preload enrolls under when no key is given at all
