"""Every built-in music encoder on real audio files the tests synthesise (wav/flac/ogg/mp3)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from dancegen.errors import DancegenError, DataError, MissingWeightsError
from dancegen.features import build_music_encoder, num_frames
from dancegen.features.audio import load_audio
from mtlkit.registry import UnknownNameError

SR = 44100
SECONDS = 3.37  # not a whole number of frames: T = floor(3.37 * 30) = 101
TINY_WAV2VEC2 = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                 "conv_dim": (32,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}
TINY_CLAP = {"patch_embeds_hidden_size": 8, "hidden_size": 64, "depths": [1, 1, 1, 1],
             "num_attention_heads": [1, 1, 1, 1], "projection_dim": 32, "window_size": 8}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty weight cache and no weights from the environment."""
    monkeypatch.setenv("DANCEGEN_OFFLINE", "1")
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DANCEGEN_WAV2CLIP_WEIGHTS", raising=False)
    monkeypatch.delenv("DANCEGEN_WAV2CLIP_SHA256", raising=False)


def music(seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """A stereo 'song': a chord with vibrato plus percussive clicks at 120 BPM."""
    t = np.arange(int(seconds * sr)) / sr
    chord = sum(0.15 * np.sin(2 * np.pi * f * t * (1 + 0.002 * np.sin(2 * np.pi * 5 * t))) for f in (220, 277, 330))
    clicks = np.zeros_like(t)
    for beat in np.arange(0, seconds, 0.5):
        i = int(beat * sr)
        clicks[i : i + 400] += 0.6 * np.exp(-np.arange(min(400, len(t) - i)) / 60)
    return np.stack([chord + clicks, 0.8 * chord + clicks], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    out = {}
    for ext in ("wav", "flac", "ogg", "mp3"):
        if ext == "mp3" and "MP3" not in sf.available_formats():
            continue
        out[ext] = d / f"song.{ext}"
        sf.write(out[ext], music(), SR, format=ext.upper() if ext == "mp3" else None)
    return out


def reference(name: str, path) -> np.ndarray:
    """The same features straight from librosa, with the documented parameters."""
    y, sr = librosa.load(path, sr=15360)
    T = num_frames(len(load_audio(path)[0]), load_audio(path)[1])
    if name == "stft":
        return np.abs(librosa.stft(y, n_fft=384, hop_length=512)).T[:T]
    if name == "stft-real":
        return librosa.stft(y, n_fft=384, hop_length=512).real.T[:T]
    if name == "mfcc":
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, hop_length=512)
        return np.concatenate([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)]).T[:T]
    env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=512)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20).T
    chroma = librosa.feature.chroma_cens(y=y, sr=sr, hop_length=512, n_chroma=12).T
    peaks = np.zeros_like(env)
    peaks[librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=512)] = 1
    _, beat_idx = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=512, start_bpm=120, tightness=100)
    beats = np.zeros_like(env)
    beats[beat_idx] = 1
    return np.concatenate([env[:, None], mfcc, chroma, peaks[:, None], beats[:, None]], axis=1)[:T]


@pytest.mark.parametrize(
    ("spec", "options", "dim", "ref"),
    [("stft", {}, 193, "stft"), ("stft", {"mode": "real"}, 193, "stft-real"), ("mfcc", {"deltas": 2}, 60, "mfcc"),
     ("baseline35", {"start_bpm": 120}, 35, "baseline35")],
)
def test_offline_encoders_equal_direct_librosa(files, spec, options, dim, ref):
    enc = build_music_encoder(spec, **options)
    for ext, path in files.items():
        y, sr = load_audio(path)
        feats = enc.encode_file(path)
        assert feats.shape == (num_frames(len(y), sr), dim), ext
        assert feats.dtype == np.float32
        np.testing.assert_allclose(feats, reference(ref, path), rtol=1e-5, atol=1e-5, err_msg=ext)
    assert feats.shape[0] in (101, 100)  # mp3/ogg may pad or trim a few samples


def test_wav_frame_count_and_channels(files):
    data, sr = sf.read(files["wav"])
    assert num_frames(len(data), sr) == 101
    enc = build_music_encoder("stft", mode="log")
    a = enc.encode(data.T, sr)  # (channels, samples) array in memory, same as the file
    np.testing.assert_allclose(a, enc.encode_file(files["wav"]), atol=1e-5)
    b = build_music_encoder("stft", align="centre").encode(data.T, sr)
    assert a.shape == b.shape == (101, 193)
    assert not np.allclose(np.exp(a), b)


