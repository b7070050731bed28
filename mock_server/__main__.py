"""``python -m mock_server``: parse flags, build the app, serve it with waitress until SIGTERM/SIGINT.

With ``--processes N`` the listening socket is bound once and N forked children serve it, each with its own
app, job runner and SQLite connections over the one store; the parent only supervises (restarts a child that
dies, forwards SIGTERM/SIGINT and waits for the children to drain).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from .config import ServerConfig, config_from_args

log = logging.getLogger("mock_server")

LOOP_TICK_SECONDS = 0.2     # how often the serving loop looks at the stop flag
RESPAWN_WINDOW_SECONDS = 10.0  # a child dying more than RESPAWN_LIMIT times within this stops the supervisor
RESPAWN_LIMIT = 5


def main(argv: list[str] | None = None) -> int:
    _limit_malloc_arenas()
    config = config_from_args(argv)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if config.processes > 1:
        fmt = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
    logging.basicConfig(level=config.log_level, format=fmt)
    if config.processes > 1:
        return serve_processes(config)
    return serve(config)


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


def serve(config: ServerConfig, *, sock: socket.socket | None = None, parent: int | None = None,
          stopping: threading.Event | None = None) -> int:
    """Run the server in this process; returns the exit code (0 after a drain).

    ``sock`` is an already listening socket to serve (the multi-process case), ``parent`` the supervisor's pid:
    when it goes away this process drains and exits rather than serve on as an orphan. ``stopping`` is set by
    a signal handler installed earlier (a forked child must not miss a SIGTERM sent while it starts up).
    """
    import waitress
    from waitress import wasyncore

    from .app import create_app

    app = create_app(config)
    state = app.extensions["speaker_id_mock"]
    if config.preload_dir and parent is None:  # before listening: /health answers once the speakers are there
        from .preload import preload_at_start
        if preload_at_start(config, state):
            state.runner.stop(timeout=1.0)
            return 2
    realtime = None
    if config.grpc_port is not None and sock is None:   # one process only: see serve_processes
        realtime = _start_realtime(config, state)
        if realtime is None:
            state.runner.stop(timeout=1.0)
            return 2
    socket_map: dict = {}
    where = {"sockets": [sock]} if sock is not None else {"host": config.host, "port": config.port}
    # waitress refuses bodies over max_request_body_size itself, from the Content-Length header or, for chunked
    # bodies, as soon as that many bytes arrived: nothing larger is ever buffered (beyond 512 KB it spools to a
    # temporary file anyway). The refusal is JSON like every other error (_JsonErrorChannel).
    server = waitress.create_server(_served_by(app), map=socket_map, threads=config.threads,
                                    max_request_body_size=config.max_body_bytes, ident="speaker-id-mock",
                                    channel_timeout=120, clear_untrusted_proxy_headers=True, recv_bytes=65536, inbuf_overflow=4 * 2**20, **where)
    server.channel_class = _json_error_channel(config)
    if sock is None:
        host = config.host if ":" not in config.host else f"[{config.host}]"
        url = f"http://{host}:{server.effective_port}"
        grpc_line = f"grpc={realtime.target}\n" if realtime else ""
        if config.url_file:
            config.url_file.write_text(url + "\n" + grpc_line)   # one write: readers never see half of it
        print(f"speaker-id-mock listening on {url}", flush=True)
        if realtime:
            print(f"speaker-id-mock realtime gRPC listening on {realtime.target}", flush=True)

    stopping = stopping or threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping.is_set():
        wasyncore.loop(timeout=LOOP_TICK_SECONDS, map=socket_map, count=1)
        if parent is not None and os.getppid() != parent:
            log.warning("supervisor %d went away; stopping", parent)
            stopping.set()
    stopper = None
    if realtime:    # open streams drain alongside the REST requests, within the same --drain-seconds
        stopper = threading.Thread(target=realtime.stop, args=(config.drain_seconds,), name="drain-grpc", daemon=True)
        stopper.start()
    code = _drain(server, socket_map, state, config)
    if stopper:
        stopper.join(config.drain_seconds + 5.0)
    return code


def _start_realtime(config: ServerConfig, state):
    """The realtime gRPC server (mock_server/realtime) over the app's state; None (logged) if it cannot listen."""
    from .realtime.server import start_realtime_server
    try:
        return start_realtime_server(state, host=config.host, port=config.grpc_port,
                                     max_streams=config.grpc_max_streams, max_message_bytes=config.max_body_bytes)
    except OSError as exc:
        log.error("%s; choose another --grpc-port (0 picks a free one) or pass --no-grpc", exc)
        return None


