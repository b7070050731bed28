"""The server's audio decode gives libsndfile's own samples, whichever fast path it takes, and base64 content is
accepted in every form a client may send (one unbroken string, wrapped lines, url-safe, unpadded, data URL)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile
from conftest import fixture_bytes

from mock_server.audio import decode_audio, decode_base64


def _decode(data: bytes, **kw) -> np.ndarray:
    return decode_audio(data, encoding=kw.get("encoding"), sample_rate=kw.get("sample_rate"), target_rate=16000,
                        max_seconds=kw.get("max_seconds", 7200.0))


def _encode(samples: np.ndarray, rate: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["conversation.wav", "alice_short.flac", "stranger_conversation.flac"])
def test_16_bit_pcm_decodes_to_libsndfiles_float_samples(name):
    data = fixture_bytes(name)
    reference, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == 16000 and soundfile.info(io.BytesIO(data)).subtype == "PCM_16"
    samples = _decode(data)
    assert samples.dtype == np.float32 and samples.flags.c_contiguous
    np.testing.assert_array_equal(samples, reference)


def test_stereo_16_bit_pcm_is_the_mean_of_its_channels():
    data = fixture_bytes("conversation_stereo.wav")
    reference, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    assert reference.shape[1] == 2 and rate == 44100
    # resampled by the server, so compare with the same resampler on libsndfile's own mixdown
    import soxr
    expected = np.clip(soxr.resample(reference.mean(axis=1, dtype=np.float32), rate, 16000, quality="HQ"), -1, 1)
    np.testing.assert_array_equal(_decode(data), expected.astype(np.float32))


def test_24_bit_flac_keeps_its_precision():
    rng = np.random.default_rng(3)
    samples = (0.3 * rng.standard_normal(16000)).clip(-1, 1)
    data = _encode(samples, 16000, "FLAC", "PCM_24")
    reference, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    decoded = _decode(data)
    np.testing.assert_array_equal(decoded, reference)
    # finer than 16-bit steps survive (a 16-bit read would round them away)
    assert np.any(np.abs(decoded * 32768 - np.round(decoded * 32768)) > 1e-3)


def test_float_wav_is_cleaned_and_clipped():
    samples = np.array([0.5, 1.5, -2.0, np.nan, np.inf, -0.25] * 1000, dtype=np.float32)
    decoded = _decode(_encode(samples, 16000, "WAV", "FLOAT"))
    np.testing.assert_array_equal(decoded[:6], np.array([0.5, 1.0, -1.0, 0.0, 0.0, -0.25], dtype=np.float32))


def test_a_recording_longer_than_a_read_block_decodes_whole():
    # 61 s of 16-bit PCM in WAV and FLAC: more than the 60 s blocks used when a header states no length
    rng = np.random.default_rng(5)
    samples = (0.1 * rng.standard_normal(61 * 16000)).astype(np.float32)
    for fmt in ("WAV", "FLAC"):
        data = _encode(samples, 16000, fmt, "PCM_16")
        reference, _ = soundfile.read(io.BytesIO(data), dtype="float32")
        decoded = _decode(data)
        assert len(decoded) == 61 * 16000
        np.testing.assert_array_equal(decoded, reference)


def test_linear16_is_scaled_like_wav():
    wav = fixture_bytes("conversation.wav")
    raw = fixture_bytes("conversation.raw")
    np.testing.assert_array_equal(_decode(raw, encoding="LINEAR16", sample_rate=16000), _decode(wav))


@pytest.mark.parametrize("form", ["plain", "wrapped", "crlf", "urlsafe", "unpadded", "urlsafe_unpadded", "data_url"])
def test_base64_forms_decode_to_the_same_bytes(form):
    data = fixture_bytes("alice_short.flac")[:3002]  # 3002 bytes: the encoding ends with one padding character
    text = base64.b64encode(data).decode()
    assert text.endswith("=") and not text.endswith("==")
    urlsafe = base64.urlsafe_b64encode(data).decode()
    assert "-" in urlsafe or "_" in urlsafe
    content = {"plain": text,
               "wrapped": "\n".join(text[i:i + 76] for i in range(0, len(text), 76)),
               "crlf": "\r\n".join(text[i:i + 64] for i in range(0, len(text), 64)) + "\r\n",
               "urlsafe": urlsafe,
               "unpadded": text.rstrip("="),
               "urlsafe_unpadded": urlsafe.rstrip("="),
               "data_url": "data:audio/flac;base64," + text}[form]
    assert decode_base64(content) == data


# --- headerless formats, WAV flavours, labels (mock_server/audio/pcm.py, labels.py) -----------------------------

@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_g711_expands_to_ffmpegs_own_values(law):
    from media import decode_g711_with_ffmpeg
    every_byte = bytes(range(256)) * 40  # 10240 bytes: every code, more than one FFmpeg packet
    ours = _decode(every_byte, encoding=law.upper(), sample_rate=16000)
    np.testing.assert_array_equal(ours.astype(np.float64), decode_g711_with_ffmpeg(every_byte, law, 16000))


@pytest.mark.parametrize("label,fmt,subtype,endian", [
    ("S16BE", "RAW", "PCM_16", "BIG"), ("u8", "RAW", "PCM_U8", "FILE"), ("pcm_s24le", "RAW", "PCM_24", "LITTLE"),
    ("S24BE", "RAW", "PCM_24", "BIG"), ("s32le", "RAW", "PCM_32", "LITTLE"), ("F32LE", "RAW", "FLOAT", "LITTLE"),
    ("f64be", "RAW", "DOUBLE", "BIG"), ("S8", "RAW", "PCM_S8", "FILE"),
])
def test_raw_pcm_of_every_width_reads_like_libsndfile(label, fmt, subtype, endian):
    rng = np.random.default_rng(11)
    samples = (0.4 * rng.standard_normal(8000)).clip(-1, 1)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 16000, format=fmt, subtype=subtype, endian=endian)
    raw = buffer.getvalue()
    reference, _ = soundfile.read(io.BytesIO(raw), dtype="float32", samplerate=16000, channels=1, format=fmt,
                                  subtype=subtype, endian=endian)
    from mock_server.audio import normalise_encoding
    decoded = _decode(raw, encoding=normalise_encoding(label), sample_rate=16000)
    np.testing.assert_allclose(decoded, np.clip(reference, -1, 1), atol=1e-7)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM",
                                     "MS_ADPCM", "GSM610"])
def test_wav_of_any_sample_format_decodes(subtype):
    speech = fixture_bytes("alice_short.flac")
    samples, rate = soundfile.read(io.BytesIO(speech), dtype="float32")
    wav = _encode(samples, rate, "WAV", subtype)
    decoded = _decode(wav, encoding="MULAW", sample_rate=8000)  # the Node SDK's label for every .wav: ignored
    assert len(samples) <= len(decoded) < len(samples) + 2048  # block codecs pad their last block
    # lossy flavours (G.711, ADPCM, GSM) stay close to the speech; lossless ones are exact to float32
    lossy = subtype in ("GSM610", "IMA_ADPCM", "MS_ADPCM")
    assert np.corrcoef(decoded[:len(samples)], samples)[0, 1] > (0.97 if lossy else 0.999)


def test_wav_holding_a_codec_libsndfile_lacks_goes_to_ffmpeg():
    from media import encode
    samples, rate = soundfile.read(io.BytesIO(fixture_bytes("alice_short.flac")), dtype="float32")
    wav_g722 = encode(samples, rate, container="wav", codec="adpcm_g722", out_rate=16000)  # VoIP's wideband codec
    with pytest.raises(soundfile.SoundFileError):
        soundfile.info(io.BytesIO(wav_g722))
    decoded = _decode(wav_g722)
    assert abs(len(decoded) - len(samples)) < 0.1 * rate
    assert np.sqrt(np.mean(decoded ** 2)) > 0.5 * np.sqrt(np.mean(samples ** 2))


@pytest.mark.parametrize("label,expected", [
    ("MPEG Audio", "MP3"), ("MPEG-4", "MP4"), ("mpeg_4", "MP4"), ("Wave", "WAV"), ("mulaw", "MULAW"),
    ("u-law", "MULAW"), ("PCMU", "MULAW"), ("G.711 A-law", "ALAW"), ("linear16", "LINEAR16"), ("pcm", "LINEAR16"),
    ("pcm_s16be", "S16BE"), ("webm/opus", "WEBM"), (" ogg_opus ", "OGG"), ("AAC", "AAC"), ("", None),
    ("SomethingNew", "SomethingNew"),
])
def test_labels_are_matched_loosely(label, expected):
    from mock_server.audio import normalise_encoding
    assert normalise_encoding(label) == expected


def test_a_short_wav_with_a_large_chunk_after_its_samples_keeps_libsndfiles_reading():
    # 1 s of samples and 200 kB of metadata after them: far more bytes than samples, so FFmpeg is asked too (in
    # case the header's sizes were never filled in); it finds no more, and libsndfile's exact samples are kept.
    rng = np.random.default_rng(11)
    wav = bytearray(_encode((0.1 * rng.standard_normal(16000)).astype(np.float32), 16000, "WAV", "PCM_16"))
    wav += b"junk" + (200_000).to_bytes(4, "little") + bytes(200_000)
    wav[4:8] = (len(wav) - 8).to_bytes(4, "little")
    reference, _ = soundfile.read(io.BytesIO(bytes(wav)), dtype="float32")
    assert len(reference) == 16000
    np.testing.assert_array_equal(_decode(bytes(wav)), reference)
