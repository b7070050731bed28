#!/usr/bin/env python3
"""Generate the committed speech fixtures under ``fixtures/``.

Everything is synthesised offline with espeak-ng and post-processed with
numpy/soxr/soundfile (WAV, FLAC, MP3, raw PCM) and sox (telephone band
FLAC, OGG Vorbis).  The output is deterministic: running the script twice
with the same tool versions produces byte-identical files (sox is run in
repeatable mode ``-R``; the noise floor uses a fixed-seed PCG64 stream).

Usage:  scripts/make_fixtures [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import numpy as np
    import soundfile as sf
    import soxr
except ImportError as exc:  # pragma: no cover - environment guard
    sys.exit(
        f"make_fixtures: missing Python package ({exc.name}). Run it with the "
        "project venv (.venv/bin/python) or `pip install numpy soundfile soxr`."
    )

SR = 16000          # canonical sample rate of every generated clip
ESPEAK_SR = 22050   # espeak-ng's native output rate
PEAK_CAP = 10 ** (-1.0 / 20)   # -1 dBFS
TARGET_RMS = 10 ** (-20.0 / 20)  # -20 dBFS over voiced samples
NOISE_DBFS = -75.0  # background noise floor added to assembled test files
SILENCE_DBFS = -70.0  # RMS of fixtures/silence.wav
TRIM_REL_DB = -40.0  # trim threshold for utterance edges (relative to peak)
UNKNOWN = "unknown"

REPO = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------
# Voices.  espeak-ng voice = language variant + "+variant"; -p pitch (0-99),
# -s speed (words per minute).
# --------------------------------------------------------------------------
VOICES = {
    "alice": {"voice": "en-us+f3", "pitch": 65, "speed": 165, "gender": "female",
              "description": "US English, female variant f3, high pitch"},
    "bob": {"voice": "en-gb+m3", "pitch": 40, "speed": 150, "gender": "male",
            "description": "British English, male variant m3, mid-low pitch"},
    "carol": {"voice": "en-gb-scotland+f5", "pitch": 80, "speed": 170, "gender": "female",
              "description": "Scottish English, female variant f5, very high pitch"},
    "dave": {"voice": "en-029+m7", "pitch": 15, "speed": 140, "gender": "male",
             "description": "Caribbean English, male variant m7, very low pitch, slow"},
    "eve": {"voice": "en-gb-x-rp+f1", "pitch": 45, "speed": 158, "gender": "female",
            "description": "Received Pronunciation, female variant f1, low-female pitch (never enrolled)"},
}
ENROLLED = ["alice", "bob", "carol", "dave"]
STRANGER = "eve"

# --------------------------------------------------------------------------
# Texts.  Every sentence is used exactly once across all fixtures.
# --------------------------------------------------------------------------
ENROLL_TEXT = {
    "alice": [
        "The old lighthouse keeper climbed the spiral stairs every evening. "
        "He polished the great lamp until it shone across the dark and restless harbour.",
        "Our garden produced far more tomatoes than we could possibly eat this summer. "
        "We gave baskets of them to every neighbour living on our quiet street.",
        "A sudden thunderstorm forced the hikers to shelter beneath a rocky ledge. "
        "They shared dry biscuits and waited patiently for the heavy rain to pass.",
    ],
    "bob": [
        "The train to the northern coast leaves from platform nine at half past seven. "
        "Passengers should collect their tickets from the machine beforehand.",
        "My grandfather repaired clocks in a tiny workshop behind the village church. "
        "The walls were covered with ticking pendulums of every shape and size.",
        "Fresh snow covered the mountain pass overnight and closed the only road. "
        "The ploughs worked until dawn so that the school bus could get through.",
    ],
    "carol": [
        "The museum opened a new gallery devoted to ancient maps and navigation tools. "
        "Visitors can trace the long voyages of early sailors across wild and uncharted seas.",
        "Every autumn the swallows gather on the telephone wires before flying south. "
        "Children in the little village count them each morning on their way to the primary school.",
        "The chef insisted that the soup simmer slowly for at least four hours. "
        "Nobody in the busy and crowded kitchen ever dared to turn the heat up, not even slightly.",
    ],
    "dave": [
        "The fishing boats returned early because the wind had turned against them. "
        "Their crews unloaded silver mackerel onto the crowded wooden pier.",
        "A brass band played cheerful marches in the park on Sunday afternoon. "
        "Families spread blankets on the grass and listened in the warm sunshine.",
        "The library will extend its opening hours during the examination period. "
        "Students may borrow twelve books at a time until June.",
    ],
    "eve": [
        "The orchestra rehearsed the difficult symphony late into the night. "
        "By morning the conductor finally seemed satisfied with the final movement.",
        "Several volunteers planted young oak trees along the edge of the motorway. "
        "In twenty years they will form a shady corridor for birds and insects.",
    ],
}

# Conversation turns: (speaker, [phrases]).  Phrases inside one turn are
# joined with a short INTRA_PAUSE which must NOT split the speaker segment.
CONVERSATION = [
    ("alice", ["Good morning everyone, shall we begin the weekly meeting?"]),
    ("bob", ["Yes, I have the budget figures ready to share."]),
    ("carol", ["Before that, could we review the delivery schedule?"]),
    ("alice", ["Of course.", "The van arrives on Thursday this week."]),
    ("bob", ["Then the warehouse needs two extra people on Thursday."]),
    ("carol", ["I can ask the temporary staff agency this afternoon."]),
    ("alice", ["Perfect, let us move on to the marketing plan."]),
    ("bob", ["I will send round the new brochure designs after lunch."]),
]
CONVERSATION_GAPS = [0.5, 0.35, 0.7, 0.45, 0.6, 0.8, 0.4]  # seconds between turns
INTRA_PAUSE = 0.2
LEAD_SILENCE = 1.0
TRAIL_SILENCE = 1.0

STRANGER_CONVERSATION = [
    ("alice", ["Hello, I think we met at the conference last spring."]),
    ("eve", ["Really? I do not remember attending that event at all."]),
    ("dave", ["She was presenting the poster about river pollution."]),
    ("eve", ["Ah, that must have been my sister, we look alike."]),
    ("alice", ["What a funny coincidence, please give her my regards."]),
]
STRANGER_GAPS = [0.6, 0.4, 0.75, 0.5]

ALICE_SHORT = "Could you please close the window, it is getting rather cold."
ALICE_SHORT_PAD = 0.3


# --------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------
def check_tools() -> dict:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        sys.exit(
            "make_fixtures: missing tool(s): " + ", ".join(missing) + "\n"
            "Install them with:\n"
            "    sudo apt-get install -y espeak-ng sox libsox-fmt-mp3\n"
            "(macOS: brew install espeak-ng sox)"
        )
    help_text = subprocess.run(["sox", "-h"], capture_output=True, text=True).stdout
    fmts = help_text.split("AUDIO FILE FORMATS:")[-1].split("\n")[0].split()
    for fmt in ("mp3", "vorbis", "flac"):
        if fmt not in fmts:
            sys.exit(
                f"make_fixtures: sox lacks '{fmt}' support. Install the format "
                "handlers: sudo apt-get install -y libsox-fmt-mp3 libsox-fmt-all"
            )
    esv = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    soxv = subprocess.run(["sox", "--version"], capture_output=True, text=True).stdout
    return {
        "espeak-ng": esv.split(":")[1].split()[0] if ":" in esv else esv.strip(),
        "sox": soxv.strip().split()[-1],
    }


def run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr}")


# --------------------------------------------------------------------------
# Audio helpers
# --------------------------------------------------------------------------
def trim(x: np.ndarray) -> np.ndarray:
    """Cut leading/trailing silence: keep first..last sample above -40 dB re peak."""
    thr = np.max(np.abs(x)) * 10 ** (TRIM_REL_DB / 20)
    idx = np.flatnonzero(np.abs(x) > thr)
    if idx.size == 0:
        raise RuntimeError("espeak-ng produced silence")
    return x[idx[0]: idx[-1] + 1]


def normalise(x: np.ndarray) -> np.ndarray:
    """Loudness-normalise on the voiced part, cap the peak at -1 dBFS."""
    thr = np.max(np.abs(x)) * 10 ** (-30 / 20)
    voiced = x[np.abs(x) > thr]
    gain = TARGET_RMS / np.sqrt(np.mean(voiced ** 2))
    gain = min(gain, PEAK_CAP / np.max(np.abs(x)))
    return (x * gain).astype(np.float64)


def synth(tmp: Path, speaker: str, text: str) -> np.ndarray:
    """Synthesise text in the speaker's voice; return trimmed 16 kHz float audio."""
    v = VOICES[speaker]
    wav = tmp / "utt.wav"
    run(["espeak-ng", "-v", v["voice"], "-p", str(v["pitch"]), "-s", str(v["speed"]),
         "-a", "100", "-w", str(wav), text])
    x, sr = sf.read(wav, dtype="float64")
    assert sr == ESPEAK_SR, sr
    y = soxr.resample(x, ESPEAK_SR, SR, quality="VHQ")
    return normalise(trim(y))


def noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    """Deterministic approx-Gaussian noise (Irwin-Hall of 4 uniforms) at dbfs RMS."""
    rng = np.random.Generator(np.random.PCG64(seed))
    u = rng.random((4, n)).sum(axis=0) - 2.0  # variance 4/12
    return u / np.sqrt(4 / 12) * 10 ** (dbfs / 20)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def write_pcm(path: Path, x: np.ndarray, sr: int = SR, fmt: str = "WAV") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sub = "PCM_16"
    sf.write(str(path), to_int16(x), sr, format=fmt, subtype=sub)


def median_f0(x: np.ndarray, sr: int = SR) -> float:
    """Crude median F0 (autocorrelation over voiced 40 ms frames, 60-400 Hz)."""
    frame, hop = int(0.04 * sr), int(0.02 * sr)
    lo, hi = int(sr / 400), int(sr / 60)
    thr = 0.3 * np.max(np.abs(x))
    f0s = []
    for s in range(0, len(x) - frame, hop):
        f = x[s: s + frame]
        if np.max(np.abs(f)) < thr:
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.5:
            f0s.append(sr / lag)
    return float(np.median(f0s)) if f0s else float("nan")


def spectral_centroid(x: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    return float(np.sum(freqs * spec) / np.sum(spec))


def assemble(tmp: Path, turns, gaps, seed: int, check_turns: bool = True):
    """Place turns on a timeline. Returns (audio, segments, pauses)."""
    assert len(gaps) == len(turns) - 1
    pieces = [np.zeros(int(LEAD_SILENCE * SR))]
    pos = len(pieces[0])
    segments, pauses = [], []
    for i, (spk, phrases) in enumerate(turns):
        start = pos
        for j, phrase in enumerate(phrases):
            if j:
                p = np.zeros(int(INTRA_PAUSE * SR))
                pauses.append({"speaker_id": spk, "start": pos / SR, "end": (pos + len(p)) / SR})
                pieces.append(p)
                pos += len(p)
            utt = synth(tmp, spk, phrase)
            pieces.append(utt)
            pos += len(utt)
        dur = (pos - start) / SR
        if check_turns and not 2.0 <= dur <= 5.0:
            sys.exit(f"turn {i} ({spk}) is {dur:.2f}s, expected 2-5 s; adjust the text")
        segments.append({"speaker_id": spk if spk in ENROLLED else UNKNOWN,
                         "start": start / SR, "end": pos / SR})
        if i < len(gaps):
            g = np.zeros(int(round(gaps[i] * SR)))
            pieces.append(g)
            pos += len(g)
    pieces.append(np.zeros(int(TRAIL_SILENCE * SR)))
    x = np.concatenate(pieces)
    x = x + noise(len(x), NOISE_DBFS, seed)
    return x, segments, pauses


def transcript(turns) -> list[str]:
    return [f"{spk if spk in ENROLLED else UNKNOWN}: " + " ".join(ph) for spk, ph in turns]


def rnd(segs):
    return [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in s.items()} for s in segs]