def test_baseline35_beats_found(files):
    feats = build_music_encoder("baseline35").encode_file(files["wav"])
    assert set(np.unique(feats[:, 33:])) <= {0.0, 1.0}
    assert feats[:, 34].sum() >= 3  # the 120-BPM clicks give beats


def test_wav2clip_random_and_composite(files):
    w2c = build_music_encoder("wav2clip", allow_random_weights=True, batch_size=32)
    feats = w2c.encode_file(files["flac"])
    assert feats.shape == (101, 512)
    assert np.isfinite(feats).all()
    assert w2c.config()["weights"] == {"random": True, "seed": 0}
    both = build_music_encoder("wav2clip+stft", allow_random_weights=True)
    assert both.dim == 705
    assert build_music_encoder("wav2clip,stft", allow_random_weights=True).dim == 705
    cat = both.encode_file(files["flac"])
    assert cat.shape == (101, 705)
    np.testing.assert_allclose(cat[:, :512], feats, rtol=1e-4, atol=1e-5)  # batching does not change features
    np.testing.assert_allclose(cat[:, 512:], build_music_encoder("stft").encode_file(files["flac"]), atol=1e-6)
    assert both.config() == {"name": "composite", "encoders": [w2c.config() | {"norm": "song"},
                                                                build_music_encoder("stft").config()]}
    assert both.config_hash() != build_music_encoder("wav2clip,stft", allow_random_weights=True, seed=1).config_hash()


def test_wav2clip_matches_whole_song_batch_and_per_window():
    """norm='song' = the original model run on all windows as one batch; norm='window' = each window alone."""
    y = music(1.2)[:, 0]  # 36 frames
    y15 = librosa.resample(y, orig_sr=SR, target_sr=15360)
    windows = torch.from_numpy(y15[: 36 * 512].reshape(36, 512).copy())
    enc = build_music_encoder("wav2clip", allow_random_weights=True, batch_size=8)
    with torch.inference_mode():
        whole = enc.model(windows).numpy()
        alone = torch.cat([enc.model(windows[i : i + 1]) for i in range(0, 36, 7)]).numpy()
    np.testing.assert_allclose(enc.encode(y, SR), whole, rtol=1e-3, atol=1e-4)
    per_window = build_music_encoder("wav2clip", allow_random_weights=True, norm="window").encode(y, SR)
    np.testing.assert_allclose(per_window[::7], alone, rtol=1e-3, atol=1e-4)


def test_wav2clip_1d_fast_path_equals_2d_resnet():
    from dancegen.features.wav2clip_model import Wav2CLIPAudioEncoder

    torch.manual_seed(3)
    model = Wav2CLIPAudioEncoder().eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    with torch.inference_mode():
        spec = model.log_spectrogram(torch.randn(5, 512))
        assert spec.shape == (5, 1, 257, 2)
        torch.testing.assert_close(model.resnet.forward_1d(spec), model.resnet.forward_2d(spec), rtol=1e-5,
                                   atol=1e-5)


