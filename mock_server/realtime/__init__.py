"""The vendor's third door: realtime speaker identification over gRPC (``deepaffectsrealtime``).

deepaffects_realtime.proto   the contract (regenerate the *_pb2* modules with scripts/gen_realtime_proto)
chunks.py                    call metadata and chunks, checked and decoded
stream.py                    live decisions over a stream: when a turn is decided, answering it once
score.py                     identification_score
servicer.py                  the gRPC servicer; API errors -> gRPC status codes in one place
server.py                    start/stop the gRPC server (with health and reflection) beside REST
client.py                    stream a file the way the vendor's SDK does (tests, bench, pytest plugin)

Nothing is imported here: client.py must load beside the vendor's own generated modules, which register the
same message names in protobuf's default pool (import server.py / servicer.py explicitly).
"""
