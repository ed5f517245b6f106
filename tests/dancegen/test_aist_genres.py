"""Genre sets (FineDance's 16, AIST++'s 10) and training / generation on an AIST++ folder end to end.

The AIST++ folder is written by the test in the real layout (``motions/*.pkl`` by plain ``pickle.dump``,
``wav/<music id>.wav``, ``splits/crossmodal_{train,test}.txt``); no licensed data is involved.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dancegen.checkpoint.files import latest_checkpoint, read_config
from dancegen.data import load_aist, load_dataset
from dancegen.data.aist import AIST_GENRE_CODES, AIST_GENRES, CONVERSION_NOTE
from dancegen.errors import DancegenError
from dancegen.genre.controllers import LabelController, TextController
from dancegen.genre.descriptions import sample_descriptions
from dancegen.genre.genres import (
    AIST,
    FINEDANCE,
    GENRES,
    GenreSet,
    UnknownGenreError,
    genre_set_config,
    get_genre_set,
)
from dancegen.genre.registry import build_genre_controller

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: (sequence name, split): genre codes gBR, gKR, gHO, gJB for training, gPO held out.
SEQUENCES = (("gBR_sBM_cAll_d04_mBR0_ch01", "train"), ("gKR_sBM_cAll_d28_mKR2_ch02", "train"),
             ("gHO_sFM_cAll_d19_mHO1_ch03", "train"), ("gJB_sBM_cAll_d08_mJB3_ch04", "train"),
             ("gPO_sBM_cAll_d10_mPO1_ch05", "test"))


def write_wav(path: Path, seconds: float, sr: int = 22050, seed: int = 0) -> None:
    """A beating tone (soundfile, 16-bit PCM)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * (180 + 40 * seed) * t) * (1 + np.sin(2 * np.pi * 2 * t))
    sf.write(path, (y + 0.01 * rng.standard_normal(len(t))).astype(np.float32), sr)