def _drain(server, socket_map: dict, state, config: ServerConfig) -> int:
    """Stop accepting, finish the requests and async jobs in flight within --drain-seconds, then close."""
    from waitress import wasyncore
    from waitress.channel import HTTPChannel

    deadline = time.monotonic() + config.drain_seconds
    log.info("stopping: draining in-flight work for up to %.0f s", config.drain_seconds)
    # Close only the listening socket; the loop keeps running so responses being written still go out.
    wasyncore.dispatcher.close(server)
    jobs = threading.Thread(target=lambda: setattr(state, "drained", state.runner.stop(timeout=config.drain_seconds)),
                            name="drain-jobs", daemon=True)
    jobs.start()
    while time.monotonic() < deadline:
        busy = [ch for ch in list(socket_map.values()) if isinstance(ch, HTTPChannel)
                and (ch.requests or ch.total_outbufs_len or ch.request is not None)]
        if not busy:
            break
        wasyncore.loop(timeout=0.05, map=socket_map, count=1)
    jobs.join(max(0.0, deadline - time.monotonic()))
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.1, deadline - time.monotonic()))
    wasyncore.close_all(socket_map)
    state.store.close()
    drained = getattr(state, "drained", False)
    log.info("stopped (%s)", "drained" if drained else "drain deadline reached; unfinished jobs resume next start")
    return 0


def _served_by(app):
    """WSGI wrapper adding ``X-Served-By: <pid>``, to see which process answered."""

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, list(headers) + [("X-Served-By", str(os.getpid()))], exc_info)

        return app(environ, start)

    return wsgi


def _json_error_channel(config: ServerConfig):
    """A waitress channel whose own refusals (413, 400, 431) carry our JSON error body instead of plain text."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    limit_mb = config.max_body_bytes / 2**20

    class JsonErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            if error.code == 413:
                code = "payload_too_large"
                message = (f"the request body is larger than {limit_mb:g} MB (--max-body-mb); send a url or a "
                           "shorter clip.")
            else:
                code = "_".join(error.reason.lower().split())
                message = f"{error.reason}: {error.body}"
            body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
            self.status = f"{error.code} {error.reason}"
            self.response_headers.extend([("Content-Type", "application/json"), ("X-Served-By", str(os.getpid()))])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonErrorChannel


# --- several processes ---------------------------------------------------------------------------------------

def serve_processes(config: ServerConfig) -> int:
    """Bind once, fork ``config.processes`` children serving that socket, supervise them until SIGTERM."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.create_server((config.host, config.port), family=family, backlog=1024)
    host = config.host if ":" not in config.host else f"[{config.host}]"
    url = f"http://{host}:{sock.getsockname()[1]}"
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    me = os.getpid()
    children: dict[int, float] = {}  # pid -> start time
    deaths: list[float] = []

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # child: a fresh app, threads and SQLite connections, built after the fork
            code = 1
            early = threading.Event()  # the parent's handlers were inherited; catch a SIGTERM sent during start-up
            signal.signal(signal.SIGTERM, lambda signum, frame: early.set())
            signal.signal(signal.SIGINT, lambda signum, frame: early.set())
            try:
                code = serve(config, sock=sock, parent=me, stopping=early)
            except BaseException:
                log.exception("worker process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = time.monotonic()

    if config.preload_dir:  # once, here, before any worker exists: they would race each other
        from .preload import preload_at_start
        if preload_at_start(config):
            sock.close()
            return 2
    for _ in range(config.processes):
        spawn()
    if config.url_file:
        config.url_file.write_text(url + "\n")
    print(f"speaker-id-mock listening on {url} with {config.processes} processes "
          f"({', '.join(map(str, children))})", flush=True)
    if config.grpc_port is not None:
        # gRPC cannot share the forked children's socket the way waitress does; say so rather than half-serve it
        print("speaker-id-mock: realtime gRPC is not served with --processes > 1; run a --processes 1 server "
              "for realtime streams", flush=True)
    code = 0
    while not stopping.is_set():
        time.sleep(LOOP_TICK_SECONDS)
        for pid, status in _reap(children):
            log.warning("worker %d exited (%s); starting another", pid, _describe(status))
            deaths = [t for t in deaths if t > time.monotonic() - RESPAWN_WINDOW_SECONDS] + [time.monotonic()]
            if len(deaths) > RESPAWN_LIMIT:
                log.error("workers keep dying; giving up")
                stopping.set()
                code = 1
                break
            spawn()
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + config.drain_seconds + 5.0
    while children and time.monotonic() < deadline:
        for pid, status in _reap(children):
            if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                code = 1
        time.sleep(0.05)
    for pid in list(children):
        log.error("worker %d did not stop in time; killing it", pid)
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        code = 1
    sock.close()
    return code


def _reap(children: dict[int, float]) -> list[tuple[int, int]]:
    """Collect children that exited, removing them from ``children``."""
    gone = []
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.pop(pid)
            gone.append((pid, status))
    return gone


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"code {os.WEXITSTATUS(status)}"


if __name__ == "__main__":
    sys.exit(main())
