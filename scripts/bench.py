#!/usr/bin/env python3
"""Speed, memory and cold-start benchmark of the mock, through its HTTP API; medians over repeated runs.

    scripts/bench.py [--manifest ../shared/speech-dev] [--runs 5] [--voices 1000] [--report reports/bench.json]
                     [--check] [--deep-encoder]
    scripts/bench.py --realtime [--runs 3]     realtime gRPC stream only (realtime_bench): answer latency, CPU

Figures (targets from the pipeline issue, checked with --check):
- cold start: `python -m mock_server` to /health answering (< 1 s) and to the first answered identify (< 2 s),
  on an installed machine; also once with an empty bytecode cache (PYTHONPYCACHEPREFIX), as right after install.
- identify speed: audio seconds / wall seconds of sync identify HTTP calls over the manifest's tests, one
  client (>= 600x real time); and on a 10-minute recording.
- enrollment of a 10 s recording (< 0.2 s).
- peak server memory, VmHWM of the server process after all of the above (< 300 MB).
- importing mock_server.pipeline in a new interpreter (< 1 s; ~0.15 s on the dev machine), the part of the
  cold start the pipeline owns (tests/test_pipeline_stages.py checks it imports no librosa, numba or scipy).
- with --deep-encoder: the deep-encoder pipeline (scripts/deep_encoder.py: Resemblyzer's GE2E encoder, one
  thread) timed over the same tests in the same run, and our identify speed over its (>= 10x).
- with --voices N: N more voices enrolled under the identify key first (each from one of the workload's
  speakers' clips, so the account really holds N voiceprints), and a 1-minute identify asking for 3 speakers
  (>= 300x real time with 1000 voices): identify cost must not grow with the account.
Without ../shared, the committed fixtures stand in for the manifest.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.testing import LiveServer, http_json  # noqa: E402

TARGETS = {"health_seconds": ("<", 1.0), "first_identify_seconds": ("<", 2.0), "times_real_time": (">=", 600.0),
           "enroll_10s_seconds": ("<", 0.2), "peak_rss_mb": ("<", 300.0), "pipeline_import_seconds": ("<", 1.0),
           "one_minute_3_speakers_times_real_time": (">=", 300.0)}


def post(url: str, body: dict | bytes) -> dict:
    status, answer = http_json("POST", url, body, timeout=600)
    if status != 200:
        raise SystemExit(f"{url.split('?')[0]} answered {status}: {answer}")
    return answer


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def flac_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="FLAC")
    return buffer.getvalue()


def workload(manifest: Path | None):
    """(speakers {id: [bytes]}, tests [(bytes, encoding, rate, speakerIds, seconds)])."""
    if manifest and (manifest / "manifest.json").exists():
        m = json.loads((manifest / "manifest.json").read_text())
        speakers = {s: [(manifest / f).read_bytes() for f in files] for s, files in m["speakers"].items()}
        tests = []
        for t in m["tests"]:
            info = soundfile.info(str(manifest / t["audio"]))
            tests.append(((manifest / t["audio"]).read_bytes(), t["encoding"], t["sampleRate"], t["speakerIds"],
                          info.frames / info.samplerate))
        return speakers, tests
    voices = json.loads((ROOT / "fixtures" / "voices.json").read_text())
    speakers = {s: [(ROOT / "fixtures" / e["file"]).read_bytes() for e in v["enroll"]]
                for s, v in voices["speakers"].items()}
    tests = []
    for t in voices["tests"].values():
        if t["segments"]:
            tests.append(((ROOT / "fixtures" / t["file"]).read_bytes(), t["encoding"], t["sampleRate"],
                          t["speakerIds"], t["duration"]))
    return speakers, tests


def decode_16k(data: bytes, encoding: str | None = None, rate: int | None = None) -> np.ndarray:
    """Mono float32 at 16 kHz from a file's bytes, or from headerless LINEAR16 at ``rate``."""
    import soxr
    if encoding == "LINEAR16":
        mono = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
    return (soxr.resample(mono, rate, 16000) if rate != 16000 else mono).astype(np.float32)


