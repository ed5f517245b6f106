"""The published protocols: ``gcdance`` (GCDance's test_10.py: 15 consecutive random slices per song, 10 sets, BAS on
all 55 joints with per-clip beats, PFC/PBC z-up) and ``aist`` (Bailando's AIST++ protocol), checked on tiny data sets
and against reference values of the official formulas (references/gcdance_protocol/)."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dancegen.data import load_dataset
from dancegen.data.aist import AIST_GENRES
from dancegen.errors import DancegenError
from dancegen.evaluation import (
    AIST,
    GCDANCE,
    SLICES,
    Clip,
    cut_clips,
    evaluate,
    get_protocol,
    sample_sets,
    score_set,
)
from dancegen.export import write_npz
from dancegen.metrics import (
    beat_align_score,
    fid,
    kinetic_features,
    pbc,
    pfc,
    root_relative,
    smplx55_to_smpl24,
    upsample_joints,
)

REF_DIR = Path(__file__).resolve().parents[2] / "references" / "gcdance_protocol"
GENRES = ["Breaking", "Jazz", "Dai"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _reference() -> tuple[dict, dict]:
    spec = importlib.util.spec_from_file_location("gcdance_protocol_reference", REF_DIR / "make_reference.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.inputs(), json.loads((REF_DIR / "reference.json").read_text())


def test_bas_pfc_pbc_match_the_official_formulas() -> None:
    """Our metrics and the gcdance protocol's wiring (all 55 joints for BAS, z up for PFC/PBC) reproduce the
    reference values written by references/gcdance_protocol/make_reference.py."""
    data, ref = _reference()
    clips, beats = data["clips"], [np.asarray(b) for b in data["beats"]]
    for clip, b, want in zip(clips, beats, ref["bas_all_joints_per_clip"]):
        assert beat_align_score(clip, b) == pytest.approx(want, rel=1e-9)
    assert beat_align_score(data["still"], beats[0]) == ref["bas_still_clip"] == 0.0
    assert beat_align_score(data["smpl24"], beats[1]) == pytest.approx(ref["bas_smpl24"], rel=1e-9)
    assert pfc([c[:, :22] for c in clips], up_axis=2) == pytest.approx(ref["pfc_z_up"], rel=1e-9)
    assert pfc(clips[0], up_axis=2) == pytest.approx(ref["pfc_z_up_per_clip"][0], rel=1e-9)
    assert pbc(clips, up_axis=2, gcdance_indices=True) == pytest.approx(ref["pbc_z_up"], rel=1e-9)
    # the protocol objects: gcdance uses the official conventions, slices keeps dancegen's (body BAS, y up)
    paper, _ = score_set(GCDANCE, clips, clips, beats)
    assert paper["bas"] == pytest.approx(ref["bas_all_joints_mean"], rel=1e-9)
    assert paper["pfc"] == pytest.approx(ref["pfc_z_up"], rel=1e-9)
    assert paper["pbc"] == pytest.approx(ref["pbc_z_up"], rel=1e-9)
    ours, _ = score_set(SLICES, clips, clips, beats)
    assert ours["bas"] == pytest.approx(ref["bas_body_joints_mean"], rel=1e-9)
    assert ours["bas"] != pytest.approx(paper["bas"], rel=1e-3)
    assert ours["pfc"] != pytest.approx(paper["pfc"], rel=1e-3)


def _clips(song: str, n: int) -> list[Clip]:
    return [Clip(song, "Jazz", 60 * k, 120, np.zeros((120, 319), np.float32), k) for k in range(n)]


def test_block_sampling_draws_runs_of_consecutive_slices() -> None:
    """test_10.py: per song all slices when it has at most 15, else 15 consecutive ones from a uniform start in
    0 … n − 15; sets are seeded."""
    clips = _clips("001", 20) + _clips("002", 5)
    proto = GCDANCE.with_sets(sets=200)
    sets = sample_sets(clips, proto, seed=3)
    assert len(sets) == 200
    starts = []
    for s in sets:
        a = [c.index for c in s.clips if c.sequence_id == "001"]
        assert a == list(range(a[0], a[0] + 15))
        starts.append(a[0])
        assert [c.index for c in s.clips if c.sequence_id == "002"] == [0, 1, 2, 3, 4]
        assert s.short == {"002": 5}
    assert set(starts) == {0, 1, 2, 3, 4, 5}  # both ends of the range are drawn
    again = sample_sets(clips, proto, seed=3)
    assert [[c.key for c in s.clips] for s in again] == [[c.key for c in s.clips] for s in sets]
    other = sample_sets(clips, proto, seed=4)
    assert [[c.key for c in s.clips] for s in other] != [[c.key for c in s.clips] for s in sets]
    assert len(sample_sets(clips, SLICES)) == 1  # every-slice protocols: one set of every clip
    with pytest.raises(DancegenError, match="sampled protocols"):
        SLICES.with_sets(sets=3)
    assert get_protocol("gcdance").sets == 10
    assert get_protocol("gcdance").clips_per_song == 15


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dancegen.data.synth import build

    root = tmp_path_factory.mktemp("paper") / "tiny"
    build(root, songs_per_genre=1, seconds=12, genres=GENRES)  # 360 frames: 5 slices per song
    return root


def test_gcdance_motions_sets(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    test = load_dataset(data, "test")
    for c in cut_clips(test, SLICES):
        write_npz(out / f"{c.key}.npz", c.motion, genre=c.genre)
    report = evaluate(data, "gcdance", motions=out, cache_dir=tmp_path / "c", sets=3, clips_per_song=2, seed=1)
    assert report["protocol"]["name"] == "gcdance"
    assert report["protocol"]["bas_joints"] == "all"
    assert report["protocol"]["up_axis"] == "z"
    samp = report["sampling"]
    assert (samp["sets"], samp["clips_per_song"], samp["seed"]) == (3, 2, 1)
    assert samp["clips_per_set"] == [6, 6, 6]
    assert not samp["short_songs"]
    starts = {tuple(row["first_slice"] for row in s) for s in samp["per_set"]}
    assert len(starts) > 1  # the sets differ
    gen = report["generated"]
    assert (gen["sets"], gen["repeats"], gen["clips"]) == (3, 1, 6)
    for key in ("fid_k_body", "fid_k_hand"):  # every set scored against the GT of its own clips
        assert gen["metrics"][key]["n"] == 3
        assert max(abs(v) for v in gen["metrics"][key]["values"]) < 1e-3
    assert gen["metrics"]["bas"]["std"] is not None
    # the generated motions are the GT: the clip-level metrics equal the GT row's, set by set
    gt = report["gt_row"]
    for key in ("bas", "pfc", "pbc", "fsr"):  # (Div differs: normalised by a different GT reference)
        assert gen["metrics"][key]["values"] == pytest.approx([r[key] for r in gt["per_set"]], rel=1e-9), key
        assert gen["metrics"][key]["std"] == pytest.approx(gt["std"][key], rel=1e-9), key
    assert report["beats_source"].startswith("audio per clip")
    assert "PFC: z used as up on y-up data, as the official code (eval_pfc.py up_dir = 2)" in report["conventions"]
    assert any("3 sets of 2 clips per song" in d for d in report["deviations"])
    assert any("approximate rest skeleton" in d for d in report["deviations"])
    assert report["device"] == {"requested": "auto", "used": "cpu"} or report["device"]["used"].startswith("cuda")
    # BAS by hand for the first set: all 55 joints, beats tracked on each clip's own audio
    from dancegen.evaluation.shared import prepare
    from dancegen.motion import Skeleton

    ev = prepare(data, GCDANCE.with_sets(3, 2), Skeleton.default(), seed=1)
    first = ev.sets[0].clips
    assert [c.key for c in first] == [c.key for c in sample_sets(cut_clips(test, SLICES), GCDANCE.with_sets(3, 2), 1)[0]
                                      .clips]
    from dancegen.features.audio import load_audio
    from dancegen.metrics import music_beats

    scores = []
    for c in first:
        y, sr = load_audio(next(s.audio for s in test if s.id == c.sequence_id))
        part = y[round(c.start * sr / 30): round((c.start + c.frames) * sr / 30)]
        beats = music_beats(part, sr)
        if (beats < 119).any():
            scores.append(beat_align_score(ev.test_joints[c.key], beats))
    assert gen["metrics"]["bas"]["values"][0] == pytest.approx(float(np.mean(scores)), rel=1e-9)


def _write_aist_sequence(root: Path, name: str, frames: int, seconds: float, seed: int) -> None:
    from test_data import write_wav

    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 60.0
    poses = 0.4 * np.sin(t * rng.uniform(0.5, 2, (1, 72)) * 6.28)
    trans = np.concatenate((np.sin(t), 1.0 + 0 * t, np.cos(t)), axis=1) * 90.0
    with open(root / "motions" / f"{name}.pkl", "wb") as f:
        pickle.dump({"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([90.0])}, f)
    write_wav(root / "wav" / f"{name.split('_')[4]}.wav", seconds, sr=22050, seed=seed)


@pytest.fixture(scope="module")
def aist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_data.make_aist's folder (train gBR, ignored gJB, test gHO) plus two 12-s test sequences and one
    12-s training sequence of another genre."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_data import make_aist

    root = make_aist(tmp_path_factory.mktemp("aist") / "aist")
    extra_test = ["gKR_sBM_cAll_d28_mKR2_ch04", "gPO_sBM_cAll_d10_mPO1_ch05"]
    extra_train = "gLO_sBM_cAll_d13_mLO3_ch06"
    for k, name in enumerate([*extra_test, extra_train]):
        _write_aist_sequence(root, name, 720, 12.0, seed=10 + k)
    (root / "splits" / "crossmodal_test.txt").write_text("\n".join(["gHO_sBM_cAll_d19_mHO2_ch03", *extra_test]) + "\n")
    with open(root / "splits" / "crossmodal_train.txt", "a") as f:
        f.write(extra_train + "\n")
    return root


def _kinetic24(joints: np.ndarray, frames: int | None) -> np.ndarray:
    j = upsample_joints(joints, 2)[:frames]
    return kinetic_features(root_relative(smplx55_to_smpl24(j)))


def test_aist_protocol_motions(aist: Path, tmp_path: Path) -> None:
    test = load_dataset(aist, "test")
    out = tmp_path / "m"
    out.mkdir()
    for s in test:
        write_npz(out / f"{s.id}.npz", s.motion)
    report = evaluate(aist, "aist", motions=out, cache_dir=tmp_path / "c")
    proto = report["protocol"]
    assert (proto["name"], proto["fps"], proto["joint_set"], proto["feature_frames"]) == ("aist", 60, "smpl24", 600)
    assert report["gt_set"]["test_songs"] == 3
    assert report["gt_set"]["songs"] == 5  # every sequence but the ignore list's one
    assert report["beats_source"].endswith("frames at 60 FPS")
    assert any("no val split" in d for d in report["deviations"])
    assert any("first 1200 frames at 60 FPS" in c for c in report["conventions"])
    m = report["generated"]["metrics"]
    assert set(m) == {"fid_k", "fid_g", "div_k", "div_g", "bas"}
    # FID_k by hand: generated = the first 20 s at 60 FPS of each test sequence; GT = every sequence, whole
    from dancegen.evaluation.shared import joints_fn
    from dancegen.motion import Skeleton

    joints_of = joints_fn(Skeleton.default())
    gt_all = [s for s in load_dataset(aist, "all") if s.id != "gJB_sFM_cAll_d09_mJB1_ch02"]
    gen = np.stack([_kinetic24(j, 1200) for j in joints_of([s.motion for s in test])])
    ref = np.stack([_kinetic24(j, None) for j in joints_of([s.motion for s in gt_all])])
    assert m["fid_k"]["mean"] == pytest.approx(float(fid(gen, ref)), rel=1e-6)
    assert m["fid_k"]["mean"] > 0
    assert m["div_k"]["mean"] > 0
    assert m["fid_g"]["mean"] >= 0
    assert 0.0 < m["bas"]["mean"] <= 1.0
    assert report["genre_classifier"] is None  # Bailando's protocol has no genre accuracy


def test_genre_classifier_uses_the_data_sets_genres(aist: Path, tmp_path: Path) -> None:
    """On AIST++ the classifier's classes are AIST++ genre names (the training split's), not FineDance's."""
    test = load_dataset(aist, "test")
    out = tmp_path / "m"
    out.mkdir()
    for c in cut_clips(test, SLICES):
        write_npz(out / f"{c.key}.npz", c.motion, genre=c.genre)
    report = evaluate(aist, "slices", motions=out, cache_dir=tmp_path / "c")
    clf = report["genre_classifier"]
    assert clf["classes"] == ["Break", "Lock"]
    assert clf["genre_table"] == list(AIST_GENRES)
    assert report["generated"]["metrics"]["genre_acc"]["mean"] is None  # test genres never seen in training
    assert any("never saw" in n for n in report["generated"]["notes"])


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=180)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "slices", "--sets", "3"], "apply to sampled protocols (gcdance), not slices"),
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--weights", "best"], "--weights 'best': expected ema or raw"),
    ],
)
def test_cli_bad_protocol_options(data: Path, tmp_path: Path, args: list[str], message: str) -> None:
    proc = _cli("evaluate", "--data", data, "--motions", tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert message in lines[0], proc.stderr


@pytest.fixture(scope="module")
def checkpoint(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_evaluation_songs import tiny_run

    return tiny_run(data, tmp_path_factory.mktemp("paper_run") / "run")


def test_cli_gcdance_checkpoint_sets_weights_device(data: Path, checkpoint: Path, tmp_path: Path) -> None:
    proc = _cli("evaluate", "--data", data, "--checkpoint", checkpoint, "--sets", "2", "--clips-per-song", "1",
                "--steps", "1", "--weights", "raw", "--json", "--threads", "1", "--cache-dir", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["protocol"]["name"] == "gcdance"  # the default protocol is the paper's
    gen = report["generated"]
    assert (gen["sets"], gen["repeats"], gen["clips"], gen["source"]["weights"]) == (2, 1, 3, "raw")
    assert len(gen["per_repeat"]) == 2
    assert gen["metrics"]["fid_k_body"]["n"] == 2
    assert gen["metrics"]["fid_k_body"]["std"] is not None
    assert report["device"]["requested"] == "auto"
    assert report["device"]["used"] == ("cuda" if _cuda() else "cpu") == report["timing"]["device"]
    assert report["sampling"]["clips_per_set"] == [3, 3]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_protocol_table() -> None:
    assert {get_protocol(n).name for n in ("gcdance", "slices", "lodge", "songs", "aist")} == {
        "gcdance", "slices", "lodge", "songs", "aist"}
    assert AIST.metrics == ("fid_k", "fid_g", "div_k", "div_g", "bas")
    assert all(c.startswith("differs") or "differs" not in c for c in GCDANCE.conventions)
