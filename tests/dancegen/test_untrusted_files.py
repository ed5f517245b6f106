"""Files a user is given run no code and lead nowhere else: motion pickles (``dancegen data check``, ``dancegen
evaluate --motions``), wav2clip weights, and the paths inside a checkpoint (``latest``, genre head, part files).

Every malicious file here would create a marker file if anything in it ran; each test asserts it never appears.
"""

from __future__ import annotations

import builtins
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from dancegen.errors import DataError, UnsafeFileError
from dancegen.safe_pickle import load_pickle, loads_pickle

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DANCEGEN_OFFLINE": "1"}
BUNDLED = Path(__file__).resolve().parents[2] / "dancegen" / "assets" / "default_model"
AIST_NAME = "gBR_sBM_cAll_d04_mBR0_ch01"


class RunsCode:
    """Pickles as ``fn(*args)``: what a malicious file's ``__reduce__`` asks the loader to call."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.fn, self.args


def payloads(marker: Path) -> dict[str, RunsCode]:
    """Three ways a pickle would create ``marker`` when loaded with plain ``pickle.load``."""
    return {"os.system": RunsCode(os.system, f"touch {marker}"),
            "builtins.eval": RunsCode(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
            "builtins.open": RunsCode(builtins.open, str(marker), "w")}


def aist_motion(frames: int = 240) -> dict[str, Any]:
    """An AIST++ motion file's dict in the released layout: SMPL poses (N, 72), translation (N, 3), scaling (1,)."""
    t = np.arange(frames)[:, None] / 60.0
    return {"smpl_loss": 1.25, "smpl_poses": (0.3 * np.sin(t * np.linspace(1, 3, 72))).astype(np.float32),
            "smpl_scaling": np.array([93.0], dtype=np.float32),
            "smpl_trans": (np.concatenate((np.sin(t), 1 + 0 * t, np.cos(t)), axis=1) * 93.0).astype(np.float32)}


def make_aist(root: Path, motions: dict[str, Any]) -> Path:
    """An AIST++-layout folder: ``motions/<name>.pkl`` (pickled as given), one 4-s song ``wav/mBR0.wav``."""
    (root / "motions").mkdir(parents=True)
    (root / "wav").mkdir()
    for name, obj in motions.items():
        (root / "motions" / f"{name}.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    sf.write(root / "wav" / "mBR0.wav", np.zeros(4 * 15360, dtype=np.float32), 15360)
    return root


def write_song(path: Path) -> None:
    """One second of quiet noise (silence would add a warning line to stderr)."""
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(15360).astype(np.float32), 15360)


def dancegen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=180)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, no traceback, the last stderr line is the error and names each needle; returns that line."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    for needle in needles:
        assert needle in line
    return line


# --------------------------------------------------------------------------- the restricted unpickler
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_real_motion_layouts_still_load(tmp_path: Path, protocol: int) -> None:
    from dancegen.export.edge_pkl import edge_dict

    aist = aist_motion()
    (tmp_path / "aist.pkl").write_bytes(pickle.dumps(aist, protocol=protocol))
    back = load_pickle(tmp_path / "aist.pkl")
    assert back.keys() == aist.keys()
    for key in ("smpl_poses", "smpl_trans", "smpl_scaling"):
        assert back[key].dtype == aist[key].dtype
        np.testing.assert_array_equal(back[key], aist[key])
    edge = {**edge_dict(np.zeros((3, 319), dtype=np.float32)), "loss": np.float64(0.5), "ok": np.bool_(True)}
    back = loads_pickle(pickle.dumps(edge, protocol=protocol))
    assert back["full_pose"].shape == (3, 24, 3)
    assert back["loss"] == 0.5
    assert back["ok"]


