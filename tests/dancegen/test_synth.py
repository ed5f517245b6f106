"""The procedural data set (`dancegen data synth`) carries learnable, beat-aligned, physically sane signal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dancegen.data import load_finedance
from dancegen.data.synth import build
from dancegen.errors import DataError
from dancegen.genre.genres import GENRES
from dancegen.metrics.beats import beat_align_score, music_beats
from dancegen.metrics.kinetic import kinetic_features
from dancegen.motion.convert import from_finedance
from dancegen.motion.kinematics import forward_kinematics

SONGS, SECONDS = 2, 12.0
WINDOW, STRIDE = 120, 30


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Forward kinematics is thousands of tiny matrix products: on a shared machine one thread is much faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    report = build(out, songs_per_genre=SONGS, seconds=SECONDS, seed=7)
    print(f"built {report.songs} songs in {report.seconds_taken:.1f} s")
    return out


@pytest.fixture(scope="module")
def joints(synth_dir) -> dict[str, np.ndarray]:
    """World joint positions (T, 55, 3) of every song, by forward kinematics of the written motion files."""
    out = {}
    with torch.no_grad():
        for path in sorted((synth_dir / "motion").glob("*.npy")):
            out[path.stem] = forward_kinematics(from_finedance(np.load(path)), _skeleton()).numpy()
    return out


def _skeleton():
    from dancegen.motion.skeleton import Skeleton

    return Skeleton.default()


def _labels(synth_dir: Path) -> dict[str, str]:
    return {r["filename"][:-4]: r["style2"] for r in json.loads((synth_dir / "labels.json").read_text())}


def test_layout_and_loader(synth_dir):
    labels = _labels(synth_dir)
    assert len(labels) == 16 * SONGS
    assert sorted(set(labels.values())) == sorted(GENRES)
    splits = json.loads((synth_dir / "splits.json").read_text())
    assert len(splits["test"]) == 16
    assert len(splits["train"]) == 16 * (SONGS - 1)
    assert not set(splits["train"]) & set(splits["test"])
    for seq_id in labels:
        motion = np.load(synth_dir / "motion" / f"{seq_id}.npy")
        assert motion.shape == (int(SECONDS * 30), 315)
        assert motion.dtype == np.float32
        assert np.isfinite(motion).all()
        info = sf.info(synth_dir / "music_wav" / f"{seq_id}.wav")
        assert info.channels == 1
        assert info.frames == int(SECONDS * info.samplerate)
        beats = np.load(synth_dir / "beats" / f"{seq_id}.npy")
        assert beats.ndim == 1
        assert (np.diff(beats) > 0).all()
        assert beats[0] >= 0
        assert beats[-1] < SECONDS
    train = load_finedance(synth_dir, split="train")
    test = load_finedance(synth_dir, split="test")
    assert len(train.sequences) == 16
    assert len(test.sequences) == 16
    assert {s.genre_name for s in test.sequences} == set(GENRES)
    assert train.sequences[0].motion.shape == (int(SECONDS * 30), 319)


def test_training_windows_survive_the_static_filter(synth_dir):
    """The training window filter (std over the 319 channels > 0.07) keeps nearly every procedural window."""
    from dancegen.data import WindowDataset

    stats = WindowDataset(load_finedance(synth_dir, split="all"), None, mode="train").stats
    print(f"train windows kept {stats['kept']} of {stats['considered']}")
    assert stats["kept"] >= 0.85 * stats["considered"]


def _window_features(pos: np.ndarray) -> np.ndarray:
    """Kinetic features of the body (root-relative) + facing-invariant pose statistics of one window."""
    rel = pos - pos[:1, :1]
    body = rel[:, :22]
    kin = kinetic_features(body)
    height = pos[:, :, 1]
    centred = pos - pos[:, :1]
    radial = np.linalg.norm(centred[:, :, [0, 2]], axis=-1)
    hands = np.linalg.norm(pos[:, 25:55] - pos[:, [20] * 15 + [21] * 15], axis=-1)  # finger joints to wrists
    speed = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
    return np.concatenate([np.log1p(np.abs(kin)), height.mean(0), height.std(0), radial.mean(0), hands.mean(0),
                           hands.std(0), speed.mean(0), speed.std(0)])


def _dataset(synth_dir, joints, split):
    ids = json.loads((synth_dir / "splits.json").read_text())[split]
    labels = _labels(synth_dir)
    x, y = [], []
    for seq_id in ids:
        pos = joints[seq_id]
        for start in range(0, pos.shape[0] - WINDOW + 1, STRIDE):
            x.append(_window_features(pos[start:start + WINDOW]))
            y.append(GENRES.index(labels[seq_id]))
    return np.stack(x), np.array(y)


def test_genres_are_separable_on_held_out_songs(synth_dir, joints):
    """A nearest-centroid classifier on per-window features, trained on the train songs, scores held-out songs."""
    x_train, y_train = _dataset(synth_dir, joints, "train")
    x_test, y_test = _dataset(synth_dir, joints, "test")
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    centroids = np.stack([z_train[y_train == g].mean(0) for g in range(16)])
    pred = np.argmin(((z_test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((pred == y_test).mean())
    print(f"held-out window accuracy {accuracy:.3f} ({len(y_test)} windows, chance {1 / 16:.3f})")
    assert accuracy > 0.5


def test_kinematic_beats_fall_on_music_beats(synth_dir, joints):
    true, shifted = [], []
    for seq_id, pos in joints.items():
        beats = np.load(synth_dir / "beats" / f"{seq_id}.npy") * 30
        half = np.median(np.diff(beats)) / 2
        true.append(beat_align_score(pos, np.round(beats).astype(int)))
        shifted.append(beat_align_score(pos, np.round(beats + half).astype(int)))
    print(f"BAS true beats {np.mean(true):.3f}, half-beat-shifted {np.mean(shifted):.3f}")
    assert np.mean(true) > 0.6
    assert np.mean(true) > np.mean(shifted) + 0.4


def test_librosa_finds_the_saved_beats(synth_dir):
    """The project's beat tracker (percussive onset envelope + librosa.beat.beat_track) hears the saved beats."""
    hits = []
    for seq_id in json.loads((synth_dir / "splits.json").read_text())["test"][::2]:  # 8 genres, to stay fast
        audio, sr = sf.read(synth_dir / "music_wav" / f"{seq_id}.wav", dtype="float32")
        tracked = music_beats(audio, sr)
        saved = np.load(synth_dir / "beats" / f"{seq_id}.npy") * 30
        dist = np.abs(tracked[:, None] - saved[None]).min(axis=1)
        hits.append(float((dist <= 2).mean()))
    print(f"tracked beats within ±2 frames of a saved beat: {np.round(hits, 2)}")
    assert np.median(hits) >= 0.9
    assert np.mean(np.array(hits) >= 0.8) >= 0.75


