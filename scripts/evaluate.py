#!/usr/bin/env python3
"""Measure identification accuracy and speed through the HTTP API on a manifest (e.g. ../shared/speech-dev).

    scripts/evaluate.py MANIFEST_DIR [--url URL] [--report out.json] [--plot TEST_NAME_OR_INDEX --plot-file x.png]
                        [--realtime CHUNK_SECONDS [--grpc HOST:PORT]]

Starts a mock server on a free loopback port (or uses --url), enrolls every speaker of the manifest through
the enroll endpoint under a fresh api key, identifies every test through the sync endpoint, and prints per-test
and overall identification error rate (IER: pyannote.metrics' IdentificationErrorRate, 0.25 s collar, through
scripts/ier.py; per group: conversation, voices, meeting) and times-real-time (audio
seconds / wall seconds of the identify HTTP calls, one client). With --plot it draws a test's reference and
answer timelines into a PNG (needs matplotlib: pip install -e '.[evaluate]').
With --realtime S every test is also streamed to the realtime gRPC API as the vendor's SDK streams a file (WAV
pieces of S seconds, mock_server.testing.realtime_client), and the streamed answer's IER is printed beside the
sync one, per test and group, with the largest difference (the realtime issue asks for 0.05 at most).
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ier import identification_error_rate, read_rttm  # noqa: E402

from mock_server.core.profiles import UNKNOWN_SPEAKER  # noqa: E402
from mock_server.testing import LiveServer, http_json  # noqa: E402
from mock_server.testing.realtime_client import stream_file  # noqa: E402


def encoding_of(path: Path) -> str:
    return {".flac": "FLAC", ".wav": "WAV", ".mp3": "MP3", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")


def audio_seconds(path: Path) -> float:
    import soundfile
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def _hypothesis(segments) -> list[tuple[str, float, float]]:
    """(label, start, end) of answered segments; the API's label for speech of nobody requested is the vendor's,
    the ground truth's is "unknown"."""
    return [("unknown" if s["speaker_id"] == UNKNOWN_SPEAKER else s["speaker_id"], s["start"], s["end"])
            for s in segments]