def write_aist(root: Path, sequences: tuple[tuple[str, str], ...] = SEQUENCES, frames: int = 600,
               seconds: float = 10.0) -> Path:
    """A tiny AIST++ folder in the real layout: SMPL poses (T, 72) axis-angle, translation (T, 3) in the units of
    ``smpl_scaling`` (here centimetres-like: ×90), 60 FPS; one wav per music id; crossmodal split files."""
    for sub in ("motions", "wav", "splits"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    splits: dict[str, list[str]] = {"train": [], "test": []}
    for k, (name, split) in enumerate(sequences):
        t = np.arange(frames)[:, None] / 60.0
        poses = 0.4 * np.sin(t * rng.uniform(0.5, 2.0, (1, 72)) * 6.28 + rng.uniform(0, 6.28, (1, 72)))
        trans = np.concatenate((0.5 * np.sin(t), 1.0 + 0.05 * np.sin(3 * t), 0.4 * np.cos(t)), axis=1) * 90.0
        with open(root / "motions" / f"{name}.pkl", "wb") as f:
            pickle.dump({"smpl_poses": poses.astype(np.float32), "smpl_trans": trans.astype(np.float32),
                         "smpl_scaling": np.array([90.0], dtype=np.float32)}, f)
        write_wav(root / "wav" / f"{name.split('_')[4]}.wav", seconds, seed=k)
        splits[split].append(name)
    for split, names in splits.items():
        (root / "splits" / f"crossmodal_{split}.txt").write_text("\n".join(names) + "\n")
    return root


@pytest.fixture(scope="module")
def aist(tmp_path_factory) -> Path:
    return write_aist(tmp_path_factory.mktemp("aist") / "aist")


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


# ----------------------------------------------------------------------------------------------- genre sets

def test_builtin_genre_sets():
    assert get_genre_set() is FINEDANCE
    assert get_genre_set("finedance") is FINEDANCE
    assert FINEDANCE.genres == GENRES
    assert len(FINEDANCE) == 16
    assert get_genre_set("AIST") is AIST
    assert AIST.genres == AIST_GENRES
    assert len(AIST) == 10
    assert len(AIST_GENRE_CODES) == len(AIST)  # data/aist.py keeps the codes, the genre package the names
    assert AIST.prompt("krumping") == "This is a Krump type of music."
    with pytest.raises(DancegenError, match="unknown genre set 'salsa'; built-in sets: finedance, aist"):
        get_genre_set("salsa")


@pytest.mark.parametrize(("name", "genre"), [
    ("Krump", "Krump"), ("KRUMP", "Krump"), ("krumping", "Krump"), ("breaking", "Break"), ("break dance", "Break"),
    ("b-boying", "Break"), ("popping", "Pop"), ("locking", "Lock"), ("house", "House"), ("waacking", "Waack"),
    ("ballet jazz", "Ballet Jazz"), ("Ballet", "Ballet Jazz"), ("street jazz", "Street Jazz"),
    ("jazz-funk", "Street Jazz"), ("middle hiphop", "Middle Hip-hop"), ("LA hip hop", "LA Hip-hop"),
    ("la-style", "LA Hip-hop"), ("  Middle   Hip-hop ", "Middle Hip-hop"),
])
def test_aist_names_and_aliases(name, genre):
    assert AIST.canonical(name) == genre


@pytest.mark.parametrize(("name", "could_be"), [("hip-hop", "Middle Hip-hop or LA Hip-hop"),
                                                 ("HipHop", "Middle Hip-hop or LA Hip-hop"),
                                                 ("jazz", "Street Jazz or Ballet Jazz")])
def test_ambiguous_names_are_one_line_errors_listing_the_choices(name, could_be):
    with pytest.raises(UnknownGenreError) as err:
        AIST.index(name)
    message = str(err.value)
    assert "\n" not in message
    assert f"could be {could_be}" in message
    assert "valid aist genres: Break, Pop, Lock" in message


def test_unknown_genres_name_the_set_and_close_matches():
    with pytest.raises(UnknownGenreError, match=r"^unknown genre 'Dai'; valid aist genres: Break, .*Ballet Jazz$"):
        AIST.index("Dai")
    with pytest.raises(UnknownGenreError, match=r"did you mean Krump\?"):
        AIST.index("Krumpp")
    with pytest.raises(UnknownGenreError, match=r"^unknown genre 'Krump'; valid genres: Breaking, "):
        FINEDANCE.index("Krump")  # FineDance's message is unchanged
    assert FINEDANCE.index("Tai") == 6
    assert FINEDANCE.index("hip-hop") == 3


def test_free_text_resolves_through_the_names_it_contains():
    assert AIST.find_in_text("energetic krump") == [AIST.index("Krump")]
    assert AIST.find_in_text("LA hip hop with swagger") == [AIST.index("LA Hip-hop")]
    assert AIST.find_in_text("some hip-hop grooves") == [3, 4]  # ambiguous: both, the classifier picks
    assert AIST.find_in_text("pop music for waacking") == [AIST.index("Waack")]  # "pop" is generic in text
    assert AIST.find_in_text("pop") == [AIST.index("Pop")]  # … but decides on its own
    assert AIST.find_in_text("k-pop idol group") == []
    assert FINEDANCE.find_in_text("fluid Dai folk") == [6]


def test_genre_set_dict_round_trip():
    doc = json.loads(json.dumps(AIST.to_dict()))
    assert doc["name"] == "aist"
    assert doc["genres"] == list(AIST_GENRES)
    assert doc["prompt_template"] == "This is a {genre} type of music."
    again = GenreSet.from_dict(doc)
    assert again == AIST
    assert again.index("krumping") == 7
    assert get_genre_set(doc) is AIST  # a built-in's dict gives the built-in
    assert genre_set_config(AIST) == "aist"
    custom = get_genre_set({"name": "mine", "genres": ["Salsa", "Tango"], "aliases": {"argentine tango": "Tango"}})
    assert custom.index("Argentine Tango") == 1
    assert genre_set_config(custom)["genres"] == ["Salsa", "Tango"]
    for bad, message in [({"genres": ["Solo"]}, "at least 2"), ({"genres": ["A", "a"]}, "duplicate"),
                         ({"genres": ["A", "B"], "aliases": {"x": "C"}}, "not one of its genres"),
                         ({"genres": ["A", "B"], "colour": 1}, "unknown fields"), ({"name": "x"}, "unknown genre set"),
                         ({"genres": ["A", "B"], "prompt_template": "no slot"}, "must contain")]:
        with pytest.raises(DancegenError, match=message):
            get_genre_set(bad)


# ----------------------------------------------------------------------------------------------- controllers

@pytest.fixture(scope="module")
def aist_text() -> TextController:
    """A text controller on the AIST++ set (its MiniLM encoder, once loaded, is reused below)."""
    return TextController(genres="aist")


def test_controllers_on_the_aist_set_have_its_size(aist_text):
    label = LabelController(embedding="onehot", genres="aist")
    assert label.genres == AIST_GENRES
    assert label.embedding_dim == 10
    out = label(["Krump", "house", "Ballet"])
    assert out.indices.tolist() == [7, 5, 9]
    assert out.probabilities.shape == out.logits.shape == (3, 10)
    assert torch.equal(out.embedding, torch.eye(10)[[7, 5, 9]])
    with pytest.raises(UnknownGenreError, match="valid aist genres"):
        label.predict("Dai")
    none = build_genre_controller({"name": "none", "genres": "aist"})
    assert none.embed(torch.arange(10)).shape == (10, 1)
    with pytest.raises(DancegenError, match=r"out of range 0\.\.9"):
        none.embed(torch.tensor([12]))
    text = aist_text  # no trained head for AIST++: an untrained one of the right size
    assert text.head.net[-1].out_features == 10
    assert text.prompt_embeddings.shape == (10, 384)
    assert torch.allclose(text.prompt_embeddings[7], text.encoder.encode(["This is a Krump type of music."])[0],
                          atol=1e-5)
    assert text.logits(["stomps and chest pops"]).shape == (1, 10)
    pred = text.predict("energetic krump")
    assert (pred.genre, pred.source, len(pred.probabilities)) == ("Krump", "name", 10)
    assert {g for g, _ in text.predict("hip-hop party").top3[:2]} == {"Middle Hip-hop", "LA Hip-hop"}
    config = json.loads(json.dumps(text.config()))
    assert config["genres"] == "aist"
    assert config["num_genres"] == 10
    rebuilt = build_genre_controller(config)
    assert rebuilt.genre_set is AIST
    assert torch.equal(rebuilt.logits(["x"]), text.logits(["x"]))  # the same seeded head


def test_configs_without_a_genre_set_are_finedance():
    config = LabelController(embedding="onehot").config()
    assert config["genres"] == "finedance"
    del config["genres"]  # a checkpoint written before genre sets
    old = build_genre_controller(config)
    assert old.genre_set is FINEDANCE
    assert old.embedding_dim == 16


def test_classification_loss_texts_follow_the_genre_set():
    labels = torch.tensor([7, 0, 9, 7])
    texts = sample_descriptions(labels, torch.Generator().manual_seed(0), genres="aist")
    pools = AIST.training_texts()
    assert all(t in pools[int(y)] for t, y in zip(texts, labels))
    assert "aggressive stomps, chest pops and arm swings" in pools[7]
    with pytest.raises(DancegenError, match="out of range"):
        sample_descriptions(torch.tensor([12]), genres="aist")


# ----------------------------------------------------------------------------------------------- data and losses

def test_aist_data_carries_its_genre_set(aist):
    train = load_dataset(aist, "train", protocol="cross_genre")  # the FineDance protocol does not apply
    assert train.genre_set is AIST
    assert train.genres == AIST_GENRES
    assert sorted(s.genre_name for s in train) == ["Ballet Jazz", "Break", "House", "Krump"]
    assert not train.hands_present
    assert not any(s.hands_present for s in train)
    assert CONVERSION_NOTE in train.report.notes
    assert "60 -> 30 FPS" in CONVERSION_NOTE
    assert train[0].motion.shape == (300, 319)  # 600 frames at 60 FPS → 300 at 30 FPS
    assert [s.id for s in load_aist(aist, "test")] == ["gPO_sBM_cAll_d10_mPO1_ch05"]


def test_losses_leave_out_the_hands_of_sequences_without_hands():
    from dancegen.losses import task_loss_terms
    from dancegen.motion import Skeleton

    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 8, 319, generator=g) * 0.1
    pred = x0 + 0.05 * torch.randn(2, 8, 319, generator=g)
    other_hands = pred.clone()
    other_hands[:, :, 139:] += torch.linspace(0.0, 1.0, 8)[:, None]  # only the hand channels differ, over time
    skel, hands = Skeleton.default(), torch.tensor([False, False])
    a = task_loss_terms(pred, x0, skel, tasks="SJV", hands_present=hands)
    b = task_loss_terms(other_hands, x0, skel, tasks="SJV", hands_present=hands)
    assert all(torch.allclose(a[k], b[k]) for k in "SJV")
    c = task_loss_terms(other_hands, x0, skel, tasks="SJV", hands_present=torch.tensor([True, True]))
    assert all(float(c[k]) > float(a[k]) for k in "SJV")


