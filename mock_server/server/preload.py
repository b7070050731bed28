"""``--preload DIR``: enroll ``DIR/<speakerId>/*.{wav,flac,mp3,ogg,opus,m4a,mp4,aac,webm}`` under one api key
before serving: ``--preload-api-key``, else the first ``--api-key``, else "sandbox" (``ServerConfig.preload_key``).

Idempotent across restarts: a speaker already complete under that key is left alone (its files are not even
read), so a restart over the same data dir costs nothing. A file that cannot be enrolled is reported in the log
and skipped; it never stops the server.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mock_server import errors
from mock_server.audio import AudioSource
from mock_server.core import auth

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".mp4", ".aac", ".webm")


class PreloadError(Exception):
    """The preload directory itself is unusable (missing, or not a directory)."""


@dataclass
class PreloadReport:
    """What a preload did, speaker by speaker."""

    enrolled: dict[str, int] = field(default_factory=dict)   # speaker id -> enrollments added
    skipped: list[str] = field(default_factory=list)         # already complete under the key
    failed: dict[str, str] = field(default_factory=dict)     # file path -> why it was not enrolled
    seconds: float = 0.0


def speaker_files(directory: Path) -> dict[str, list[Path]]:
    """``{speakerId: [audio files]}`` from ``directory/<speakerId>/``, both sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PreloadError(f"--preload {directory}: not a directory (expected DIR/<speakerId>/*.wav)")
    found = {}
    for sub in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if files:
            found[sub.name] = files
    return found


def preload(state, directory: Path, api_key: str) -> PreloadReport:
    """Enroll every speaker under ``directory`` for ``api_key`` through the service, skipping complete ones."""
    started = time.perf_counter()
    report = PreloadReport()
    tenant = auth.tenant_of(api_key)
    service = state.service
    for speaker_id, files in speaker_files(directory).items():
        status = service.speaker_status(tenant, speaker_id)
        if status == "complete":
            report.skipped.append(speaker_id)
            continue
        if status == "incomplete":
            service.delete(tenant, speaker_id)  # half-done by an interrupted earlier run: redo
        added = 0
        for path in files:
            try:
                service.enroll(tenant, speaker_id, AudioSource(content=path.read_bytes()))
                added += 1
            except (errors.ApiError, OSError) as exc:
                report.failed[str(path)] = getattr(exc, "message", None) or str(exc)
                log.warning("preload: could not enroll %s as %r: %s", path, speaker_id, report.failed[str(path)])
        if added:
            report.enrolled[speaker_id] = added
            if service.speaker_status(tenant, speaker_id) != "complete":
                log.warning("preload: %r is not complete after %d enrollment(s); identify will refuse it",
                            speaker_id, added)
    report.seconds = time.perf_counter() - started
    log.info("preload from %s under %s: enrolled %s; already there %s; %d file(s) failed; %.2f s", directory,
             auth.mask_key(api_key), _names(report.enrolled) or "none", _names(report.skipped) or "none",
             len(report.failed), report.seconds)
    return report


def _names(ids) -> str:
    return ", ".join(ids)


def preload_at_start(config, state=None) -> int:
    """Run ``--preload`` for a server about to listen: 0 when done, 2 when the directory is unusable.

    ``state`` is the serving app's MockState; without one (a supervisor about to fork workers) a worker-less
    app is built for the job and its connection closed again, so nothing crosses the fork.
    """
    own = state is None
    if own:
        from mock_server.app import create_app, state_of
        state = state_of(create_app(config, start_workers=False))
    try:
        problem = config.preload_key_problem()  # the command line refuses it first; a config built in code too
        if problem:
            raise PreloadError(problem)
        preload(state, config.preload_dir, config.preload_key)
    except PreloadError as exc:
        print(f"speaker-id-mock: error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        if own:
            state.store.close()
    return 0
