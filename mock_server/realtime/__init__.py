"""The vendor's third door: realtime speaker identification over gRPC (``deepaffectsrealtime``).

deepaffects-realtime.proto   the contract, under the vendor's file name (regenerate the *_pb2* modules with
                             scripts/gen_realtime_proto)
chunks.py                    call metadata and chunks, checked and decoded
stream.py                    live decisions over a stream: when a turn is decided, answering it once
score.py                     identification_score
servicer.py                  the gRPC servicer; API errors -> gRPC status codes in one place
server.py                    start/stop the gRPC server (with health and reflection) beside REST

Streaming a file the way the vendor's SDK does (tests, bench, pytest plugin) is not here but in
mock_server/testing/realtime_client.py, which talks to this door over the wire only.

Nothing is imported here: importing this package must not load the generated modules, which register the
message names in protobuf's default pool (import server.py / servicer.py explicitly). The vendor's own generated
modules register the same names from a file of the same name, so the two can share a process.
"""