def ten_minutes(tests) -> tuple[bytes, list[str]]:
    """A 600 s recording made by chaining the workload's test clips (decoded, resampled to 16 kHz)."""
    chunks, total, ids = [], 0, []
    while total < 600 * 16000:
        for data, encoding, _rate, speaker_ids, _ in tests:
            if encoding == "LINEAR16":
                continue
            mono = decode_16k(data)
            chunks.append(mono)
            total += len(mono)
            ids = list(dict.fromkeys(ids + speaker_ids))
    return flac_bytes(np.concatenate(chunks)[:600 * 16000], 16000), ids


def cold_start(data_dir: Path, probe: dict, *, fresh_bytecode: bool) -> tuple[float, float]:
    """Seconds from spawning the server to /health 200, and to the first identify answer."""
    url_file = data_dir / f"url-{time.monotonic_ns()}"
    env = dict(os.environ)
    if fresh_bytecode:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="pycache-")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "mock_server", "--port", "0", "--data-dir", str(data_dir),
                                "--url-file", str(url_file), "--log-level", "WARNING", "--api-profile", "2019"],
                               cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = None
        while time.perf_counter() - started < 60:
            if url_file.exists() and url_file.read_text().strip():
                try:
                    with urllib.request.urlopen(url_file.read_text().split()[0] + "/health", timeout=1) as r:
                        if r.status == 200:
                            health = time.perf_counter() - started
                            break
                except OSError:
                    pass
            time.sleep(0.005)
        base = url_file.read_text().split()[0]  # line 2 is "grpc=HOST:PORT"
        post(f"{base}/audio/generic/api/v2/sync/diarization/identify?apikey=bench", probe)
        return health, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(30)


