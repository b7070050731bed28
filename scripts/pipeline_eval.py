"""Offline accuracy/speed harness for mock_server.pipeline (no HTTP).

    python scripts/pipeline_eval.py MANIFEST_DIR [--halves] [--levels] [--cohort] [--duplicate] [--codecs] [--noise]
                                   [--synthetic N [--abutting] [--seed S] [--enroll-clips K] [--short-turns]]
                                   [--set field=value ...] [-v]

Loads the manifest's audio with soundfile, resamples to 16 kHz with soxr (as the server does), enrolls every
speaker, identifies every test with every other enrolled speaker as the cohort (as the server does), and prints
per-test and per-group (conversation / voices / meeting) and overall IER (pyannote.metrics, scripts/ier.py) and
times-real-time.

--halves: the speaker-split check of ../speech-dev/README.md ("Not fitting it"): the enrolled speakers of every
group are split in two by sorted order (even / odd), the strangers' speech by test (even / odd); the IER of each
half is scored on that half's reference speech only (a UEM); with --levels, --codecs or --noise, each variant's
halves too. Run it once per value of a constant or per rule
(--set ...) and keep only what helps on both halves.
--levels: every test again 30 dB quieter, near full scale, with a DC offset, as 48 kHz stereo and after an 8 kHz
round trip (the enrollments untouched): IER per variant and group.
--cohort: every test again with no other voice of the account (only its own requested speakers): IER per group,
to compare with the all-speakers figure.
--duplicate: every test again with a copy of each requested voice enrolled under another id in the account;
prints how many answers changed for the requested ids (must be 0).
--codecs: every test again after an 8 kHz telephone round trip and after a 44.1 kHz MP3 round trip.
--noise: every test again with noise added (the enrollments clean): white noise at 20 and 10 dB SNR, brown noise
(most of its power at low frequencies, like traffic or ventilation) at 15 dB SNR; the signal's power is that of the
loudest third of its 10 ms frames (its speech), the noise is seeded.
--synthetic N: N made-up conversations from the manifest's enrollment files (seeded), IER and strangers' share.
--abutting: with --synthetic, the same conversations again with no pause between turns (0-0.1 s, as in meetings),
where only the changes of voice inside continuous speech separate the turns. --seed S (default 0): other
conversations; --enroll-clips 2: each voice enrolled from two clips (~3.5 s of speech) instead of one (~1.7 s);
--short-turns: 20 turns of 0.4-1 s, enrollments and conversations through an 8 kHz round trip (phone-band words).
--set: override config fields, e.g. --set accept_threshold=2.5 --set change_factor=0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterator

import numpy as np
import soundfile as sf
import soxr

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ier import identification_error_rate, read_rttm  # noqa: E402

from mock_server.pipeline import DEFAULT_CONFIG, enrollment_voiceprint, identify_segments, speaker_voiceprint  # noqa: E402

GROUPS = ("conversation", "voices", "meeting")


def load(path: str, sr: int = 16000) -> np.ndarray:
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return (soxr.resample(x, rate, sr) if rate != sr else x).astype(np.float32)


def parse_overrides(items):
    kw = {}
    fields = {f.name: f for f in dataclasses.fields(DEFAULT_CONFIG)}
    for item in items or []:
        k, v = item.split("=", 1)
        if k not in fields:
            sys.exit(f"unknown config field {k}")
        cur = getattr(DEFAULT_CONFIG, k)
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
    return (acc["confusion"] + acc["missed"] + acc["false_alarm"]) / max(acc.get("total", 0.0), 1e-9)


def by_group(totals: dict, label: str) -> str:
    return f"{label}: IER all {ier_of(totals.get('all', {})):.3f}" + "".join(
        f"  {g} {ier_of(totals[g]):.3f}" for g in GROUPS if g in totals)


def segs(hyp):
    return [(s.speaker_id, s.start, s.end) for s in hyp]


def half_scores(ref, hyp_t, half_of, test_index):
    """IER parts of each speaker half: hypothesis kept only inside that half's reference speech."""
    out = []
    for h in (0, 1):
        keep = [(lab, s, e) for lab, s, e in ref
                if (half_of.get(lab) == h) or (lab == "unknown" and test_index % 2 == h)]
        spans = [(s, e) for _, s, e in keep]
        clipped = [(lab, max(s, a), min(e, b)) for lab, s, e in hyp_t for a, b in spans if min(e, b) > max(s, a)]
        out.append(identification_error_rate(keep, clipped) if keep else None)
    return out


