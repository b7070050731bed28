"""The command line of ``python -m mock_server`` (and the ``speaker-id-mock`` console script): flags, with
defaults from ``SPEAKER_ID_MOCK_*`` environment variables, become one ServerConfig (moto's settings.py way)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from mock_server.core.auth import key_problem
from mock_server.core.config import DEFAULT_PRELOAD_API_KEY, PROFILES, ServerConfig
from mock_server.core.webhooks import SUCCESS_POLICIES
from mock_server.server.preload import AUDIO_SUFFIXES

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0,
          "d": 86400.0, "day": 86400.0}


def parse_rate_limits(text: str) -> tuple[tuple[int, float], ...]:
    """``"5/min,100/day"`` -> ((5, 60.0), (100, 86400.0)); ``""`` -> () (off). ValueError says what is wrong."""
    limits = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        count, slash, unit = part.partition("/")
        unit = unit.strip().lower()
        seconds = _UNITS.get(unit) or _UNITS.get(unit.removesuffix("s"))  # "mins", "days" too
        if not slash or not count.strip().isdigit() or int(count) < 1 or seconds is None:
            raise ValueError(f"{part!r} is not N/UNIT with N >= 1 and UNIT one of s, min, h, day (e.g. 5/min)")
        limits.append((int(count), seconds))
    return tuple(limits)


def _env(name: str, default):
    return os.environ.get(f"SPEAKER_ID_MOCK_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m mock_server` (and the `speaker-id-mock` console script)."""
    d = ServerConfig()
    p = argparse.ArgumentParser(prog="speaker-id-mock",
                                description="Offline drop-in mock of the Speaker Identification API.")
    p.add_argument("--host", default=_env("HOST", d.host))
    p.add_argument("--port", type=int, default=int(_env("PORT", d.port)),
                   help="0 picks a free port; the URL is printed on one line")
    p.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", d.data_dir)))
    p.add_argument("--api-key", action="append", dest="api_keys", default=None,
                   help="accepted api key (repeatable), matched exactly; without it any non-empty key is accepted "
                        "(keys beginning or ending with whitespace or holding control characters never are)")
    p.add_argument("--log-level", default=_env("LOG_LEVEL", d.log_level),
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    p.add_argument("--api-profile", choices=PROFILES, default=_env("API_PROFILE", d.api_profile),
                   help="answer as the vendor's final (2020) docs, or the earlier (2019) enrollment behaviour")
    p.add_argument("--enrollments-required", type=int, default=d.enrollments_required,
                   help="2019 profile: enrollments before a speaker is Complete")
    p.add_argument("--min-enroll-speech", type=float, default=d.min_enroll_speech_seconds,
                   help="2020 profile: seconds of speech one enrollment needs (the docs: 6)")
    p.add_argument("--complete-speech", type=float, default=d.complete_speech_seconds,
                   help="2020 profile: seconds of speech in total that complete a speaker (the docs: 12)")
    p.add_argument("--max-body-mb", type=float, default=d.max_body_bytes / 2**20)
    p.add_argument("--max-audio-seconds", type=float, default=d.max_audio_seconds)
    p.add_argument("--url-timeout", type=float, default=d.url_timeout_seconds)
    p.add_argument("--url-max-mb", type=float, default=d.url_max_bytes / 2**20)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--job-workers", type=int, default=d.job_workers)
    p.add_argument("--job-queue-size", type=int, default=d.job_queue_size)
    p.add_argument("--webhook-timeout", type=float, default=d.webhook_timeout_seconds)
    p.add_argument("--webhook-attempts", type=int, default=d.webhook_attempts)
    p.add_argument("--webhook-backoff", type=float, default=d.webhook_backoff_seconds,
                   help="first retry delay in seconds, doubled each retry up to 30 s")
    p.add_argument("--webhook-success", choices=SUCCESS_POLICIES, default=d.webhook_success,
                   help="what counts as delivered: status 200 only (the vendor's rule) or any 2xx")
    p.add_argument("--rate-limit", default=_env("RATE_LIMIT", ""), metavar="N/UNIT[,N/UNIT]",
                   help="answer 429 rate_limit past N requests per api key and API per window, e.g. "
                        "5/min,100/day (the vendor's plan); units s, min, h, day. Off by default")
    p.add_argument("--sync-max-audio-seconds", type=float, default=d.sync_max_audio_seconds,
                   help="sync identify and enroll refuse audio this long or longer (400; identify: use the async call)")
    p.add_argument("--no-admin", action="store_true", help="turn off /_mock, /docs' admin part and the dashboard")
    p.add_argument("--admin-remote", action="store_true",
                   help="let non-loopback clients use /_mock (off by default)")
    p.add_argument("--preload", type=Path, default=_env("PRELOAD", None), metavar="DIR",
                   help=f"enroll DIR/<speakerId>/*.{{{','.join(s.lstrip('.') for s in AUDIO_SUFFIXES)}}} at start; "
                        "speakers already complete are left alone")
    p.add_argument("--preload-api-key", default=_env("PRELOAD_API_KEY", None) or None,
                   help="the api key --preload enrolls under (default: the first --api-key, or "
                        f"{DEFAULT_PRELOAD_API_KEY!r} without one); with --api-key it must be one of those keys")
    p.add_argument("--url-file", type=Path, default=None, help="write the base URL to this file once listening")
    p.add_argument("--drain-seconds", type=float, default=d.drain_seconds)
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop (draining, as on SIGTERM) once the process that started the server is gone: a test "
                        "runner killed or timed out leaves no server behind (LiveServer and the pytest plugin pass it)")
    p.add_argument("--store-busy-seconds", type=float, default=d.store_busy_seconds,
                   help="how long a write waits for the store's lock held by another process (a long transaction "
                        "in the sqlite3 shell, a stuck process) before 503 store_unavailable")
    p.add_argument("--processes", type=int, default=int(_env("PROCESSES", d.processes)),
                   help="serve from N processes over one socket and one store (POSIX only)")
    p.add_argument("--grpc-port", type=int, default=_env("GRPC_PORT", None),
                   help="realtime gRPC port (default 50051, or a free one when --port is 0); 0 picks a free port, "
                        "printed and written to --url-file as a second line 'grpc=HOST:PORT'")
    p.add_argument("--no-grpc", action="store_true", help="do not serve the realtime gRPC API")
    p.add_argument("--grpc-max-streams", type=int, default=d.grpc_max_streams,
                   help="concurrent realtime streams; more get RESOURCE_EXHAUSTED")
    p.add_argument("--grpc-idle-seconds", type=float, default=d.grpc_idle_seconds,
                   help="a realtime stream that receives no message for this long is ended with DEADLINE_EXCEEDED "
                        "and its slot freed (the vendor's SDK sends one message per 30 s of audio)")
    return p