def pipeline_import_seconds() -> float:
    """Seconds to import mock_server.pipeline, timed inside a new interpreter."""
    code = ("import time; t = time.perf_counter(); import mock_server.pipeline; "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "speech-dev")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "bench.json")
    parser.add_argument("--voices", type=int, default=0, help="extra voices enrolled under the identify key")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--deep-encoder", action="store_true",
                        help="also time the deep-encoder pipeline (scripts/deep_encoder.py, needs Resemblyzer) over "
                             "the same tests: our speed must be >= 10x its")
    parser.add_argument("--realtime", action="store_true",
                        help="measure the realtime gRPC stream instead (realtime_bench): answer latency, CPU")
    args = parser.parse_args(argv)
    if args.realtime:
        return realtime_main(args)

    speakers, tests = workload(args.manifest)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    # The ten-minute sync identify below measures listening speed on long audio; the vendor's 2-minute sync
    # limit (a 400 pointing to async) would refuse it, so this server lifts it.
    # the dev set's ids and short enrollments follow the earlier docs: the 2019 profile (shared/notes/clarifications.md)
    server = LiveServer("--log-level", "WARNING", "--sync-max-audio-seconds", "7200", "--api-profile", "2019",
                        data_dir=data_dir).start()
    api = f"{server.url}/audio/generic/api/v2/sync/diarization"
    try:
        for speaker, clips in speakers.items():
            for clip in clips:
                post(f"{api}/enroll?apikey=bench", {"content": b64(clip), "speakerId": speaker})
        pool = list(speakers.values())
        for i in range(args.voices):
            for clip in pool[i % len(pool)]:
                post(f"{api}/enroll?apikey=bench", {"content": b64(clip), "speakerId": f"extra-{i:05d}"})
        # Enrollment of a 10 s recording, each run a new speaker so the store grows as in real use.
        first = next(iter(speakers.values()))[0]
        samples, rate = soundfile.read(io.BytesIO(first), dtype="float32")
        ten_s = flac_bytes(np.resize(samples, 10 * rate), rate)
        enroll_times = []
        for run in range(args.runs * 2):
            t = time.perf_counter()
            post(f"{api}/enroll?apikey=bench-enroll", {"content": b64(ten_s), "speakerId": f"s{run}"})
            enroll_times.append(time.perf_counter() - t)
        # Identify over the workload, one client; the first pass warms caches and is not counted.
        # Request bodies are serialised before the clock starts: encoding JSON is the client's work, not the mock's.
        bodies = [(json.dumps({"content": b64(d), "encoding": e, "sampleRate": r, "speakerIds": ids}).encode(), sec)
                  for d, e, r, ids, sec in tests]
        xrt_runs = []
        for run in range(args.runs + 1):
            wall = audio = 0.0
            for body, seconds in bodies:
                t = time.perf_counter()
                post(f"{api}/identify?apikey=bench", body)
                wall += time.perf_counter() - t
                audio += seconds
            if run:
                xrt_runs.append(audio / wall)
        long_clip, long_ids = ten_minutes(tests)
        long_times = []
        for _ in range(max(3, args.runs // 2)):
            t = time.perf_counter()
            post(f"{api}/identify?apikey=bench", {"content": b64(long_clip), "speakerIds": long_ids})
            long_times.append(time.perf_counter() - t)
        one_minute = flac_bytes(soundfile.read(io.BytesIO(long_clip), dtype="float32")[0][:60 * 16000], 16000)
        minute_times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            post(f"{api}/identify?apikey=bench", {"content": b64(one_minute), "speakerIds": long_ids[:3]})
            minute_times.append(time.perf_counter() - t)
        status = Path(f"/proc/{server.process.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    finally:
        server.close()

    # Cold start over its own data dir holding one enrolled speaker.
    cold_dir = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    speaker, clips = next(iter(speakers.items()))
    with LiveServer("--api-profile", "2019", data_dir=cold_dir) as warm:
        for clip in clips:
            post(f"{warm.url}/audio/generic/api/v2/sync/diarization/enroll?apikey=bench",
                 {"content": b64(clip), "speakerId": speaker})
    probe = {"content": b64(tests[0][0]), "encoding": tests[0][1], "sampleRate": tests[0][2],
             "speakerIds": [speaker]}
    colds = [cold_start(cold_dir, probe, fresh_bytecode=False) for _ in range(args.runs)]
    fresh = cold_start(cold_dir, probe, fresh_bytecode=True)
    imports = [pipeline_import_seconds() for _ in range(args.runs)]

    report = {
        "runs": args.runs, "workload": str(args.manifest if (args.manifest / "manifest.json").exists() else "fixtures"),
        "health_seconds": statistics.median(c[0] for c in colds),
        "first_identify_seconds": statistics.median(c[1] for c in colds),
        "fresh_bytecode_health_seconds": fresh[0], "fresh_bytecode_first_identify_seconds": fresh[1],
        "times_real_time": statistics.median(xrt_runs), "times_real_time_runs": xrt_runs,
        "ten_minute_identify_seconds": statistics.median(long_times),
        "ten_minute_times_real_time": 600.0 / statistics.median(long_times),
        "enroll_10s_seconds": statistics.median(enroll_times), "peak_rss_mb": peak_kb / 1024,
        "pipeline_import_seconds": statistics.median(imports),
        "voices_under_key": len(speakers) + args.voices,
        "one_minute_3_speakers_times_real_time": 60.0 / statistics.median(minute_times),
    }
    targets = dict(TARGETS)
    if args.deep_encoder:
        from deep_encoder import times_real_time as deep_times_real_time
        # ~2 min per pass over the dev tests: a third as many passes as ours (the spread is in the report)
        deep, deep_runs = deep_times_real_time([t[:3] for t in tests], runs=max(1, args.runs // 3))
        report.update(deep_encoder_times_real_time=deep, deep_encoder_runs=deep_runs,
                      times_deep_encoder_speed=report["times_real_time"] / deep)
        targets["times_deep_encoder_speed"] = (">=", 10.0)
    failed = []
    for key, (op, limit) in targets.items():
        ok = report[key] < limit if op == "<" else report[key] >= limit
        print(f"{key:<30} {report[key]:>10.3f}   target {op} {limit:<8} {'ok' if ok else 'MISSED'}")
        if not ok:
            failed.append(key)
    for key in ("fresh_bytecode_health_seconds", "fresh_bytecode_first_identify_seconds",
                "ten_minute_identify_seconds", "ten_minute_times_real_time", "voices_under_key",
                "one_minute_3_speakers_times_real_time", "deep_encoder_times_real_time"):
        if key in report:
            print(f"{key:<30} {report[key]:>10.3f}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    print(f"report: {args.report}")
    return 1 if (args.check and failed) else 0


# --- realtime gRPC (issue 12) ------------------------------------------------------------------------------------

def realtime_bench(runs: int = 3, chunk_seconds: float = 4.0, cpu_streams: int = 10) -> dict:
    """Latency and CPU of the realtime IdentifySpeaker stream, fixtures/conversation.wav, SDK-style WAV chunks.

    Latency: each run streams the file paced like a live source at real time; for every answer, the seconds
    from the moment the end of its turn was recorded (the stream start + the answer's ``end``) to the answer's
    arrival (this includes waiting for the chunk holding that audio and the 2 s after it that settle the turn:
    StreamIdentifier's ``settle``), and from the chunk that carried the decision to the answer (the server's own
    time). CPU: ``cpu_streams`` unpaced streams;
    the server process's user+system CPU seconds per streamed audio second (/proc/PID/stat, Linux only).
    Returns medians and 95th percentiles in seconds.
    """
    from mock_server.testing.realtime_client import stream_file

    audio = ROOT / "fixtures" / "conversation.wav"
    ids = ["alice", "bob", "carol"]
    with LiveServer("--log-level", "WARNING") as server:
        for speaker in ("alice", "bob", "carol", "dave"):
            for clip in sorted((ROOT / "fixtures" / "speakers" / speaker).glob("*.wav")):
                post(f"{server.url}/audio/generic/api/v2/sync/diarization/enroll?apikey=bench",
                     {"content": b64(clip.read_bytes()), "speakerId": speaker})
        turn_latency, server_latency = [], []
        for _ in range(runs):
            result = stream_file(server.grpc_target, audio, api_key="bench", speaker_ids=ids,
                                 chunk_seconds=chunk_seconds, speed=1.0)
            for answer in result.answers:
                turn_latency.append(answer["received"] - answer["end"])
                server_latency.append(answer["received"] - max(t for t in result.sent if t <= answer["received"]))
        cpu_before = _cpu_seconds(server.process.pid)
        streamed = 0.0
        for _ in range(cpu_streams):
            stream_file(server.grpc_target, audio, api_key="bench", speaker_ids=ids, chunk_seconds=chunk_seconds)
            streamed += soundfile.info(str(audio)).duration
        cpu = _cpu_seconds(server.process.pid) - cpu_before
    pct = lambda xs, q: float(np.percentile(xs, q))  # noqa: E731
    return {"chunk_seconds": chunk_seconds, "answers": len(turn_latency),
            "turn_end_to_answer_median_s": statistics.median(turn_latency),
            "turn_end_to_answer_p95_s": pct(turn_latency, 95),
            "chunk_to_answer_median_s": statistics.median(server_latency),
            "chunk_to_answer_p95_s": pct(server_latency, 95),
            "cpu_seconds_per_streamed_second": cpu / streamed, "streamed_seconds": streamed}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def realtime_main(args) -> int:
    report = realtime_bench(runs=max(1, min(args.runs, 3)))
    for key, value in report.items():
        print(f"{key:<34} {value:>10.4f}" if isinstance(value, float) else f"{key:<34} {value:>10}")
    path = args.report.with_name(args.report.stem + "-realtime.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