def add_halves(halves: list[dict], ref, hyp_t, half_of, test_index, kind: str) -> None:
    """Add one test's IER parts of each speaker half (half_scores) to halves[0] and halves[1], overall and for
    its group."""
    for h, rh in enumerate(half_scores(ref, hyp_t, half_of, test_index)):
        if rh is not None:
            for key in ("all", kind):
                add(halves[h].setdefault(key, {}), rh)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest_dir")
    for flag in ("--halves", "--levels", "--cohort", "--duplicate", "--codecs", "--noise"):
        ap.add_argument(flag, action="store_true")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N")
    ap.add_argument("--abutting", action="store_true", help="with --synthetic: again with no pause between turns")
    ap.add_argument("--seed", type=int, default=0, help="with --synthetic: the random seed of the conversations")
    ap.add_argument("--enroll-clips", type=int, default=1, choices=(1, 2),
                    help="with --synthetic: enrollment clips per voice (the turns come from the others)")
    ap.add_argument("--short-turns", action="store_true",
                    help="with --synthetic: 20 turns of 0.4-1 s, everything through an 8 kHz round trip")
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
    ordered = sorted(vps)
    half_of = {s: i % 2 for i, s in enumerate(ordered)}

    totals: dict = {}
    halves: list[dict] = [{}, {}]
    extra: dict[str, dict] = {}
    extra_halves: dict[str, list[dict]] = {}
    changed = 0
    audio_s = proc_s = 0.0
    for ti, test in enumerate(man["tests"]):
        kind = test["kind"]
        x = load(os.path.join(root, test["audio"]))
        ref = read_rttm(os.path.join(root, test["rttm"]))
        req = {k: vps[k] for k in test["speakerIds"]}
        cohort = {k: v for k, v in vps.items() if k not in req}
        t = time.perf_counter()
        hyp = identify_segments(x, req, config=cfg, cohort=cohort)
        dt = time.perf_counter() - t
        audio_s += len(x) / 16000
        proc_s += dt
        r = identification_error_rate(ref, segs(hyp))
        for key in ("all", kind):
            add(totals.setdefault(key, {}), r)
        print(f"{test['audio']:32s} {kind:12s} IER {r['ier']:.3f}  conf {r['confusion']:5.2f}"
              f"  miss {r['missed']:5.2f}  fa {r['false_alarm']:5.2f}  / {r['total']:5.1f} s"
              f"  {len(x) / 16000 / dt:6.0f}x RT")
        if args.verbose:
            for s in hyp:
                print(f"    {s.start:7.2f} {s.end:7.2f} {s.speaker_id}")
        if args.halves:
            add_halves(halves, ref, segs(hyp), half_of, ti, kind)
        variants = {}
        if args.levels:
            variants.update(LEVELS)
        if args.codecs:
            variants.update(CODECS)
        if args.noise:
            variants.update(NOISES)
        for name, change in variants.items():
            hyp_v = segs(identify_segments(change(x), req, config=cfg, cohort=cohort))
            rv = identification_error_rate(ref, hyp_v)
            for key in ("all", kind):
                add(extra.setdefault(name, {}).setdefault(key, {}), rv)
            if args.halves:
                add_halves(extra_halves.setdefault(name, [{}, {}]), ref, hyp_v, half_of, ti, kind)
        if args.cohort:
            rv = identification_error_rate(ref, segs(identify_segments(x, req, config=cfg, cohort={})))
            for key in ("all", kind):
                add(extra.setdefault("own speakers only (no cohort)", {}).setdefault(key, {}), rv)
        if args.duplicate:
            dup = dict(cohort, **{f"{k}-duplicate": v for k, v in req.items()})
            changed += segs(identify_segments(x, req, config=cfg, cohort=dup)) != segs(hyp)
    print(by_group(totals, "IER") + f"  | identify {audio_s / proc_s:.0f}x real time"
          f" ({audio_s:.0f} s audio in {proc_s:.2f} s)")
    if args.halves:
        for h in (0, 1):
            print(by_group(halves[h], f"half {'AB'[h]}"))
    for name, tot in extra.items():
        print(by_group(tot, name))
        for h, tot_h in enumerate(extra_halves.get(name, [])):
            print(by_group(tot_h, f"  ... half {'AB'[h]}"))
    if args.duplicate:
        print(f"duplicate of every requested voice under another id: {changed} of {len(man['tests'])} answers changed")
    if args.synthetic:
        synthetic_conversations(root, man, cfg, args.synthetic, args.verbose, seed=args.seed,
                                enroll_clips=args.enroll_clips, short_turns=args.short_turns)
        if args.abutting:
            print("  ... with no pause between turns (0 to 0.1 s, as in meetings):")
            synthetic_conversations(root, man, cfg, args.synthetic, args.verbose, (0.0, 0.1), seed=args.seed,
                                    enroll_clips=args.enroll_clips, short_turns=args.short_turns)
    return 0


