#!/usr/bin/env python3
"""Make fixtures/short_turn.flac and fixtures/short_turn.json: a 0.4 s turn of one voice between two of another.

    python scripts/make_short_turn.py [--out fixtures]

alice speaks, bob answers "Yes." (espeak-ng in bob's fixture voice, ~0.4 s), alice goes on; 0.4 s pauses
between the turns, 1 s of silence at each end, the fixtures' -75 dBFS noise floor. Made with the same voices and
post-processing as scripts/make_fixtures.py (needs espeak-ng: apt-get install -y espeak-ng); the sentences occur
in no other fixture. The JSON holds the true segments (seconds), so tests can check that bob's short turn is never
given to alice. Deterministic: running it twice gives the same files (same espeak-ng/libsndfile versions).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shutil  # noqa: E402
import subprocess  # noqa: E402

from make_fixtures import SR, noise, synth, write_pcm  # noqa: E402

TURNS = [("alice", "The printer on the second floor is out of paper again."),
         ("bob", "Yes."),
         ("alice", "Somebody should order a box of it before Friday.")]
PAUSE = 0.4
EDGE = 1.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures"))
    out = Path(ap.parse_args(argv).out)
    if shutil.which("espeak-ng") is None:
        sys.exit("make_short_turn: needs espeak-ng (apt-get install -y espeak-ng)")
    tools = {"espeak-ng": subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split()[3]}
    pieces, segments, pos = [np.zeros(int(EDGE * SR))], [], int(EDGE * SR)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (speaker, text) in enumerate(TURNS):
            if i:
                pieces.append(np.zeros(int(PAUSE * SR)))
                pos += int(PAUSE * SR)
            y = synth(Path(tmp), speaker, text)
            segments.append({"speaker_id": speaker, "start": round(pos / SR, 3), "end": round((pos + len(y)) / SR, 3),
                             "text": text})
            pieces.append(y)
            pos += len(y)
    pieces.append(np.zeros(int(EDGE * SR)))
    x = np.concatenate(pieces)
    x = x + noise(len(x), -75.0, seed=4242)
    write_pcm(out / "short_turn.flac", x, fmt="FLAC")
    (out / "short_turn.json").write_text(json.dumps({"file": "short_turn.flac", "sample_rate": SR,
                                                     "segments": segments, "tools": tools}, indent=1) + "\n")
    print(json.dumps(segments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