@pytest.mark.parametrize("protocol", [0, 2])
def test_numpy_1_module_names_load(protocol: int) -> None:
    """Pickles written by numpy < 2 name ``numpy.core.multiarray`` where numpy 2 writes ``numpy._core``."""
    data = pickle.dumps(aist_motion(4), protocol=protocol)
    assert b"numpy._core.multiarray" in data
    back = loads_pickle(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    np.testing.assert_array_equal(back["smpl_poses"], aist_motion(4)["smpl_poses"])


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "builtins.open"])
def test_payloads_do_run_under_plain_pickle(tmp_path: Path, payload: str) -> None:
    """Control: the payloads are live, so a missing marker below means the loader ran nothing."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(payloads(marker)[payload]))  # plain pickle runs it: the point of this control
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "builtins.open"])
def test_pickle_that_runs_code_is_refused(tmp_path: Path, payload: str, protocol: int) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": payloads(marker)[payload]}, protocol=protocol))
    with pytest.raises(UnsafeFileError) as info:
        load_pickle(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert {"os.system": "system", "builtins.eval": "builtins.eval", "builtins.open": ".open"}[payload] in message
    assert not marker.exists()


@pytest.mark.parametrize("name", ["torch", "functools.partial", "numpy.ndarray"])
def test_other_globals_are_refused(name: str) -> None:
    import functools

    obj = {"torch": torch.zeros(2), "functools.partial": functools.partial(int, "3"),
           # numpy.ndarray called directly on a buffer: with an object dtype it would read arbitrary memory
           "numpy.ndarray": RunsCode(np.ndarray, (2,), np.dtype("O"), bytearray(16))}[name]
    with pytest.raises(UnsafeFileError, match="refused to unpickle"):
        loads_pickle(pickle.dumps(obj, protocol=5), "x.pkl")


def test_corrupt_pickle_is_one_data_error_line(tmp_path: Path) -> None:
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(aist_motion())[:100])
    with pytest.raises(DataError, match=r"cannot read .*cut\.pkl as a pickle") as info:
        load_pickle(tmp_path / "cut.pkl")
    assert not isinstance(info.value, UnsafeFileError)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- dancegen data check (AIST++)
def test_legit_aist_folder_loads(tmp_path: Path) -> None:
    from dancegen.data import load_aist

    data = load_aist(make_aist(tmp_path / "aist", {AIST_NAME: aist_motion()}), "all")
    assert [s.id for s in data] == [AIST_NAME]
    assert data[0].motion.shape == (120, 319)  # 240 frames at 60 FPS → 120 at 30 FPS, song of 4 s


def test_cli_data_check_refuses_malicious_aist_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    evil = {**aist_motion(), "smpl_loss": payloads(marker)["os.system"]}
    root = make_aist(tmp_path / "aist", {AIST_NAME: aist_motion(), "gBR_sBM_cAll_d05_mBR0_ch02": evil})
    proc = dancegen("data", "check", root, "--json")
    assert_one_line_error(proc, "gBR_sBM_cAll_d05_mBR0_ch02.pkl", "refused to unpickle posix.system")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


# --------------------------------------------------------------------------- dancegen evaluate --motions
def test_cli_evaluate_motions_refuses_malicious_pickle(tmp_path: Path) -> None:
    from dancegen.data import load_finedance
    from dancegen.data.synth import build
    from dancegen.export.edge_pkl import edge_dict

    data = tmp_path / "data"
    build(data, songs_per_genre=1, seconds=4, genres=["Breaking", "Jazz"])
    song = load_finedance(data, split="test")[0]
    marker = tmp_path / "marker"
    motions = tmp_path / "motions"
    motions.mkdir()
    evil = {**edge_dict(song.motion), "note": payloads(marker)["builtins.eval"]}
    (motions / f"test_{song.id}.pkl").write_bytes(pickle.dumps(evil, protocol=4))
    proc = dancegen("evaluate", "--motions", motions, "--data", data, "--protocol", "lodge", "--cache-dir",
                    tmp_path / "cache", "--json")
    assert_one_line_error(proc, f"test_{song.id}.pkl", "refused to unpickle builtins.eval")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


# --------------------------------------------------------------------------- wav2clip weights
def test_wav2clip_reads_state_dicts_and_refuses_pickled_objects(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from dancegen.features.wav2clip import Wav2CLIPEncoder
    from dancegen.features.wav2clip_model import Wav2CLIPAudioEncoder

    state = Wav2CLIPAudioEncoder().state_dict()
    torch.save(state, tmp_path / "Wav2CLIP.pt")  # the released file is a plain state dict
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "Wav2CLIP.safetensors"))
    for name in ("Wav2CLIP.pt", "Wav2CLIP.safetensors"):
        assert Wav2CLIPEncoder(tmp_path / name, device="cpu").weights_id["random"] is False
    marker = tmp_path / "marker"
    torch.save({"state_dict": state, "hyper_parameters": payloads(marker)["os.system"]}, tmp_path / "lightning.pt")
    with pytest.raises(UnsafeFileError, match=r"lightning\.pt holds more than tensors \(posix\.system\).*safetensors"):
        Wav2CLIPEncoder(tmp_path / "lightning.pt", device="cpu")
    assert not marker.exists()


def copy_checkpoint(dest: Path, **config: Any) -> Path:
    """The bundled checkpoint copied to ``dest`` with top-level config keys replaced by ``config``."""
    shutil.copytree(BUNDLED, dest)
    cfg = json.loads((dest / "config.json").read_text())
    (dest / "config.json").write_text(json.dumps({**cfg, **config}))
    return dest


def test_checkpoint_cannot_name_wav2clip_weights(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    torch.save({"hyper_parameters": payloads(marker)["os.system"]}, tmp_path / "evil.pt")
    cfg = json.loads((BUNDLED / "config.json").read_text())
    ckpt = copy_checkpoint(tmp_path / "ckpt", train={**cfg["train"], "encoder_options": {"weights": str(
        tmp_path / "evil.pt")}}, music_encoder={**cfg["music_encoder"], "spec": "wav2clip"})
    write_song(tmp_path / "song.wav")
    env = {**ENV, "DANCEGEN_CACHE": str(tmp_path / "empty-cache")}
    env.pop("DANCEGEN_WAV2CLIP_WEIGHTS", None)
    proc = subprocess.run([sys.executable, "-m", "dancegen", "generate", str(tmp_path / "song.wav"), "--genre", "Jazz",
                           "--checkpoint", str(ckpt), "--out", str(tmp_path / "out")], env=env, capture_output=True,
                          text=True, timeout=180)
    # the config's path is ignored (said on stderr); the user's channels (option, env, cache) have no weights
    assert "ignoring its music-encoder option weights=" in proc.stderr
    assert_one_line_error(proc, "wav2clip")
    assert not marker.exists()


def test_checkpoint_encoder_options_drop_user_files(caplog: pytest.LogCaptureFixture) -> None:
    from dancegen.checkpoint.paths import checkpoint_encoder_options

    got = checkpoint_encoder_options(BUNDLED, {"weights": "/etc/passwd", "features_dir": "/", "norm": "window",
                                               "model": "laion/clap-htsat-unfused"})
    assert got == {"norm": "window", "model": "laion/clap-htsat-unfused"}  # a hub id is not a path
    assert "features_dir" in caplog.text
    with pytest.raises(UnsafeFileError, match="music encoder option model '/etc'"):
        checkpoint_encoder_options(BUNDLED, {"model": "/etc"})


# --------------------------------------------------------------------------- paths inside a checkpoint
def with_head(tmp_path: Path, head: str | None) -> Path:
    cfg = json.loads((BUNDLED / "config.json").read_text())
    ctrl = cfg["genre_controller"]
    return copy_checkpoint(tmp_path / "ckpt", genre_controller={**ctrl, "config": {**ctrl["config"], "head": head}})


def test_genre_head_inside_checkpoint_loads(tmp_path: Path) -> None:
    from dancegen.checkpoint import HEAD_FILE
    from dancegen.genre.controllers import SHIPPED_HEAD
    from dancegen.pipeline import DancePipeline

    ckpt = with_head(tmp_path, HEAD_FILE)
    shutil.copy(BUNDLED.parent / SHIPPED_HEAD, ckpt / HEAD_FILE)
    pipe = DancePipeline.from_checkpoint(ckpt)
    assert pipe.genre_controller.head_path == str((ckpt / HEAD_FILE).resolve())


@pytest.mark.parametrize("case", ["absolute", "dotdot", "symlink", "home"])
def test_genre_head_outside_checkpoint_is_refused(tmp_path: Path, case: str) -> None:
    from dancegen.pipeline import DancePipeline

    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"not read")
    head = {"absolute": "/etc/passwd", "dotdot": "../outside.safetensors", "symlink": "head.safetensors",
            "home": "~/head.safetensors"}[case]
    ckpt = with_head(tmp_path, head)
    if case == "symlink":
        (ckpt / "head.safetensors").symlink_to(outside)
    with pytest.raises(UnsafeFileError, match="genre head file") as info:
        DancePipeline.from_checkpoint(ckpt)
    assert "\n" not in str(info.value)


def test_cli_genre_head_system_file_is_refused(tmp_path: Path) -> None:
    ckpt = with_head(tmp_path, "/etc/passwd")
    write_song(tmp_path / "song.wav")
    proc = dancegen("generate", tmp_path / "song.wav", "--genre", "Jazz", "--checkpoint", ckpt, "--out",
                    tmp_path / "out")
    assert_one_line_error(proc, "genre head file '/etc/passwd'", "refused")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_part_file_symlinked_out_is_refused(tmp_path: Path) -> None:
    from dancegen.pipeline import DancePipeline

    ckpt = copy_checkpoint(tmp_path / "ckpt")
    (ckpt / "normalizer.safetensors").rename(tmp_path / "normalizer.safetensors")
    (ckpt / "normalizer.safetensors").symlink_to(tmp_path / "normalizer.safetensors")
    with pytest.raises(UnsafeFileError, match=r"checkpoint part 'normalizer\.safetensors' leads outside"):
        DancePipeline.from_checkpoint(ckpt)


def test_text_encoder_weights_outside_checkpoint_are_refused() -> None:
    from dancegen.checkpoint.paths import checkpoint_controller_config

    cfg = {"name": "text", "text_encoder": {"name": "clip", "weights": "/home/someone/clip"}, "head": None}
    with pytest.raises(UnsafeFileError, match="text encoder weights '/home/someone/clip'"):
        checkpoint_controller_config(BUNDLED, cfg)
    hub = {**cfg, "text_encoder": {"name": "clip", "weights": "openai/clip-vit-base-patch32"}}
    assert checkpoint_controller_config(BUNDLED, hub) == hub


def make_run(tmp_path: Path, pointer: str) -> Path:
    """A run folder whose ``latest`` says ``pointer``; a valid checkpoint lies at ``checkpoints/step_0000001``
    and, outside the run, at ``elsewhere``."""
    run = tmp_path / "run"
    copy_checkpoint(run / "checkpoints" / "step_0000001")
    copy_checkpoint(tmp_path / "elsewhere")
    (run / "latest").write_text(pointer + "\n")
    return run


def test_latest_pointer_inside_run_loads(tmp_path: Path) -> None:
    from dancegen.checkpoint import latest_checkpoint

    run = make_run(tmp_path, "checkpoints/step_0000001")
    assert latest_checkpoint(run) == (run / "checkpoints" / "step_0000001").resolve()


@pytest.mark.parametrize("pointer", ["../elsewhere", "/etc", "checkpoints/../../elsewhere", "~", "a/b/c",
                                     "checkpoints/link"])
def test_latest_pointer_leaving_run_is_refused(tmp_path: Path, pointer: str) -> None:
    from dancegen.checkpoint import latest_checkpoint

    run = make_run(tmp_path, pointer)
    (run / "checkpoints" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeFileError) as info:
        latest_checkpoint(run)
    assert "\n" not in str(info.value)


def test_cli_latest_pointer_to_elsewhere_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path, "../elsewhere")
    write_song(tmp_path / "song.wav")
    proc = dancegen("generate", tmp_path / "song.wav", "--genre", "Jazz", "--checkpoint", run, "--out", tmp_path / "o")
    assert_one_line_error(proc, "'../elsewhere'", "may only name a checkpoint folder inside")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_resume_settings_name_no_outside_files(tmp_path: Path) -> None:
    from dancegen.checkpoint import HEAD_FILE
    from dancegen.train.checkpoint_paths import checkpoint_train_settings

    ckpt = copy_checkpoint(tmp_path / "ckpt")
    train = {"encoder_options": {"weights": "/tmp/evil.pt", "norm": "song"}, "skeleton": "/tmp/smplx",
             "controller_options": {"head": "/tmp/evil.safetensors"}, "steps": 3}
    got = checkpoint_train_settings(ckpt, train)
    assert got["encoder_options"] == {"norm": "song"}
    assert got["controller_options"] == {"head": str((ckpt / HEAD_FILE).resolve())}  # the checkpoint's own copy
    assert "skeleton" not in got
    assert got["steps"] == 3


def test_training_copies_the_genre_head_into_the_checkpoint(tmp_path: Path) -> None:
    from dancegen.checkpoint import HEAD_FILE
    from dancegen.data.synth import build
    from dancegen.genre.controllers import SHIPPED_HEAD
    from dancegen.pipeline import DancePipeline
    from dancegen.train import TrainConfig, Trainer

    build(tmp_path / "synth", songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz"])
    head = tmp_path / "my_head.safetensors"
    shutil.copy(BUNDLED.parent / SHIPPED_HEAD, head)
    cfg = TrainConfig.from_dict({
        "data": str(tmp_path / "synth"), "out": str(tmp_path / "run"), "music_encoders": "stft",
        "genre_controller": "text", "controller_options": {"head": str(head)}, "tasks": ["S", "J", "V", "F"],
        "preset": "tiny", "batch_size": 2, "steps": 1, "progress": False, "tensorboard": False,
        "checkpoint_every": 1000, "aggregator": "linear"})
    last = Trainer(cfg).fit()
    assert last is not None
    assert (last / HEAD_FILE).read_bytes() == head.read_bytes()
    assert json.loads((last / "config.json").read_text())["genre_controller"]["config"]["head"] == HEAD_FILE
    head.unlink()  # the checkpoint no longer depends on the file it was trained from
    assert DancePipeline.from_checkpoint(tmp_path / "run").genre_controller.head_path == str(
        (last / HEAD_FILE).resolve())


def test_cli_resume_asks_for_the_skeleton_again(tmp_path: Path) -> None:
    cfg = json.loads((BUNDLED / "config.json").read_text())
    run = tmp_path / "run"
    copy_checkpoint(run / "checkpoints" / "step_0000001", train={**cfg["train"], "skeleton": str(tmp_path / "evil")})
    (run / "latest").write_text("checkpoints/step_0000001\n")
    proc = dancegen("train", "--out", run, "--resume")
    assert_one_line_error(proc, f"--skeleton {tmp_path / 'evil'}; pass it again to resume")
    assert len(proc.stderr.strip().splitlines()) == 1
