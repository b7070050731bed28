"""Offline accuracy/speed harness for mock_server.pipeline (no HTTP).

    python scripts/pipeline_eval.py MANIFEST_DIR [--leave-out] [--alone] [--absent] [--synthetic N]
                                   [--set field=value ...] [-v]

Loads the manifest's audio with soundfile, resamples to 16 kHz with soxr (as the server
does), enrolls every speaker, identifies every test with the other enrolled speakers as the
cohort, and prints per-test and overall / conversation / meeting IER and times-real-time.

--leave-out: generalisation check. For every test and every requested speaker S that
appears in it, S is removed from the enrolled set (requested and cohort); all of S's speech
must then come out "unknown". Prints the fraction of S's speech labelled unknown (higher is
better) and the IER with S's reference relabelled "unknown".
--alone: each requested speaker is asked for on its own with no other voice enrolled (no cohort): prints the
share of its speech that is named (recall) and the share of other voices' speech given its name (false accept).
--absent: the price of naming a leftover voice (decision.name_leftover_voice). Every test is asked about
its speakers plus one enrolled speaker who is not in it (each such speaker in turn); prints the share of
the speech nobody enrolled ("unknown" in the reference) that is given the absent speaker's name, and the IER.
--codecs: every test again after an 8 kHz telephone round trip and after a 44.1 kHz MP3 round trip (libsndfile's
encoder), with the enrollments untouched: prints the IER of each version per kind.
--synthetic N: N made-up conversations from the manifest's enrollment files, a check on recordings the
tests never use: each speaker is enrolled from its first file only (a thinner voiceprint than the manifest
gives), and 10 turns of 1.5-6 s are cut from its other files, with 2-3 requested speakers from one corpus and
half of the time a stranger (a speaker of the same corpus enrolled nowhere). Prints IER and the share of the
strangers' speech labelled unknown. Deterministic (seeded).
--set: override config fields, e.g. --set unknown_threshold=0.5 --set smooth_window=2.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ier import identification_error_rate, read_rttm  # noqa: E402

from mock_server.pipeline import (DEFAULT_CONFIG, enrollment_voiceprint, identify_segments,  # noqa: E402
                                  speaker_voiceprint)


def load(path: str, sr: int = 16000) -> np.ndarray:
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return (soxr.resample(x, rate, sr) if rate != sr else x).astype(np.float32)


def parse_overrides(items):
    kw = {}
    fields = {f.name: f for f in dataclasses.fields(DEFAULT_CONFIG)}
    for item in items or []:
        k, v = item.split("=", 1)
        cur = getattr(DEFAULT_CONFIG, k) if k in fields else None
        if k not in fields:
            sys.exit(f"unknown config field {k}")
        if v == "None":
            kw[k] = None
        elif isinstance(cur, bool):
            kw[k] = v.lower() in ("1", "true", "yes")
        elif isinstance(cur, int):
            kw[k] = int(v)
        else:
            kw[k] = float(v)
    return dataclasses.replace(DEFAULT_CONFIG, **kw)


def add(acc, r):
    for k in ("confusion", "missed", "false_alarm", "total"):
        acc[k] = acc.get(k, 0.0) + r[k]


def ier_of(acc):
    return (acc["confusion"] + acc["missed"] + acc["false_alarm"]) / max(acc["total"], 1e-9)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest_dir")
    ap.add_argument("--leave-out", action="store_true")
    ap.add_argument("--alone", action="store_true")
    ap.add_argument("--absent", action="store_true")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N")
    ap.add_argument("--codecs", action="store_true")
    ap.add_argument("--set", action="append", metavar="FIELD=VALUE")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    cfg = parse_overrides(args.set)
    root = args.manifest_dir
    man = json.load(open(os.path.join(root, "manifest.json")))

    t0 = time.perf_counter()
    enroll_audio = 0.0
    vps = {}
    for spk, files in man["speakers"].items():
        eps = []
        for f in files:
            x = load(os.path.join(root, f))
            enroll_audio += len(x) / 16000
            eps.append(enrollment_voiceprint(x, config=cfg))
        vps[spk] = speaker_voiceprint(eps, config=cfg)
    t_enroll = time.perf_counter() - t0
    print(f"enrolled {len(vps)} speakers from {enroll_audio:.0f} s of audio in {t_enroll:.2f} s")

    totals: dict[str, dict] = {"all": {}, "conversation": {}, "meeting": {}}
    lo_tot: dict = {}
    lo_unknown = lo_speech = 0.0
    alone = {"named": 0.0, "own": 0.0, "false": 0.0, "others": 0.0}
    absent = {"named": 0.0, "strangers": 0.0}
    absent_tot: dict = {}
    codec_tot: dict = {}
    audio_s = proc_s = 0.0
    for test in man["tests"]:
        x = load(os.path.join(root, test["audio"]))
        ref = read_rttm(os.path.join(root, test["rttm"]))
        req = {k: vps[k] for k in test["speakerIds"]}
        cohort = {k: v for k, v in vps.items() if k not in req}
        t = time.perf_counter()
        hyp = identify_segments(x, req, config=cfg, cohort=cohort)
        dt = time.perf_counter() - t
        audio_s += len(x) / 16000
        proc_s += dt
        r = identification_error_rate(ref, [(s.speaker_id, s.start, s.end) for s in hyp])
        add(totals["all"], r)
        add(totals[test["kind"]], r)
        print(f"{test['audio']:32s} {test['kind']:12s} IER {r['ier']:.3f}  conf {r['confusion']:5.2f}"
              f"  miss {r['missed']:5.2f}  fa {r['false_alarm']:5.2f}  / {r['total']:5.1f} s"
              f"  {len(x) / 16000 / dt:6.0f}x RT")
        if args.verbose:
            for s in hyp:
                print(f"    {s.start:7.2f} {s.end:7.2f} {s.speaker_id}")
        if args.leave_out:
            present = {lab for lab, _, _ in ref}
            for spk in test["speakerIds"]:
                if spk not in present or len(req) < 2:
                    continue
                req2 = {k: v for k, v in req.items() if k != spk}
                coh2 = {k: v for k, v in cohort.items() if k != spk}
                hyp2 = identify_segments(x, req2, config=cfg, cohort=coh2)
                ref2 = [("unknown" if lab == spk else lab, s, e) for lab, s, e in ref]
                hyp2t = [(s.speaker_id, s.start, s.end) for s in hyp2]
                r2 = identification_error_rate(ref2, hyp2t)
                add(lo_tot, r2)
                only = [(lab, s, e) for lab, s, e in ref if lab == spk]
                ru = identification_error_rate([("unknown", s, e) for _, s, e in only],
                                               [h for h in hyp2t if h[0] == "unknown"])
                lo_speech += ru["total"]
                lo_unknown += ru["total"] - ru["missed"] - ru["confusion"]
                share = (ru["total"] - ru["missed"] - ru["confusion"]) / ru["total"] if ru["total"] else 0.0
                print(f"    leave out {spk:18s} -> {share:.2f} of its speech"
                      f" unknown, IER {r2['ier']:.3f}")
        if args.alone:
            for spk in test["speakerIds"]:
                solo = identify_segments(x, {spk: vps[spk]}, config=cfg, cohort={})
                named = [("x", s.start, s.end) for s in solo if s.speaker_id == spk]
                for key_own, key_all, ref_part in (("named", "own", [r for r in ref if r[0] == spk]),
                                                   ("false", "others", [r for r in ref if r[0] != spk])):
                    part = identification_error_rate([("x", s, e) for _, s, e in ref_part], named)
                    alone[key_all] += part["total"]
                    alone[key_own] += part["total"] - part["missed"] - part["confusion"]
        if args.codecs:
            for name, change in CODECS.items():
                hyp4 = identify_segments(change(x), req, config=cfg, cohort=cohort)
                r4 = identification_error_rate(ref, [(s.speaker_id, s.start, s.end) for s in hyp4])
                add(codec_tot.setdefault((name, "all"), {}), r4)
                add(codec_tot.setdefault((name, test["kind"]), {}), r4)
        if args.absent:
            present = {lab for lab, _, _ in ref}
            family = test["speakerIds"][0].split("-")[0]      # an absent voice of the same corpus
            strangers = [("x", s, e) for lab, s, e in ref if lab == "unknown"]
            for spk in sorted(k for k in vps if k not in present and k.split("-")[0] == family):
                req3 = dict(req, **{spk: vps[spk]})
                hyp3 = identify_segments(x, req3, config=cfg, cohort={k: v for k, v in cohort.items() if k != spk})
                add(absent_tot, identification_error_rate(ref, [(s.speaker_id, s.start, s.end) for s in hyp3]))
                if strangers:
                    part = identification_error_rate(strangers, [("x", s.start, s.end) for s in hyp3
                                                                 if s.speaker_id == spk])
                    absent["strangers"] += part["total"]
                    absent["named"] += part["total"] - part["missed"] - part["confusion"]
    print(f"IER overall {ier_of(totals['all']):.3f}  conversation {ier_of(totals['conversation']):.3f}"
          f"  meeting {ier_of(totals['meeting']):.3f}  | identify {audio_s / proc_s:.0f}x real time"
          f" ({audio_s:.0f} s audio in {proc_s:.2f} s)")
    if args.leave_out and lo_speech:
        print(f"leave-speaker-out: {lo_unknown / lo_speech:.3f} of left-out speech labelled unknown,"
              f" IER {ier_of(lo_tot):.3f}")
    if args.alone:
        print(f"alone, no cohort: recall {alone['named'] / alone['own']:.3f}, false accept "
              f"{alone['false'] / alone['others']:.3f} of other voices' speech")
    for name in CODECS if args.codecs else ():
        print(f"after {name}: IER overall {ier_of(codec_tot[(name, 'all')]):.3f}" + "".join(
            f"  {kind} {ier_of(codec_tot[(name, kind)]):.3f}" for kind in ("conversation", "meeting")
            if (name, kind) in codec_tot))
    if args.synthetic:
        synthetic_conversations(root, man, cfg, args.synthetic, args.verbose)
    if args.absent and absent_tot:
        print(f"one absent speaker asked about too: IER {ier_of(absent_tot):.3f}, "
              f"{absent['named'] / max(absent['strangers'], 1e-9):.3f} of strangers' speech given the absent name")
    return 0


def _telephone(x: np.ndarray) -> np.ndarray:
    return soxr.resample(soxr.resample(x, 16000, 8000), 8000, 16000).astype(np.float32)


def _mp3(x: np.ndarray) -> np.ndarray:
    import io
    buffer = io.BytesIO()
    sf.write(buffer, soxr.resample(x, 16000, 44100), 44100, format="MP3")
    buffer.seek(0)
    y, rate = sf.read(buffer, dtype="float32")
    return soxr.resample(y, rate, 16000).astype(np.float32)


CODECS = {"8 kHz telephone round trip": _telephone, "44.1 kHz MP3 round trip": _mp3}


def synthetic_conversations(root: str, man: dict, cfg, n: int, verbose: bool) -> None:
    """See --synthetic in the module doc."""
    from mock_server.pipeline import speech_regions
    rng = np.random.default_rng(0)
    corpora: dict[str, list[str]] = {}
    for spk, files in man["speakers"].items():
        if len(files) >= 2:
            corpora.setdefault(spk.split("-")[0], []).append(spk)
    pool = max(corpora.values(), key=len)                     # the corpus with the most speakers
    audio = {s: [load(os.path.join(root, f)) for f in man["speakers"][s]] for s in pool}
    prints = {s: speaker_voiceprint([enrollment_voiceprint(audio[s][0], config=cfg)], config=cfg) for s in pool}
    acc: dict = {}
    stranger_named = stranger_total = 0.0
    for trial in range(n):
        order = [str(s) for s in rng.permutation(pool)]
        n_req = int(rng.integers(2, min(4, len(order) - 1) + 1))
        requested = order[:n_req]
        stranger = order[n_req] if rng.random() < 0.5 else None
        cohort = {s: prints[s] for s in order[n_req + (1 if stranger else 0):]}
        voices = requested + ([stranger] if stranger else [])
        parts, ref, t, last = [], [], 0.0, None
        for _ in range(10):
            voice = str(rng.choice([v for v in voices if v != last]))
            src = audio[voice][int(rng.integers(1, len(audio[voice])))]
            length = min(len(src), int(rng.uniform(1.5, 6.0) * 16000))
            start = int(rng.integers(0, max(1, len(src) - length)))
            piece = src[start:start + length]
            regions = speech_regions(piece, config=cfg)        # the reference is speech, not the cut's edges
            if not regions:
                continue
            piece = piece[int(regions[0][0] * 16000):int(regions[-1][1] * 16000)]
            gap = np.zeros(int(rng.uniform(0.2, 0.8) * 16000), dtype=np.float32)
            ref.append(("unknown" if voice == stranger else voice, t, t + len(piece) / 16000))
            parts += [piece, gap]
            t += (len(piece) + len(gap)) / 16000
            last = voice
        x = np.concatenate(parts)
        hyp = identify_segments(x, {s: prints[s] for s in requested}, config=cfg, cohort=cohort)
        hyp_t = [(h.speaker_id, h.start, h.end) for h in hyp]
        r = identification_error_rate(ref, hyp_t)
        add(acc, r)
        if stranger:
            theirs = [("unknown", s, e) for lab, s, e in ref if lab == "unknown"]
            ru = identification_error_rate(theirs, [h for h in hyp_t if h[0] == "unknown"])
            stranger_total += ru["total"]
            stranger_named += ru["total"] - ru["missed"] - ru["confusion"]
        if verbose:
            print(f"    synthetic {trial:3d} {requested} stranger {stranger}: IER {r['ier']:.3f}")
    print(f"synthetic conversations: IER {ier_of(acc):.3f} (confusion {acc['confusion'] / acc['total']:.3f}, missed "
          f"{acc['missed'] / acc['total']:.3f}, false alarm {acc['false_alarm'] / acc['total']:.3f}), "
          f"{stranger_named / max(stranger_total, 1e-9):.3f} of strangers' speech unknown")


if __name__ == "__main__":
    sys.exit(main())