def test_wav2clip_loads_original_checkpoint_names_strictly(tmp_path, files):
    from dancegen.features.wav2clip_model import Wav2CLIPAudioEncoder, map_original_names, to_original_names

    torch.manual_seed(7)
    model = Wav2CLIPAudioEncoder()
    original = to_original_names(model.state_dict())
    assert "audio_encoder.spectrogram.window" in original
    assert "audio_encoder.layer4.1.bn2.running_var" in original
    assert "audio_encoder.fc.weight" in original
    assert "audio_transform.sequential.3.weight" in original  # Linear, ReLU, Dropout, Linear
    fresh = Wav2CLIPAudioEncoder()
    fresh.load_state_dict(map_original_names(original), strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    ckpt = tmp_path / "Wav2CLIP.pt"
    torch.save({"state_dict": original | {"image_encoder.logit_scale": torch.ones(())}, "epoch": 3}, ckpt)
    enc = build_music_encoder("wav2clip", weights=str(ckpt))
    assert enc.config()["weights"]["random"] is False
    assert len(enc.config()["weights"]["sha256"]) == 64
    with torch.inference_mode():
        y, sr = load_audio(files["wav"])
        x = torch.from_numpy(librosa.resample(y, orig_sr=sr, target_sr=15360)[: 101 * 512].reshape(101, 512).copy())
        np.testing.assert_allclose(enc.encode(y, sr), model.eval()(x).numpy(), rtol=1e-3, atol=1e-4)
    del original["audio_encoder.layer1.0.conv1.weight"]
    torch.save({"state_dict": original}, ckpt)
    with pytest.raises(DancegenError, match="not a Wav2CLIP checkpoint"):
        build_music_encoder("wav2clip", weights=str(ckpt))


def test_wav2clip_missing_weights_is_one_actionable_line(tmp_path, monkeypatch):
    with pytest.raises(MissingWeightsError) as info:
        build_music_encoder("wav2clip")
    msg = str(info.value)
    assert "\n" not in msg
    assert "weights=" in msg
    assert "DANCEGEN_WAV2CLIP_WEIGHTS" in msg
    assert "offline" in msg
    monkeypatch.setenv("DANCEGEN_WAV2CLIP_WEIGHTS", str(tmp_path / "nope.pt"))
    with pytest.raises(MissingWeightsError, match="DANCEGEN_WAV2CLIP_WEIGHTS points to"):
        build_music_encoder("wav2clip", allow_random_weights=True)


def test_weights_download_cache_and_checksum(tmp_path, monkeypatch):
    from dancegen.features.weights import cached_file_ok, fetch_weights, sha256_file

    monkeypatch.delenv("DANCEGEN_OFFLINE")
    src = tmp_path / "release.bin"
    src.write_bytes(b"weights" * 1000)
    url = src.as_uri()
    with pytest.raises(MissingWeightsError, match="sha256 mismatch"):
        fetch_weights(url, "w.bin", "hint", expected_sha256="0" * 64)
    assert not list((tmp_path / "cache").iterdir())  # nothing half-written is left behind
    got = fetch_weights(url, "w.bin", "hint", expected_sha256=sha256_file(src))
    assert got == tmp_path / "cache" / "w.bin"
    assert got.read_bytes() == src.read_bytes()
    assert cached_file_ok(got)
    src.unlink()
    assert fetch_weights(url, "w.bin", "hint") == got  # cached: no second download
    got.write_bytes(b"corrupt")
    with pytest.raises(MissingWeightsError, match=r"could not download w\.bin"):
        fetch_weights(url, "w.bin", "pass weights=PATH")


def test_wav2vec2_tiny_random(files):
    enc = build_music_encoder("wav2vec2", model=None, allow_random_weights=True, config=TINY_WAV2VEC2)
    assert enc.sample_rate == 16000
    assert enc.dim == 32
    feats = enc.encode_file(files["wav"])
    assert feats.shape == (101, 32)
    assert np.isfinite(feats).all()
    first = build_music_encoder("wav2vec2", model=None, allow_random_weights=True, config=TINY_WAV2VEC2, layer=1)
    assert not np.allclose(first.encode_file(files["wav"]), feats)
    assert enc.config()["weights"]["random"] is True
    assert enc.config_hash() != first.config_hash()
    with pytest.raises(DancegenError, match="layer must be"):
        build_music_encoder("wav2vec2", model=None, allow_random_weights=True, config=TINY_WAV2VEC2, layer=9)


def test_clap_tiny_random_tokens_and_clip_embedding(files):
    enc = build_music_encoder("clap", model=None, allow_random_weights=True, config=TINY_CLAP)
    assert enc.sample_rate == 48000
    assert enc.dim == 64
    tokens = enc.encode_file(files["ogg"])
    assert tokens.shape == (num_frames(*[len(load_audio(files["ogg"])[0]), SR]), 64)
    assert np.isfinite(tokens).all()
    assert not np.allclose(tokens[0], tokens[-1])
    clip = build_music_encoder("clap", model=None, allow_random_weights=True, config=TINY_CLAP, clip_embedding=True)
    emb = clip.encode_file(files["ogg"])
    assert emb.shape == (len(tokens), 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)  # one window: one unit vector
    assert np.allclose(emb, emb[0])


def test_clap_loads_saved_clap_model_and_matches_its_audio_features(tmp_path):
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    text = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37,
            "vocab_size": 100}
    full = ClapModel(ClapConfig(audio_config=TINY_CLAP, text_config=text, projection_dim=32)).eval()
    full.save_pretrained(tmp_path / "clap")
    enc = build_music_encoder("clap", model=str(tmp_path / "clap"), clip_embedding=True)
    assert enc.config()["weights"]["random"] is False
    y = music(3.0)[:, 0]
    y48 = librosa.resample(y, orig_sr=SR, target_sr=48000)
    inp = ClapFeatureExtractor()([np.pad(y48, (0, 480000 - len(y48)))], sampling_rate=48000, return_tensors="pt",
                                 truncation="rand_trunc")
    with torch.inference_mode():
        out = full.get_audio_features(input_features=inp["input_features"], is_longer=inp["is_longer"])
    ref = getattr(out, "pooler_output", out)[0].numpy()
    feats = enc.encode(y, SR)
    assert feats.shape == (90, 32)
    np.testing.assert_allclose(feats, np.broadcast_to(ref, feats.shape), atol=1e-5)


