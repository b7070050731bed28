"""Start and stop the realtime gRPC server beside the REST one, over the same MockState.

Besides the vendor's service it serves the standard health service (grpc.health.v1.Health: "" and
"deepaffectsrealtime.DeepAffectsRealtime" are SERVING while up) and server reflection, so
``grpcurl -plaintext 127.0.0.1:50051 list`` and ``describe`` work without the .proto.
"""
from __future__ import annotations

import logging
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from . import deepaffects_realtime_pb2 as pb
from . import deepaffects_realtime_pb2_grpc as pb_grpc
from .servicer import SERVICE, RealtimeServicer

log = logging.getLogger("mock_server.realtime")

SPARE_WORKERS = 4       # threads beyond --grpc-max-streams: health checks, reflection and refusals stay quick
# A client whose network vanished (no FIN or RST reaches us: a dropped Wi-Fi, a suspended laptop) would hold its
# stream slot for gRPC's default 2 h keepalive. The server pings each connection this often (ms) and drops it when
# a ping is not acknowledged within KEEPALIVE_TIMEOUT_MS, ending its streams: the slot is free within ~20 s.
# Live clients answer pings in their gRPC library, whatever their own settings. grpcio 1.85 times a keepalive ping
# out by grpc.http2.ping_timeout_ms (60 s by default), not by keepalive_timeout_ms alone: both are set.
KEEPALIVE_TIME_MS = 10_000
KEEPALIVE_TIMEOUT_MS = 10_000
# gRPC's own receive limit, as a multiple of --max-body-mb. The servicer enforces --max-body-mb itself (413
# payload_too_large, RESOURCE_EXHAUSTED, journalled as 413): a message gRPC refuses never reaches the servicer,
# which sees only a call that ended, as when the client cancels (journalled 499). Above this cap gRPC still
# refuses it (the same RESOURCE_EXHAUSTED to the client) before buffering more: the bound on a stream's memory.
HARD_CAP_FACTOR = 2


class RealtimeServer:
    """A running gRPC server: ``target`` ("host:port") for clients, ``stop(grace)`` to end it."""

    def __init__(self, server: grpc.Server, servicer: RealtimeServicer, health_servicer, host: str, port: int):
        self._server, self.servicer, self._health = server, servicer, health_servicer
        self.host, self.port = host, port

    @property
    def target(self) -> str:
        """What a client dials, e.g. "127.0.0.1:50051" (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def stop(self, grace: float) -> bool:
        """Refuse new calls, give open streams ``grace`` seconds, then cancel them; returns once stopped, True when
        every stream had ended by itself (none was cancelled)."""
        self._health.enter_graceful_shutdown()
        deadline = time.monotonic() + grace
        stopped = self._server.stop(grace)
        while self.servicer.open_streams and time.monotonic() < deadline - 0.05:
            time.sleep(0.02)
        ended = self.servicer.open_streams == 0
        stopped.wait(grace + 5.0)
        return ended


def start_realtime_server(state, *, host: str, port: int, max_streams: int, max_message_bytes: int,
                          idle_seconds: float) -> RealtimeServer:
    """Serve the realtime API on ``host:port`` (0: a free port) over ``state`` (app.MockState).

    max_streams: concurrent IdentifySpeaker streams before RESOURCE_EXHAUSTED; max_message_bytes: the largest
    chunk message accepted (larger ones fail the call with RESOURCE_EXHAUSTED: up to HARD_CAP_FACTOR times it
    refused by the servicer and journalled 413, beyond that by gRPC itself); idle_seconds: how long a stream may
    go without a message before it is ended with DEADLINE_EXCEEDED (journalled 408), freeing its slot.
    Raises OSError when the port cannot be bound.
    """
    workers = max_streams + SPARE_WORKERS
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        maximum_concurrent_rpcs=workers,
        options=[("grpc.max_receive_message_length", min(HARD_CAP_FACTOR * max_message_bytes, 2**31 - 1)),
                 ("grpc.max_send_message_length", 4 * 2**20),
                 ("grpc.so_reuseport", 0),      # a busy port must fail, not be shared with another server
                 ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
                 ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
                 ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_MS),
                 ("grpc.http2.max_pings_without_data", 0)])    # keep pinging a stream whose client is silent
    servicer = RealtimeServicer(state, max_streams=max_streams, max_message_bytes=max_message_bytes,
                                idle_seconds=idle_seconds)
    pb_grpc.add_DeepAffectsRealtimeServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (pb.DESCRIPTOR.services_by_name["DeepAffectsRealtime"].full_name,
             health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:     # grpcio raises RuntimeError("Failed to bind ...") on a busy port
        raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
    if not bound:
        raise OSError(f"cannot listen for gRPC on {address}")
    server.start()
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("realtime gRPC listening on %s:%d (%d streams at most)", host, bound, max_streams)
    return RealtimeServer(server, servicer, health_servicer, host, bound)