def test_planted_feet_do_not_slide(joints):
    """Where a foot is on the floor (ankle ≤ 8 cm, toe ≤ 5 cm), it barely moves horizontally."""
    slides = []
    for pos in joints.values():
        assert pos[..., 1].min() > -1e-3  # nothing below the floor
        for ankle, toe in ((7, 10), (8, 11)):
            on_floor = (pos[:-1, ankle, 1] <= 0.08) & (pos[:-1, toe, 1] <= 0.05)
            step = np.linalg.norm(np.diff(pos[:, [ankle, toe]][..., [0, 2]], axis=0), axis=-1).max(-1)
            slides.append(step[on_floor])
    slide = np.concatenate(slides)
    print(f"foot slide on the floor: mean {slide.mean() * 1000:.2f} mm/frame, "
          f"{(slide > 0.01).mean():.3f} of contact frames above 1 cm")
    assert slide.mean() < 0.004
    assert (slide > 0.01).mean() < 0.08


def test_generator_keeps_planted_toes_still():
    """The generator's own stance plan: a toe it marks planted on consecutive frames stays put (root correction)."""
    from dancegen.data.synth.motion import perform
    from dancegen.data.synth.music import synthesize
    from dancegen.data.synth.styles import STYLES

    for g, style in enumerate(STYLES.values()):
        rng = np.random.default_rng([11, g])
        song = synthesize(style.music, 6.0, 15360, rng)
        dance = perform(style.dance, song.beats, 180, rng)
        assert dance.planted.any()
        for side, toe in enumerate((10, 11)):
            held = dance.planted[:-1, side] & dance.planted[1:, side]
            step = np.linalg.norm(np.diff(dance.joints[:, toe], axis=0)[:, [0, 2]], axis=-1)
            assert step[held].max(initial=0.0) < 0.002, style


def test_speeds_are_human(joints):
    for pos in joints.values():
        speed = np.linalg.norm(np.diff(pos, axis=0), axis=-1) * 30
        assert np.percentile(speed, 99) < 10.0  # m/s


def test_same_seed_same_files_other_seed_differs(tmp_path):
    kwargs = {"songs_per_genre": 1, "seconds": 4.0, "genres": ["Dai", "Popping"]}
    a, b, c = build(tmp_path / "a", seed=3, **kwargs), build(tmp_path / "b", seed=3, **kwargs), \
        build(tmp_path / "c", seed=4, **kwargs)
    files = sorted(p.relative_to(a.out) for p in a.out.rglob("*") if p.is_file())
    assert len(files) == 2 * 3 + 3
    for rel in files:
        assert (a.out / rel).read_bytes() == (b.out / rel).read_bytes(), rel
    assert not np.array_equal(np.load(a.out / "motion" / "001.npy"), np.load(c.out / "motion" / "001.npy"))
    assert (a.out / "music_wav" / "001.wav").read_bytes() != (c.out / "music_wav" / "001.wav").read_bytes()


def test_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "d"
    build(out, songs_per_genre=1, seconds=3.0, genres=["Kun"])
    with pytest.raises(DataError, match="--force"):
        build(out, songs_per_genre=1, seconds=3.0, genres=["Kun"])
    build(out, songs_per_genre=1, seconds=3.0, genres=["Wei"], force=True)
    assert _labels(out) == {"001": "Wei"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".d.tmp")]  # no temporary folder left


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", "data", "synth", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_writes_a_loadable_set(tmp_path):
    out = tmp_path / "cli"
    run = _cli(str(out), "--songs-per-genre", "1", "--seconds", "6", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["songs"] == 16
    assert summary["genres"] == 16
    assert len(load_finedance(out, split="all").sequences) == 16


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--songs-per-genre", "0"], "--songs-per-genre"), (["--seconds", "1"], "--seconds"),
     (["--genres", "Salsa"], "unknown genre")],
)
def test_cli_bad_arguments_exit_2(tmp_path, args, message):
    run = _cli(str(tmp_path / "bad"), *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert message in lines[0]
    assert "Traceback" not in run.stderr


def test_cli_refuses_non_empty_output(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    run = _cli(str(tmp_path))
    assert run.returncode == 2
    assert "--force" in run.stderr
    assert (tmp_path / "keep.txt").exists()