def evaluate(manifest_dir: Path, base_url: str, *, api_key: str, collar: float = 0.25,
             grpc_target: str = "", chunk_seconds: float = 0.0) -> dict:
    manifest = json.loads((manifest_dir / "manifest.json").read_text())
    prefix = f"{base_url}/audio/generic/api/v2/sync/diarization"
    enroll_times = []
    for speaker, files in manifest["speakers"].items():
        for name in files:
            path = manifest_dir / name
            started = time.perf_counter()
            status, body = http_json("POST", f"{prefix}/enroll?apikey={api_key}",
                                {"content": base64.b64encode(path.read_bytes()).decode(),
                                 "encoding": encoding_of(path), "speakerId": speaker})
            enroll_times.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"enrolling {speaker} from {name} failed: {status} {body}")
    results, totals = [], {}
    audio_total = wall_total = 0.0
    for test in manifest["tests"]:
        path = manifest_dir / test["audio"]
        body = {"content": base64.b64encode(path.read_bytes()).decode(), "encoding": test["encoding"],
                "sampleRate": test["sampleRate"], "languageCode": "en-US", "speakerIds": test["speakerIds"]}
        body = json.dumps(body).encode()   # before the clock: encoding the request is the client's work
        started = time.perf_counter()
        status, answer = http_json("POST", f"{prefix}/identify?apikey={api_key}", body, timeout=300)
        wall = time.perf_counter() - started
        if status != 200:
            raise SystemExit(f"identify {test['audio']} failed: {status} {answer}")
        seconds = audio_seconds(path)
        audio_total += seconds
        wall_total += wall
        reference = read_rttm(str(manifest_dir / test["rttm"]))
        hypothesis = _hypothesis(answer["segments"])
        score = identification_error_rate(reference, hypothesis, collar=collar)
        results.append({"audio": test["audio"], "kind": test["kind"], "encoding": test["encoding"],
                        "sampleRate": test["sampleRate"], "seconds": round(seconds, 2),
                        "wall_seconds": round(wall, 4), "xrt": round(seconds / wall, 1), **score,
                        "reference": reference, "hypothesis": hypothesis})
        scores = {"": score}
        if grpc_target and chunk_seconds > 0:
            streamed = stream_file(grpc_target, path, api_key=api_key, speaker_ids=test["speakerIds"],
                                   chunk_seconds=chunk_seconds, timeout=300)
            errors = [a for a in streamed.answers if a["Error"]]
            if errors:
                raise SystemExit(f"streaming {test['audio']} failed: {errors[0]}")
            scores["realtime "] = identification_error_rate(reference, _hypothesis(streamed.segments), collar=collar)
            results[-1]["realtime_ier"] = scores["realtime "]["ier"]
        for kind, one in scores.items():
            for group in ("all", test["kind"]):
                acc = totals.setdefault(kind + group,
                                        {"confusion": 0.0, "missed": 0.0, "false_alarm": 0.0, "total": 0.0})
                for k in acc:
                    acc[k] += one[k]
    summary = {group: {**acc, "ier": (acc["confusion"] + acc["missed"] + acc["false_alarm"]) / acc["total"]}
               for group, acc in totals.items()}
    enroll_times.sort()
    return {"manifest": str(manifest_dir), "collar": collar, "tests": results, "summary": summary,
            "times_real_time": audio_total / wall_total, "audio_seconds": audio_total, "wall_seconds": wall_total,
            "enroll_median_seconds": enroll_times[len(enroll_times) // 2]}


def plot(result: dict, out: Path) -> None:
    """Reference above, answer below, one colour per speaker, so a person sees the mistakes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({lab for lab, _, _ in result["reference"] + result["hypothesis"]})
    palette = plt.get_cmap("tab10")
    colour = {lab: ("#999999" if lab == "unknown" else palette(i % 10)) for i, lab in enumerate(labels)}
    fig, ax = plt.subplots(figsize=(14, 2.8))
    for row, (_name, segments) in enumerate((("answer", result["hypothesis"]), ("reference", result["reference"]))):
        for lab, start, end in segments:
            ax.broken_barh([(start, end - start)], (row + 0.1, 0.8), color=colour[lab])
    ax.set_yticks([0.5, 1.5], ["answer", "reference"])
    ax.set_xlabel("seconds")
    ax.set_xlim(0, max([e for _, _, e in result["reference"] + result["hypothesis"]] + [1]))
    ax.set_title(f"{result['audio']}  IER {result['ier']:.3f}  (confusion {result['confusion']:.1f} s, "
                 f"missed {result['missed']:.1f} s, false alarm {result['false_alarm']:.1f} s)")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colour[lab]) for lab in labels], labels=labels,
              loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=min(len(labels), 6), frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest_dir", type=Path)
    parser.add_argument("--url", help="a running mock (default: start one on a free loopback port)")
    parser.add_argument("--report", type=Path, default=Path("reports/evaluate.json"))
    parser.add_argument("--plot", help="test to draw: its audio file name or index in the manifest")
    parser.add_argument("--plot-file", type=Path, default=None)
    parser.add_argument("--collar", type=float, default=0.25)
    parser.add_argument("--realtime", type=float, default=0.0, metavar="CHUNK_SECONDS",
                        help="also stream every test to the realtime gRPC API in pieces of this many seconds")
    parser.add_argument("--grpc", default="", help="with --url: the running mock's gRPC HOST:PORT")
    args = parser.parse_args(argv)
    if args.realtime and args.url and not args.grpc:
        parser.error("--realtime with --url needs --grpc HOST:PORT")

    server = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        # the dev set's ids (libri-*, ami-*) and short enrollments follow the earlier docs: the 2019 profile
        # (shared/notes/clarifications.md, "Profiles and the dev set")
        server = LiveServer("--api-profile", "2019").start()
        url = server.url
    grpc_target = args.grpc or (server.grpc_target if server else "")
    try:
        report = evaluate(args.manifest_dir, url, api_key=f"evaluate-{uuid.uuid4().hex[:8]}", collar=args.collar,
                          grpc_target=grpc_target, chunk_seconds=args.realtime)
    finally:
        if server:
            server.close()

    realtime = args.realtime > 0
    print(f"{'test':<28}{'kind':<14}{'enc':<6}{'rate':>7}{'sec':>7}{'IER':>8}{'conf':>7}{'miss':>7}{'fa':>7}{'xRT':>8}"
          + (f"{'streamed':>10}" if realtime else ""))
    for r in report["tests"]:
        print(f"{r['audio']:<28}{r['kind']:<14}{r['encoding']:<6}{r['sampleRate']:>7}{r['seconds']:>7.1f}"
              f"{r['ier']:>8.3f}{r['confusion']:>7.2f}{r['missed']:>7.2f}{r['false_alarm']:>7.2f}{r['xrt']:>8.0f}"
              + (f"{r['realtime_ier']:>10.3f}" if realtime else ""))
    for group, s in sorted(report["summary"].items()):
        print(f"IER {group:<13} {s['ier']:.4f}  (confusion {s['confusion']:.2f} s, missed {s['missed']:.2f} s, "
              f"false alarm {s['false_alarm']:.2f} s over {s['total']:.2f} s of reference speech)")
    if realtime:
        worst = max(report["tests"], key=lambda r: abs(r["realtime_ier"] - r["ier"]))
        print(f"streamed in {args.realtime:g} s pieces: the largest difference from sync identify is "
              f"{abs(worst['realtime_ier'] - worst['ier']):.3f} ({worst['audio']})")
    print(f"identify speed: {report['times_real_time']:.0f}x real time ({report['audio_seconds']:.1f} s of audio in "
          f"{report['wall_seconds']:.3f} s of HTTP calls); enroll median {report['enroll_median_seconds']*1000:.0f} ms")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    print(f"report: {args.report}")
    if args.plot is not None:
        tests = report["tests"]
        chosen = tests[int(args.plot)] if args.plot.isdigit() else next(
            t for t in tests if Path(t["audio"]).name == args.plot or t["audio"] == args.plot)
        out = args.plot_file or args.report.with_name(Path(chosen["audio"]).stem + ".png")
        plot(chosen, out)
        print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
