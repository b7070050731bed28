#!/usr/bin/env python3
"""Load test: many threaded clients mixing enroll, sync identify and async identify on 5-60 s clips.

Loopback only, bounded in time (--duration, then --settle for webhooks) and in count (--max-requests).
Checks: no 5xx, every accepted async request_id delivered to the webhook exactly once, server RSS after the run
within --rss-tolerance of RSS after warm-up. Prints p50/p99 latencies and throughput, writes a JSON report, and
exits 1 when a check fails.

    .venv/bin/python scripts/loadtest.py --clients 16 --duration 60            # starts its own server
    .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:5000 --pid 1234
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.testing import LiveServer, WebhookReceiver  # noqa: E402

FIXTURES = ROOT / "fixtures"
SPEAKERS = ("alice", "bob", "carol", "dave")
IDENTIFY_KEY, ENROLL_KEY = "load-identify", "load-enroll"  # two tenants: enrolling must not grow identify's cohort
MIX = (("enroll", 0.2), ("identify_sync", 0.5), ("identify_async", 0.3))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of measured load")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring (RSS baseline)")
    p.add_argument("--settle", type=float, default=120.0, help="seconds to wait for outstanding webhooks")
    p.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests in all")
    p.add_argument("--url", help="an already running mock on loopback (default: start one)")
    p.add_argument("--pid", type=int, help="that server's pid, for the RSS check")
    p.add_argument("--server-arg", action="append", default=[], help="extra flag for the started server")
    p.add_argument("--rss-tolerance", type=float, default=0.15)
    p.add_argument("--report", type=Path, default=Path("reports/loadtest.json"))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.url and urllib.parse.urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error("--url must be on loopback")
    return args


# --- clips -----------------------------------------------------------------------------------------------------

def build_clips(rng: random.Random) -> dict[int, list[str]]:
    """Base64 FLAC clips of 5, 15, 30 and 60 s made by concatenating fixture speech (3 variants each)."""
    sources = [soundfile.read(p, dtype="float32")[0] for p in sorted(FIXTURES.glob("speakers/*/enroll*.wav"))]
    sources.append(soundfile.read(FIXTURES / "conversation.wav", dtype="float32")[0])
    clips: dict[int, list[str]] = {}
    for seconds in (5, 15, 30, 60):
        clips[seconds] = []
        for _ in range(3):
            parts, total = [], 0
            while total < seconds * 16000:
                part = rng.choice(sources)
                parts.append(part)
                total += len(part)
            samples = np.concatenate(parts)[: seconds * 16000]
            buffer = io.BytesIO()
            soundfile.write(buffer, samples, 16000, format="FLAC")
            clips[seconds].append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return clips


# --- client ----------------------------------------------------------------------------------------------------

def call(url: str, body: dict | None = None, timeout: float = 300.0) -> tuple[int, dict | None, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {"raw": raw[:200].decode("latin-1")}
        return exc.code, parsed, dict(exc.headers)


class Load:
    """The shared record of one run: latencies per operation, statuses, accepted async ids."""

    def __init__(self, base: str, webhook: str, clips: dict[int, list[str]], args: argparse.Namespace):
        self.base = base
        self.webhook = webhook
        self.clips = clips
        self.args = args
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: list[dict] = []
        self.async_ids: list[str] = []
        self.count = 0
        self.measuring = False
        self.stop = threading.Event()

    def client(self, n: int) -> None:
        rng = random.Random(self.args.seed * 1000 + n)
        seq = 0
        while not self.stop.is_set():
            with self.lock:
                if self.count >= self.args.max_requests:
                    return
                self.count += 1
            seq += 1
            op = rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
            started = time.perf_counter()
            if op == "enroll":  # 15 s clips: the 2020 rules refuse an enrollment with under 6 s of speech
                clip = rng.choice(self.clips[15])
                status, body, headers = call(f"{self.base}/sync/diarization/enroll?apikey={ENROLL_KEY}",
                                             {"content": clip, "encoding": "FLAC",
                                              "speakerId": f"load_{n}_{seq % 7}"})
            else:
                clip = rng.choice(self.clips[rng.choice((5, 15, 30, 60))])
                body_in = {"content": clip, "encoding": "FLAC", "speakerIds": rng.sample(SPEAKERS, rng.randint(1, 4))}
                if op == "identify_sync":
                    status, body, headers = call(f"{self.base}/sync/diarization/identify?apikey={IDENTIFY_KEY}",
                                                 body_in)
                else:
                    request_id = f"load-{n}-{seq}"
                    status, body, headers = call(f"{self.base}/async/diarization/identify?apikey={IDENTIFY_KEY}"
                                                 f"&webhook={self.webhook}&request_id={request_id}", body_in)
                    if status == 202:
                        with self.lock:
                            self.async_ids.append(request_id)
            elapsed = time.perf_counter() - started
            with self.lock:
                if self.measuring:
                    self.latencies[op].append(elapsed)
                self.statuses[op][status] += 1
                if status >= 500 or (status >= 400 and status != 429):
                    self.errors.append({"op": op, "status": status, "body": body})
            if status == 429:
                self.stop.wait(float(headers.get("Retry-After", "1")))


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def enroll_fixture_speakers(base: str) -> None:
    voices = json.loads((FIXTURES / "voices.json").read_text())
    for speaker in SPEAKERS:
        for entry in voices["speakers"][speaker]["enroll"]:
            content = base64.b64encode((FIXTURES / entry["file"]).read_bytes()).decode()
            status, body, _ = call(f"{base}/sync/diarization/enroll?apikey={IDENTIFY_KEY}",
                                   {"content": content, "encoding": "WAV", "speakerId": speaker})
            if status != 200:
                raise SystemExit(f"setup: enrolling {speaker} failed with {status}: {body}")


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    clips = build_clips(rng)
    server = None
    if args.url:
        root, pid = args.url.rstrip("/"), args.pid
    else:
        server = LiveServer("--log-level", "WARNING", *args.server_arg).start()
        root, pid = server.url, server.process.pid
    base = f"{root}/audio/generic/api/v2"
    receiver = WebhookReceiver()
    load = Load(base, receiver.url + "/hook", clips, args)
    report: dict = {"clients": args.clients, "duration_s": args.duration, "warmup_s": args.warmup, "url": root}
    try:
        enroll_fixture_speakers(base)
        threads = [threading.Thread(target=load.client, args=(n,), daemon=True) for n in range(args.clients)]
        for t in threads:
            t.start()
        load.stop.wait(args.warmup)
        rss_warm = rss_kb(pid)
        with load.lock:
            load.measuring = True
            counted_before = sum(sum(s.values()) for s in load.statuses.values())
        measured_start = time.perf_counter()
        load.stop.wait(args.duration)
        load.stop.set()
        with load.lock:
            load.measuring = False
            measured_requests = sum(len(v) for v in load.latencies.values())
        measured_elapsed = time.perf_counter() - measured_start
        for t in threads:
            t.join(330)
        # Every accepted async request must reach the webhook, once.
        deadline = time.monotonic() + args.settle
        missing = list(load.async_ids)
        for request_id in load.async_ids:
            try:
                receiver.wait_for(request_id, timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                pass
        time.sleep(1.0)  # let a duplicate, if the server were to send one, arrive before counting
        counts = defaultdict(int)
        for d in receiver.deliveries:
            if isinstance(d.body, dict):
                counts[str(d.body.get("request_id"))] += 1
        missing = [r for r in load.async_ids if counts[r] == 0]
        duplicated = {r: c for r, c in counts.items() if c > 1}
        unexpected = [r for r in counts if r not in set(load.async_ids)]
        rss_after = rss_kb(pid)
    finally:
        receiver.close()
        stopped = server.stop() if server else None

    all_latencies = [x for v in load.latencies.values() for x in v]
    report.update({
        "requests_total": sum(sum(s.values()) for s in load.statuses.values()),
        "requests_measured": measured_requests,
        "requests_during_warmup": counted_before,
        "throughput_rps": round(measured_requests / measured_elapsed, 3) if measured_elapsed else None,
        "latency_s": {op: {"n": len(v), "p50": _r(percentile(v, 0.5)), "p99": _r(percentile(v, 0.99)),
                           "mean": _r(statistics.fmean(v) if v else None)} for op, v in sorted(load.latencies.items())},
        "latency_all_s": {"p50": _r(percentile(all_latencies, 0.5)), "p99": _r(percentile(all_latencies, 0.99))},
        "statuses": {op: dict(s) for op, s in load.statuses.items()},
        "async": {"accepted": len(load.async_ids), "delivered_once": len(load.async_ids) - len(missing)
                  - len([r for r in duplicated if r in set(load.async_ids)]), "missing": missing[:20],
                  "duplicated": duplicated, "unexpected": unexpected[:20]},
        "rss_kb": {"after_warmup": rss_warm, "after_run": rss_after,
                   "growth": round(rss_after / rss_warm - 1, 4) if rss_warm and rss_after else None},
        "server_exit_code": stopped,
        "errors": load.errors[:20],
    })
    checks = {
        "no_5xx": not any(code >= 500 for s in load.statuses.values() for code in s),
        "no_unexpected_4xx": not load.errors,
        "async_delivered_exactly_once": not missing and not duplicated and not unexpected,
        "rss_within_tolerance": report["rss_kb"]["growth"] is None or report["rss_kb"]["growth"] <= args.rss_tolerance,
        "server_stopped_cleanly": stopped in (None, 0),
    }
    report["checks"] = checks
    report["passed"] = all(checks.values())
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("requests_measured", "throughput_rps", "latency_s", "latency_all_s",
                                             "async", "rss_kb", "checks")}, indent=2))
    print(f"report: {args.report}  {'PASS' if report['passed'] else 'FAIL'}")
    return 0 if report["passed"] else 1


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    sys.exit(main())