# --------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "fixtures")
    args = ap.parse_args()
    out: Path = args.out
    versions = check_tools()
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "format": 1,
        "generator": "scripts/make_fixtures",
        "tools": versions,
        "unknownLabel": UNKNOWN,
        "speakers": {},
        "stranger": {},
        "tests": {},
    }
    stats = {}

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)

        # ---- enrollment ---------------------------------------------------
        for spk in ENROLLED + [STRANGER]:
            files, clips = [], []
            for k, text in enumerate(ENROLL_TEXT[spk], 1):
                utt = synth(tmp, spk, text)
                pad = np.zeros(int(0.25 * SR))
                x = np.concatenate([pad, utt, pad])
                x = x + noise(len(x), NOISE_DBFS, seed=hash_seed(spk, k))
                d = len(x) / SR
                if not 8.0 <= d <= 10.0:
                    sys.exit(f"{spk} clip {k} is {d:.2f}s, expected ~8-10 s; adjust the text")
                if spk == STRANGER:
                    rel = f"stranger/{spk}{k}.wav"
                else:
                    rel = f"speakers/{spk}/enroll{k}.wav"
                write_pcm(out / rel, x)
                files.append({"file": rel, "duration": round(d, 5), "text": text})
                clips.append(utt)
            allv = np.concatenate(clips)
            stats[spk] = {"medianF0Hz": round(median_f0(allv), 1),
                          "spectralCentroidHz": round(spectral_centroid(allv), 1)}
            v = VOICES[spk]
            entry = {
                "espeak": {"voice": v["voice"], "pitch": v["pitch"], "speed": v["speed"]},
                "gender": v["gender"],
                "description": v["description"],
                "stats": stats[spk],
            }
            if spk == STRANGER:
                manifest["stranger"] = {"id": spk, "label": UNKNOWN, **entry, "files": files}
            else:
                manifest["speakers"][spk] = {**entry, "enroll": files}

        # ---- conversation -------------------------------------------------
        conv, segs, pauses = assemble(tmp, CONVERSATION, CONVERSATION_GAPS, seed=101)
        dur = len(conv) / SR
        req = ["alice", "bob", "carol"]
        common = {"speakerIds": req, "segments": rnd(segs), "pauses": rnd(pauses),
                  "transcript": transcript(CONVERSATION)}

        def add(name, rel, enc, sr, ch, duration, **extra):
            manifest["tests"][name] = {"file": rel, "encoding": enc, "sampleRate": sr,
                                       "channels": ch, "duration": round(duration, 5),
                                       **extra}

        write_pcm(out / "conversation.wav", conv)
        add("conversation", "conversation.wav", "WAV", SR, 1, dur, **common,
            description="alice/bob/carol meeting, 8 turns, one 0.2 s pause inside alice's 4th turn")

        raw = out / "conversation.raw"
        raw.write_bytes(to_int16(conv).astype("<i2").tobytes())
        add("conversation_raw", "conversation.raw", "LINEAR16", SR, 1, dur, **common,
            description="conversation.wav as headerless 16-bit little-endian PCM")

        stereo = soxr.resample(conv, SR, 44100, quality="VHQ")
        stereo = np.stack([stereo, 0.8 * stereo], axis=1)
        write_pcm(out / "conversation_stereo.wav", stereo, 44100)
        add("conversation_stereo", "conversation_stereo.wav", "WAV", 44100, 2,
            len(stereo) / 44100, **common,
            description="conversation at 44.1 kHz stereo (right channel -1.9 dB)")

        src = tmp / "conv16.wav"
        write_pcm(src, conv)
        run(["sox", "-R", "-D", str(src), "-b", "16", str(out / "conversation_8k.flac"),
             "gain", "-1", "sinc", "300-3400", "rate", "-v", "8000"])
        add("conversation_8k", "conversation_8k.flac", "FLAC", 8000, 1, dur, **common,
            description="telephone band: 300-3400 Hz band-pass, 8 kHz FLAC")

        # MP3 through libsndfile/LAME: it writes a Xing/LAME header with the encoder
        # delay, so gapless decoders (mpg123 in libsndfile, ffmpeg) give back the
        # exact length and timing.  (sox writes no such tag -> +25 ms offset.)
        m44 = soxr.resample(conv, SR, 44100, quality="VHQ")
        sf.write(str(out / "conversation_44k.mp3"), m44, 44100, format="MP3",
                 subtype="MPEG_LAYER_III")
        add("conversation_mp3", "conversation_44k.mp3", "MP3", 44100, 1, len(m44) / 44100,
            **common, description="conversation as 44.1 kHz mono MP3 (LAME VBR, gapless header)")

        run(["sox", "-R", str(src), "-C", "3", str(out / "conversation.ogg")])
        add("conversation_ogg", "conversation.ogg", "OGG", SR, 1, dur, **common,
            description="conversation as 16 kHz mono OGG Vorbis (quality 3)")

        # ---- stranger conversation -----------------------------------------
        sconv, ssegs, spauses = assemble(tmp, STRANGER_CONVERSATION, STRANGER_GAPS, seed=202)
        write_pcm(out / "stranger_conversation.flac", sconv, fmt="FLAC")
        add("stranger_conversation", "stranger_conversation.flac", "FLAC", SR, 1,
            len(sconv) / SR, speakerIds=list(ENROLLED), segments=rnd(ssegs), pauses=rnd(spauses),
            transcript=transcript(STRANGER_CONVERSATION),
            strangerSpeaker=STRANGER,
            description="alice, eve (never enrolled -> 'unknown'), dave; request all 4 enrolled ids")

        # ---- alice short ----------------------------------------------------
        a = synth(tmp, "alice", ALICE_SHORT)
        pad = np.zeros(int(ALICE_SHORT_PAD * SR))
        ax = np.concatenate([pad, a, pad])
        ax = ax + noise(len(ax), NOISE_DBFS, seed=303)
        write_pcm(out / "alice_short.flac", ax, fmt="FLAC")
        add("alice_short", "alice_short.flac", "FLAC", SR, 1, len(ax) / SR,
            speakerIds=list(ENROLLED),
            segments=rnd([{"speaker_id": "alice", "start": len(pad) / SR,
                           "end": (len(pad) + len(a)) / SR}]), pauses=[],
            transcript=[f"alice: {ALICE_SHORT}"],
            description="about 4 s of alice alone")

        # ---- silence --------------------------------------------------------
        sil = noise(3 * SR, SILENCE_DBFS, seed=404)
        write_pcm(out / "silence.wav", sil)
        add("silence", "silence.wav", "WAV", SR, 1, 3.0, speakerIds=list(ENROLLED),
            segments=[], pauses=[], transcript=[], description="3 s of -70 dBFS noise, no speech")

    # Every sentence must be unique across all fixtures.
    all_text = [t for v in ENROLL_TEXT.values() for t in v]
    all_text += [p for _, ph in CONVERSATION + STRANGER_CONVERSATION for p in ph]
    all_text.append(ALICE_SHORT)
    sentences = [s.strip() for t in all_text for s in t.replace("?", ".").split(".") if s.strip()]
    dup = {s for s in sentences if sentences.count(s) > 1}
    if dup:
        sys.exit(f"sentence reused: {dup}")

    (out / "voices.json").write_text(json.dumps(manifest, indent=2) + "\n")

    print(f"{'id':6} {'voice':20} {'medianF0':>9} {'centroid':>9}")
    for spk, st in stats.items():
        print(f"{spk:6} {VOICES[spk]['voice']:20} {st['medianF0Hz']:9.1f} "
              f"{st['spectralCentroidHz']:9.1f}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


def hash_seed(spk: str, k: int) -> int:
    """Stable (non-randomised) seed from speaker id and clip number."""
    return sum((i + 1) * ord(c) for i, c in enumerate(spk)) * 10 + k


if __name__ == "__main__":
    main()
