#!/usr/bin/env python3
"""The deep-encoder pipeline the listening issue compares speed with, timed over the same workload.

    scripts/deep_encoder.py [--manifest ../shared/speech-dev] [--runs 1] [--threads 1]

It is Resemblyzer's pretrained GE2E speaker encoder (Wan et al. 2018, "Generalized end-to-end loss for speaker
verification"; https://github.com/resemble-ai/Resemblyzer) used as its own diarization demo uses it: the recording
level-normalised and trimmed of long silences with webrtcvad (`preprocess_wav`), then a d-vector for every 1.6 s
window, 16 windows per second (`embed_utterance(..., return_partials=True, rate=16)`: the demo's dense setting
for "who speaks when"; Resemblyzer's default of 1.3 windows per second is ~12x cheaper and too coarse for turns),
which cosine scoring against the enrolled speakers' d-vectors then labels. Only that part is timed: decoding and
the scoring are left out, so its speed is overestimated and our speed ratio against it (scripts/bench.py
--deep-encoder) is a lower bound. One torch thread by default, as the mock's pipeline runs single-threaded BLAS.

Not a dependency of the project: `pip install torch==2.13.0 && pip install --no-deps resemblyzer==0.1.4` (its
other needs, librosa and webrtcvad, come with the test extra and the runtime).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, decode_16k, workload  # noqa: E402

INSTALL = "pip install torch==2.13.0 && pip install --no-deps resemblyzer==0.1.4"


def times_real_time(recordings: list[tuple[bytes, str | None, int | None]], *, runs: int = 1,
                    threads: int = 1) -> tuple[float, list[float]]:
    """(median, per run) audio seconds per wall second of the encoder over ``recordings`` ((bytes, encoding,
    sampleRate) as a client sends them),
    after one warm-up recording (~2 min per run over the dev tests). Raises SystemExit naming the install
    command when Resemblyzer or torch is missing."""
    try:
        import torch
        from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError as exc:
        raise SystemExit(f"the deep-encoder baseline needs Resemblyzer and torch ({exc}): {INSTALL}") from None
    torch.set_num_threads(threads)
    encoder = VoiceEncoder("cpu", verbose=False)
    waves = [decode_16k(*recording) for recording in recordings]
    seconds = sum(len(w) for w in waves) / 16000
    encoder.embed_utterance(preprocess_wav(waves[0], 16000), return_partials=True, rate=16)  # warm-up
    per_run = []
    for _ in range(runs):
        started = time.perf_counter()
        for wave in waves:
            encoder.embed_utterance(preprocess_wav(wave, 16000), return_partials=True, rate=16)
        per_run.append(seconds / (time.perf_counter() - started))
    return statistics.median(per_run), per_run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "speech-dev")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    _, tests = workload(args.manifest)
    median, per_run = times_real_time([t[:3] for t in tests], runs=args.runs, threads=args.threads)
    print(f"deep encoder (GE2E, Resemblyzer): {median:.1f}x real time (runs: "
          f"{', '.join(f'{x:.1f}' for x in per_run)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
