"""Stream a file to the mock with the vendor's own generated stubs (deepaffects 1.4.1), in a process of its own.

Run by tests/test_realtime.py as a subprocess: the vendor's *_pb2 modules need
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python, which must be set before protobuf is first imported. Chunks are
built by the SDK's own helper (deepaffects.realtime.types.segment_chunk), cut as its util.py cuts them
(mock_server.testing.realtime_client).

    python tests/realtime_vendor_client.py TARGET FILE APIKEY SPEAKERS [CHUNK_SECONDS [SPEED [CANCEL_AFTER]]]

Prints one JSON object: {"answers": [...], "sent": [...]} or {"error": {"code": "INVALID_ARGUMENT", ...}}.
"""
from __future__ import annotations

import json
import os
import sys

assert os.environ.get("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION") == "python", \
    "set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"

import grpc  # noqa: E402
from deepaffects.realtime import deepaffects_realtime_pb2_grpc as vendor_grpc  # noqa: E402
from deepaffects.realtime.types import segment_chunk  # noqa: E402

from mock_server.testing.realtime_client import stream_pieces, wav_pieces  # noqa: E402


def main(argv: list[str]) -> int:
    target, path, key, speakers = argv[:4]
    chunk_seconds = float(argv[4]) if len(argv) > 4 else 30.0
    speed = float(argv[5]) if len(argv) > 5 else 0.0
    cancel_after = int(argv[6]) if len(argv) > 6 else None
    with grpc.insecure_channel(target) as channel:
        stub = vendor_grpc.DeepAffectsRealtimeStub(channel)
        try:
            result = stream_pieces(stub, segment_chunk, wav_pieces(path, chunk_seconds), api_key=key,
                                   speaker_ids=speakers.split(","), speed=speed, cancel_after=cancel_after)
        except grpc.RpcError as exc:
            print(json.dumps({"error": {"code": exc.code().name, "message": exc.details()}}))
            return 0
    print(json.dumps({"answers": result.answers, "sent": result.sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
