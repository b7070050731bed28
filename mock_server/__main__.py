"""``python -m mock_server``: parse flags, build the app, serve it with waitress until SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import signal
import sys

from .config import ServerConfig, config_from_args

log = logging.getLogger("mock_server")


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(config)


def serve(config: ServerConfig) -> int:
    """Run the server in this process; returns the exit code (0 after a clean drain)."""
    import waitress

    from .app import create_app

    app = create_app(config)
    state = app.extensions["speaker_id_mock"]
    server = waitress.create_server(app, host=config.host, port=config.port, threads=config.threads,
                                    max_request_body_size=config.max_body_bytes + 1024, ident="speaker-id-mock",
                                    channel_timeout=120, clear_untrusted_proxy_headers=True)
    host = config.host if ":" not in config.host else f"[{config.host}]"
    url = f"http://{host}:{server.effective_port}"
    if config.url_file:
        config.url_file.write_text(url + "\n")
    print(f"speaker-id-mock listening on {url}", flush=True)

    def _stop(signum, frame):
        raise SystemExit(0)  # waitress's loop closes its sockets on SystemExit and returns from run()

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    log.info("stopping: draining in-flight work for up to %.0f s", config.drain_seconds)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=config.drain_seconds)
    drained = state.runner.stop(timeout=config.drain_seconds)
    state.store.close()
    log.info("stopped (%s)", "drained" if drained else "drain deadline reached; unfinished jobs resume next start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