def config_from_args(argv: list[str] | None = None) -> ServerConfig:
    """Parse a command line into a ServerConfig, validating ranges with argparse's own error output."""
    parser = build_parser()
    a = parser.parse_args(argv)
    floats = {name: value for name, value in vars(a).items() if isinstance(value, float)}
    bad = sorted(name for name, value in floats.items() if not math.isfinite(value))
    if bad:  # nan or inf would pass every comparison below, then fail every request
        parser.error(", ".join("--" + b.replace("_", "-") for b in bad) + " must be a finite number")
    if a.webhook_backoff < 0 or a.webhook_timeout <= 0 or a.drain_seconds < 0:
        parser.error("--webhook-backoff and --drain-seconds must not be negative, --webhook-timeout positive")
    if a.store_busy_seconds < 0:
        parser.error("--store-busy-seconds must not be negative")
    if a.api_profile not in PROFILES:  # argparse checks choices on the command line only, not on an env default
        parser.error(f"--api-profile (or SPEAKER_ID_MOCK_API_PROFILE) must be one of {', '.join(PROFILES)}, not "
                     f"{a.api_profile!r}")
    if a.enrollments_required < 1:
        parser.error("--enrollments-required must be at least 1")
    if a.min_enroll_speech < 0 or a.complete_speech < 0:
        parser.error("--min-enroll-speech and --complete-speech must not be negative")
    if a.job_workers < 1 or a.job_queue_size < 1 or a.threads < 1:
        parser.error("--threads, --job-workers and --job-queue-size must be at least 1")
    if a.webhook_attempts < 1:
        parser.error("--webhook-attempts must be at least 1")
    if a.processes < 1:
        parser.error("--processes must be at least 1")
    if a.max_body_mb <= 0 or a.max_audio_seconds <= 0 or a.url_max_mb <= 0 or a.url_timeout <= 0:
        parser.error("--max-body-mb, --max-audio-seconds, --url-max-mb and --url-timeout must be positive")
    if a.sync_max_audio_seconds <= 0:
        parser.error("--sync-max-audio-seconds must be positive")
    try:
        rate_limits = parse_rate_limits(a.rate_limit)
    except ValueError as exc:
        parser.error(f"--rate-limit: {exc}")
    if a.grpc_max_streams < 1:
        parser.error("--grpc-max-streams must be at least 1")
    if a.grpc_idle_seconds <= 0:
        parser.error("--grpc-idle-seconds must be positive")
    if a.url_file is not None and not a.url_file.parent.is_dir():
        parser.error(f"--url-file {a.url_file}: its folder {a.url_file.parent} does not exist; create it first")
    # an ephemeral REST port means "a throwaway server" (tests, scripts): its gRPC port must not collide either
    grpc_port = None if a.no_grpc else int(a.grpc_port) if a.grpc_port is not None else (0 if a.port == 0 else 50051)
    if not 0 <= a.port <= 65535:  # the socket layer would take the port modulo 65536 and listen elsewhere
        parser.error("--port must be between 0 and 65535 (0 picks a free one)")
    if grpc_port is not None and not 0 <= grpc_port <= 65535:
        parser.error("--grpc-port must be between 0 and 65535")
    keys = tuple(a.api_keys or [k for k in _env("API_KEYS", "").split(",") if k])
    for number, key in enumerate(keys, 1):  # such a key could never be sent (core.auth refuses it): say so now
        problem = key_problem(key)
        if problem:
            parser.error(f"api key #{number} (--api-key or SPEAKER_ID_MOCK_API_KEYS) {problem}; keys are matched "
                         "exactly")
    if a.preload_api_key is not None and key_problem(a.preload_api_key):
        parser.error(f"--preload-api-key {key_problem(a.preload_api_key)}; keys are matched exactly")
    config = ServerConfig(
        host=a.host, port=a.port, data_dir=a.data_dir, api_keys=keys, log_level=a.log_level,
        api_profile=a.api_profile, enrollments_required=a.enrollments_required,
        min_enroll_speech_seconds=a.min_enroll_speech, complete_speech_seconds=a.complete_speech,
        max_body_bytes=int(a.max_body_mb * 2**20),
        max_audio_seconds=a.max_audio_seconds, url_timeout_seconds=a.url_timeout,
        url_max_bytes=int(a.url_max_mb * 2**20), threads=a.threads, job_workers=a.job_workers,
        job_queue_size=a.job_queue_size, webhook_timeout_seconds=a.webhook_timeout,
        webhook_attempts=a.webhook_attempts, webhook_backoff_seconds=a.webhook_backoff,
        webhook_success=a.webhook_success, rate_limits=rate_limits,
        sync_max_audio_seconds=a.sync_max_audio_seconds,
        admin=not a.no_admin, admin_remote=a.admin_remote, preload_dir=a.preload,
        preload_api_key=a.preload_api_key, url_file=a.url_file, drain_seconds=a.drain_seconds,
        exit_with_parent=a.exit_with_parent,
        store_busy_seconds=a.store_busy_seconds,
        processes=a.processes, grpc_port=grpc_port, grpc_max_streams=a.grpc_max_streams,
        grpc_idle_seconds=a.grpc_idle_seconds,
    )
    problem = config.preload_key_problem()
    if problem:
        parser.error(problem)
    return config