def test_training_builds_the_controller_on_the_data_genre_set(tmp_path):
    from dancegen.train import TrainConfig
    from dancegen.train.state import data_genre_config

    cfg = TrainConfig(data="d", out=str(tmp_path), genre_controller="label", controller_options={"embedding": "onehot"})
    assert data_genre_config(cfg, AIST).controller_options == {"embedding": "onehot", "genres": "aist"}
    assert cfg.controller_options == {"embedding": "onehot"}  # the run's own settings are left as given
    mismatch = TrainConfig(data="d", out=str(tmp_path), controller_options={"genres": "finedance"})
    with pytest.raises(DancegenError, match="does not match the data, whose genres are the aist set"):
        data_genre_config(mismatch, AIST)


# ----------------------------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def aist_run(aist, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("aist_run") / "run"
    proc = run_cli("train", "--data", str(aist), "--out", str(run), "--preset", "tiny", "--steps", "3",
                   "--music-encoders", "stft", "--batch-size", "4", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def test_train_on_aist_records_its_genre_set(aist_run):
    cfg = read_config(latest_checkpoint(aist_run))
    ctrl = cfg["genre_controller"]
    assert ctrl["name"] == "text"
    assert ctrl["config"]["genres"] == "aist"
    assert ctrl["config"]["num_genres"] == 10
    assert ctrl["trained_classifier"]  # L_C trained the AIST++ head
    assert cfg["data"]["genres"] == "aist"
    assert cfg["data"]["hands_present"] is False
    line = json.loads((aist_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(line["losses"]) == set("SJVFC")


def test_generate_with_an_aist_checkpoint(aist, aist_run, aist_text, tmp_path):
    from dancegen.pipeline import DancePipeline

    song = tmp_path / "song.wav"
    write_wav(song, 4.5, seed=3)
    out = tmp_path / "dance"
    proc = run_cli("generate", str(song), "--checkpoint", str(aist_run), "--genre", "Krump", "--out", str(out),
                   "--format", "npz", "--steps", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "generation.json").read_text())
    assert summary["genre"]["genre"] == "Krump"
    assert len(summary["genre"]["probabilities"]) == 10
    with np.load(out / "motion.npz") as npz:
        assert np.isfinite(npz["poses"]).all()
        assert len(npz["poses"]) == 135

    bad = run_cli("generate", str(song), "--checkpoint", str(aist_run), "--genre", "Dai", "--out",
                  str(tmp_path / "bad"), "--format", "npz", "--steps", "2", "--no-progress")
    assert bad.returncode == 2, bad.stderr
    errors = [x for x in bad.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, bad.stderr
    assert "Traceback" not in bad.stderr
    assert "unknown genre 'Dai'" in errors[0]
    assert "Krump" in errors[0]
    assert "Breaking" not in errors[0]

    pipe = DancePipeline.from_checkpoint(aist_run)
    assert pipe.genres is AIST
    pipe.genre_controller.encoder = aist_text.encoder  # the same MiniLM, already loaded
    audio, sr = sf.read(song, dtype="float32")
    res = pipe(audio, sr, text="energetic krump", steps=1)
    assert (res.genre.genre, res.genre.source) == ("Krump", "name")
    with pytest.raises(UnknownGenreError, match="valid aist genres"):
        pipe(audio, sr, genre="Dai", steps=1)