@pytest.mark.parametrize("name", ["clap", "wav2vec2"])
def test_hf_missing_model_offline(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(MissingWeightsError) as info:
        build_music_encoder(name, model="nobody/no-such-model")
    assert "\n" not in str(info.value)
    assert "model=/local/dir" in str(info.value)
    with pytest.raises(MissingWeightsError, match="no model given"):
        build_music_encoder(name, model=None)


def test_hf_local_directory(tmp_path, files):
    enc = build_music_encoder("wav2vec2", model=None, allow_random_weights=True, config=TINY_WAV2VEC2)
    enc.model.save_pretrained(tmp_path / "w2v")
    local = build_music_encoder("wav2vec2", model=str(tmp_path / "w2v"))
    assert local.config()["weights"]["random"] is False
    np.testing.assert_allclose(local.encode_file(files["wav"]), enc.encode_file(files["wav"]), atol=1e-5)


def test_jukebox_precomputed(tmp_path, files):
    feats_dir = tmp_path / "juke"
    feats_dir.mkdir()
    saved = np.random.default_rng(0).standard_normal((103, 4800)).astype(np.float32)
    np.save(feats_dir / "song.npy", saved)
    enc = build_music_encoder("jukebox", features_dir=str(feats_dir))
    np.testing.assert_array_equal(enc.encode_file(files["wav"]), saved[:101])
    both = build_music_encoder("stft,jukebox", features_dir=str(feats_dir))
    assert both.encode_file(files["wav"]).shape == (101, 193 + 4800)
    with pytest.raises(DancegenError, match="encode_file"):
        enc.encode(music(), SR)
    np.save(feats_dir / "song.npy", saved[:90])
    with pytest.raises(DataError, match="90 frames"):
        enc.encode_file(files["wav"])
    (feats_dir / "song.npy").unlink()
    with pytest.raises(DataError, match="jukemirlib"):
        enc.encode_file(files["wav"])
    with pytest.raises(DancegenError, match="DANCEGEN_JUKEBOX_DIR"):
        build_music_encoder("jukebox")


def test_specs_and_bad_inputs():
    with pytest.raises(UnknownNameError, match="did you mean stft"):
        build_music_encoder("wav2clip,stf", allow_random_weights=True)
    with pytest.raises(DancegenError, match="bad music encoder spec"):
        build_music_encoder("stft,,mfcc")
    with pytest.raises(DancegenError, match="no encoder accepts option"):
        build_music_encoder("stft,mfcc", bogus=1)
    with pytest.raises(DancegenError, match="mode must be one of"):
        build_music_encoder("stft", mode="phase")
    enc = build_music_encoder("stft,mfcc")
    with pytest.raises(DataError, match="NaN"):
        enc.encode(np.full(SR, np.nan, dtype=np.float32), SR)
    with pytest.raises(DataError, match="shorter than one"):
        build_music_encoder("mfcc").encode(np.ones(100, dtype=np.float32), SR)
    assert build_music_encoder("mfcc").encode(np.ones(1470, dtype=np.float32) * 0.1, SR).shape == (1, 20)