def _quieter(x: np.ndarray) -> np.ndarray:
    return (x * 10 ** (-30 / 20)).astype(np.float32)


def _full_scale(x: np.ndarray) -> np.ndarray:
    return (x * (0.99 / max(float(np.abs(x).max()), 1e-9))).astype(np.float32)


def _dc(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 0.5 + 0.2, -1, 1).astype(np.float32)


def _stereo48k(x: np.ndarray) -> np.ndarray:
    y = soxr.resample(x, 16000, 48000)
    return soxr.resample((y + 0.8 * y) / 2, 48000, 16000).astype(np.float32)   # the server downmixes


LEVELS = {"-30 dB": _quieter, "near full scale": _full_scale, "DC offset +0.2": _dc,
          "48 kHz stereo": _stereo48k}


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


def speech_power(x: np.ndarray) -> float:
    """Mean power of the loudest third of the 10 ms frames of x: its speech, for setting an SNR."""
    frames = np.asarray(x[:len(x) // 160 * 160], dtype=np.float64).reshape(-1, 160)
    power = np.sort(np.mean(frames ** 2, axis=1))[::-1]
    return float(power[:max(1, len(power) // 3)].mean()) if len(power) else 0.0


def with_noise(x: np.ndarray, snr_db: float, colour: str = "white", seed: int = 0) -> np.ndarray:
    """x plus seeded white or brown (integrated white, its slow drift removed) noise at snr_db below its speech
    power (speech_power)."""
    noise = np.random.default_rng(seed).standard_normal(len(x))
    if colour == "brown":
        noise = np.cumsum(noise)
        drift = np.convolve(np.pad(noise, 200, mode="edge"), np.ones(401) / 401, mode="valid")
        noise -= drift                                                  # no drift below ~40 Hz, no burst at the ends
    noise *= np.sqrt(speech_power(x) / 10 ** (snr_db / 10) / max(float(np.mean(noise ** 2)), 1e-30))
    return (x + noise).astype(np.float32)


NOISES = {"white noise, 20 dB SNR": lambda x: with_noise(x, 20.0),
          "white noise, 10 dB SNR": lambda x: with_noise(x, 10.0),
          "brown noise, 15 dB SNR": lambda x: with_noise(x, 15.0, "brown")}
LEVELS["8 kHz"] = _telephone


def synthetic_voices(root: str, man: dict, *, short_turns: bool = False) -> dict[str, list[np.ndarray]]:
    """The recordings made-up conversations are cut from: every enrollment file (16 kHz) of the manifest's
    corpus with the most speakers of two files or more, through an 8 kHz round trip with short_turns."""
    corpora: dict[str, list[str]] = {}
    for spk, files in man["speakers"].items():
        if len(files) >= 2:
            corpora.setdefault(spk.split("-")[0], []).append(spk)
    pool = max(corpora.values(), key=len)                     # the corpus with the most speakers
    audio = {s: [load(os.path.join(root, f)) for f in man["speakers"][s]] for s in pool}
    return {s: [_telephone(a) for a in v] for s, v in audio.items()} if short_turns else audio


def synthetic_trials(audio: dict[str, list[np.ndarray]], cfg, n: int, gaps: tuple[float, float] = (0.2, 0.8), *,
                     seed: int = 0, enroll_clips: int = 1, short_turns: bool = False) -> Iterator[dict]:
    """n made-up conversations (seeded) of the voices of `audio` (synthetic_voices), each a dict: x (16 kHz
    float32), ref [(label, start, end)], requested [voice], stranger (voice or None), others [voice] (the rest of
    the account). Turns are cut from each voice's clips after the first enroll_clips (those enroll it)."""
    from mock_server.pipeline import speech_regions
    rng = np.random.default_rng(seed)
    pool = list(audio)
    heard: dict[tuple[str, int], list[tuple[float, float]]] = {}   # speech regions of each source recording
    for _ in range(n):
        order = [str(s) for s in rng.permutation(pool)]
        n_req = int(rng.integers(2, min(4, len(order) - 1) + 1))
        requested = order[:n_req]
        stranger = order[n_req] if rng.random() < 0.5 else None
        voices = requested + ([stranger] if stranger else [])
        parts, ref, t, last = [], [], 0.0, None
        for _ in range(20 if short_turns else 10):
            voice = str(rng.choice([v for v in voices if v != last]))
            clip = int(rng.integers(enroll_clips, len(audio[voice])))
            src = audio[voice][clip]
            length = min(len(src), int((rng.uniform(0.4, 1.0) if short_turns else rng.uniform(1.5, 6.0)) * 16000))
            start = int(rng.integers(0, max(1, len(src) - length)))
            # the reference is the speech of the cut as heard in its whole recording (not the cut's edges, and not
            # the cut alone: level-normalised alone, a cut of the pause between two words would count as speech)
            if (voice, clip) not in heard:
                heard[voice, clip] = speech_regions(src, config=cfg)
            cut = (start / 16000, (start + length) / 16000)
            regions = [(max(a, cut[0]), min(b, cut[1])) for a, b in heard[voice, clip]
                       if min(b, cut[1]) > max(a, cut[0])]
            if not regions:
                continue
            piece = src[int(regions[0][0] * 16000):int(regions[-1][1] * 16000)]
            gap = np.zeros(int(rng.uniform(*gaps) * 16000), dtype=np.float32)
            ref.append(("unknown" if voice == stranger else voice, t, t + len(piece) / 16000))
            parts += [piece, gap]
            t += (len(piece) + len(gap)) / 16000
            last = voice
        yield {"x": np.concatenate(parts), "ref": ref, "requested": requested, "stranger": stranger,
               "others": order[n_req + (1 if stranger else 0):]}


def report_synthetic(trials, identify, verbose: bool = False) -> dict:
    """Score identify(trial) -> [(label, start, end)] over synthetic_trials and print the IER, the strangers'
    speech left unknown and the share of short sandwiched turns given to the neighbour; returns those figures."""
    acc: dict = {}
    stranger_named = stranger_total = 0.0
    sandwich_total = sandwich_neighbour = 0.0
    for i, trial in enumerate(trials):
        ref, hyp_t = trial["ref"], identify(trial)
        r = identification_error_rate(ref, hyp_t)
        add(acc, r)
        for (before, _, _), (lab, s0, e0), (after, _, _) in zip(ref, ref[1:], ref[2:]):
            if before == after != lab and before != "unknown" and 0.3 <= e0 - s0 <= 0.8:
                sandwich_total += e0 - s0              # a short turn between two turns of one requested speaker:
                sandwich_neighbour += sum(max(0.0, min(e0, h[2]) - max(s0, h[1]))   # time given to that speaker
                                          for h in hyp_t if h[0] == before)
        if trial["stranger"]:
            theirs = [("unknown", s, e) for lab, s, e in ref if lab == "unknown"]
            ru = identification_error_rate(theirs, [h for h in hyp_t if h[0] == "unknown"])
            stranger_total += ru["total"]
            stranger_named += ru["total"] - ru["missed"] - ru["confusion"]
        if verbose:
            print(f"    synthetic {i:3d} {trial['requested']} stranger {trial['stranger']}: IER {r['ier']:.3f}")
    out = {"ier": ier_of(acc), "strangers_unknown": stranger_named / stranger_total if stranger_total else None,
           "sandwiched_to_neighbour": sandwich_neighbour / sandwich_total if sandwich_total else None}
    strangers = (f", {out['strangers_unknown']:.3f} of strangers' speech unknown"
                 if out["strangers_unknown"] is not None else ", no stranger")
    print(f"synthetic conversations: IER {out['ier']:.3f} (confusion {acc['confusion'] / acc['total']:.3f}, missed "
          f"{acc['missed'] / acc['total']:.3f}, false alarm {acc['false_alarm'] / acc['total']:.3f}){strangers}")
    if sandwich_total:
        print(f"short turns (0.3-0.8 s) between two turns of one requested speaker: {sandwich_total:.1f} s, "
              f"{out['sandwiched_to_neighbour']:.3f} of it given to that speaker")
    return out


def synthetic_conversations(root: str, man: dict, cfg, n: int, verbose: bool,
                            gaps: tuple[float, float] = (0.2, 0.8), *, seed: int = 0, enroll_clips: int = 1,
                            short_turns: bool = False) -> dict:
    """See --synthetic in the module doc."""
    audio = synthetic_voices(root, man, short_turns=short_turns)
    prints = {s: speaker_voiceprint([enrollment_voiceprint(a, config=cfg) for a in clips[:enroll_clips]], config=cfg)
              for s, clips in audio.items()}

    def identify(trial: dict) -> list[tuple[str, float, float]]:
        return segs(identify_segments(trial["x"], {s: prints[s] for s in trial["requested"]}, config=cfg,
                                      cohort={s: prints[s] for s in trial["others"]}))

    return report_synthetic(synthetic_trials(audio, cfg, n, gaps, seed=seed, enroll_clips=enroll_clips,
                                             short_turns=short_turns), identify, verbose)


if __name__ == "__main__":
    sys.exit(main())
