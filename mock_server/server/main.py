"""``python -m mock_server``: parse flags, build the app, serve it until SIGTERM/SIGINT.

One process: waitress (``serve``). ``--processes N`` (N > 1): gunicorn with N gthread workers over one socket
and one store (server/processes.py), each with its own app, job runner and SQLite connections.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from mock_server import errors
from mock_server.core.config import ServerConfig
from mock_server.server.cli import config_from_args
from mock_server.server.wsgi import error_body, served_by, too_large_message
from mock_server.store.schema import SchemaTooNew

log = logging.getLogger("mock_server")

LOOP_TICK_SECONDS = 0.2     # how often the serving loop looks at the stop flag


def main(argv: list[str] | None = None) -> int:
    _limit_malloc_arenas()
    config = config_from_args(argv)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if config.processes > 1:
        fmt = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
    logging.basicConfig(level=config.log_level, format=fmt)
    if config.exit_with_parent:
        _stop_when_parent_exits()
    try:
        if config.processes > 1:
            from mock_server.server.processes import serve_processes
            return serve_processes(config)
        return serve(config)
    except (errors.StoreUnavailable, SchemaTooNew) as exc:   # a data dir it cannot use: say so, no traceback
        log.error("cannot start: %s", exc.message if isinstance(exc, errors.ApiError) else exc)
        return 1


def _stop_when_parent_exits(tick: float = 0.5) -> None:
    """--exit-with-parent: SIGTERM this process (the usual drain) once the process that started it is gone, which
    makes the server a child of another (a pytest run killed by a CI timeout skips its fixtures' teardown)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(tick)
        log.warning("the process that started this server (pid %d) is gone: stopping (--exit-with-parent)", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas: with one arena per waitress thread, the large transient buffers of
    a long clip stay mapped in each arena and peak RSS grows with the thread count (~400 MB vs ~270 MB with 2
    arenas in scripts/bench.py). Elsewhere than glibc this does nothing."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def serve(config: ServerConfig, *, stopping: threading.Event | None = None) -> int:
    """Run the server in this process with waitress; returns the exit code (0 after a drain, 2 if --preload
    failed). ``stopping``, when given, stops it as SIGTERM/SIGINT would (an embedding caller's own signal)."""
    from mock_server.app import create_app, state_of
    from mock_server.server.waitress_adapter import WaitressServer

    if config.port and (busy := _busy_port(config.host, config.port)):   # before the store is even opened
        log.error("cannot start: %s", cannot_listen(config.host, config.port, busy))
        return 1
    app = create_app(config)
    state = state_of(app)
    # the ports first: a server that cannot listen (run twice by mistake) must leave the data dir's faults, stubs,
    # journal and url file to the server still running there
    try:
        server = WaitressServer(served_by(app), host=config.host, port=config.port, threads=config.threads,
                                max_body_bytes=config.max_body_bytes, refusal=_refusal_body(config),
                                ident="speaker-id-mock", channel_timeout=120, clear_untrusted_proxy_headers=True,
                                recv_bytes=65536, inbuf_overflow=4 * 2**20)
    except OSError as exc:
        state.runner.stop(timeout=1.0)
        log.error("cannot start: %s", cannot_listen(config.host, config.port, os_reason(exc)))
        return 1

    def give_up() -> int:   # exit code 2: a bad --grpc-port or --preload, nothing served
        server.close(timeout=0.1)
        state.runner.stop(timeout=1.0)
        return 2

    if config.grpc_port is not None and (busy := _busy_port(config.host, config.grpc_port)):
        log.error("cannot listen for gRPC on %s:%d: %s; choose another --grpc-port (0 picks a free one) or pass "
                  "--no-grpc", config.host, config.grpc_port, busy)
        return give_up()
    forget_stale_url_file(config.url_file)
    state.store.clear_controls()  # faults, stubs and journal last one server run, as they did in memory
    if config.preload_dir:  # before serving: /health answers once the speakers are there
        from mock_server.server.preload import preload_at_start
        if preload_at_start(config, state):
            return give_up()
    realtime = None
    if config.grpc_port is not None:
        realtime = _start_realtime(config, state)
        if realtime is None:
            return give_up()
    host = config.host if ":" not in config.host else f"[{config.host}]"
    url = f"http://{host}:{server.port}"
    grpc_line = f"grpc={realtime.target}\n" if realtime else ""
    if config.url_file:
        config.url_file.write_text(url + "\n" + grpc_line)  # one write: readers never see half of it
    print(f"speaker-id-mock listening on {url}", flush=True)
    if realtime:
        print(f"speaker-id-mock realtime gRPC listening on {realtime.target}", flush=True)

    # once listening (so /health is not slowed): the model loads now rather than in the first request (~0.1 s)
    threading.Thread(target=state.service.warm_up, name="pipeline-warm-up", daemon=True).start()
    stopping = stopping or threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.serve_until(stopping, tick=LOOP_TICK_SECONDS)
    streams_ended: list[bool] = []
    stopper = None
    if realtime:  # open streams drain alongside the REST requests, within the same --drain-seconds
        stopper = threading.Thread(target=lambda: streams_ended.append(realtime.stop(config.drain_seconds)),
                                   name="drain-grpc", daemon=True)
        stopper.start()
    code = _drain(server, state, config, stopper, streams_ended)
    forget_url_file(config.url_file, url)
    return code


def cannot_listen(host: str, port: int, reason: str) -> str:
    """What to say when the REST port cannot be bound (``reason``: os_reason of the error)."""
    return (f"cannot listen on {host}:{port} ({reason}): another server may be using it; choose another --port "
            "(0 picks a free one) or stop that server")


def os_reason(exc: OSError) -> str:
    """The OS's words for a failed bind ("Address already in use")."""
    return exc.strerror or str(exc)


def _busy_port(host: str, port: int) -> str | None:
    """Why ``port`` on ``host`` cannot be bound now (a server listens there), or None; 0 is never busy. Checked
    before anything changes in the data dir; gRPC itself binds it later, after --preload."""
    if not port:
        return None
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError as exc:
        return os_reason(exc)
    return None


def forget_stale_url_file(url_file: Path | None) -> None:
    """Remove a --url-file an earlier run left, before this server writes its own: a script waiting for it must
    not read a stopped server's url meanwhile."""
    if url_file:
        url_file.unlink(missing_ok=True)


def forget_url_file(url_file: Path | None, url: str) -> None:
    """Remove --url-file at exit if it still names this server: a script waiting for it must not find a stopped
    server's url (another server may have written its own there meanwhile: that one stays)."""
    try:
        if url_file and url_file.read_text().startswith(url + "\n"):
            url_file.unlink(missing_ok=True)
    except OSError:
        pass


def _start_realtime(config: ServerConfig, state):
    """The realtime gRPC server (mock_server/realtime) over the app's state; None (logged) if it cannot listen."""
    from mock_server.realtime.server import start_realtime_server
    try:
        return start_realtime_server(state, host=config.host, port=config.grpc_port,
                                     max_streams=config.grpc_max_streams, max_message_bytes=config.max_body_bytes,
                                     idle_seconds=config.grpc_idle_seconds)
    except OSError as exc:
        log.error("%s; choose another --grpc-port (0 picks a free one) or pass --no-grpc", exc)
        return None


def _drain(server, state, config: ServerConfig, stopper: threading.Thread | None = None,
           streams_ended: list[bool] | None = None) -> int:
    """Stop accepting, finish the requests and async jobs in flight within --drain-seconds, then close; the last
    log line says what, if anything, the deadline cut off (realtime streams: once ``stopper``, the thread stopping
    the gRPC server, has put its result in ``streams_ended``)."""
    deadline = time.monotonic() + config.drain_seconds
    log.info("stopping: draining in-flight work for up to %.0f s", config.drain_seconds)

    def drain_jobs() -> None:
        state.drained = state.runner.stop(timeout=config.drain_seconds)

    jobs = threading.Thread(target=drain_jobs, name="drain-jobs", daemon=True)
    jobs.start()
    requests_done = server.drain(deadline)
    jobs.join(max(0.0, deadline - time.monotonic()))
    server.close(timeout=deadline - time.monotonic())
    state.store.close()
    if stopper is not None:
        stopper.join(config.drain_seconds + 5.0)
    cut = ([] if requests_done else ["requests still in flight were cut off"]) + \
        ([] if stopper is None or streams_ended == [True] else ["realtime streams still open were cancelled"]) + \
        ([] if state.drained else ["unfinished jobs resume next start"])
    log.info("stopped (%s)", "drained" if not cut else "drain deadline reached: " + "; ".join(cut))
    return 0


def _refusal_body(config: ServerConfig):
    """waitress's own refusals (413, 400, 431) as our JSON error body."""

    def body(status: int, reason: str, detail: str, path: str | None) -> bytes:
        if status == 413:
            return error_body(413, "payload_too_large", too_large_message(config.max_body_bytes), path=path)
        return error_body(status, "_".join(reason.lower().split()), f"{reason}: {detail}", path=path)

    return body


if __name__ == "__main__":
    sys.exit(main())
