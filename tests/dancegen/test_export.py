"""Exports: export() dispatch and atomic writes, motion.npz (SMPL-X/AMASS), dance.bvh (writer + reader), edge.pkl."""

from __future__ import annotations

import pickle
from typing import ClassVar

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

import dancegen.plugins as dp
from dancegen.atomic import write_atomic
from dancegen.errors import DancegenError
from dancegen.export import (
    FORMATS,
    Exporter,
    check_formats,
    edge_dict,
    export,
    format_names,
    formats_help,
    get_exporter,
    load_npz,
    read_bvh,
    resolve_formats,
    write_bvh,
    write_edge_pkl,
    write_npz,
)
from dancegen.export._common import atomic_path
from dancegen.export.bvh import euler_to_matrix, matrix_to_euler_zyx
from dancegen.metrics.joints import smplx55_to_smpl24
from dancegen.motion import (
    JOINT_NAMES_52,
    SMPLH_TO_SMPLX,
    Skeleton,
    axis_angle_to_matrix,
    axis_angle_to_rot6d,
    forward_kinematics,
    forward_kinematics_matrices,
)

T = 45


def make_dance(frames: int = T, seed: int = 0, noise: float = 0.0) -> np.ndarray:
    """A smooth procedural dance: every joint sways on its own sines, the root walks a small circle."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 30.0
    amp = rng.normal(0.0, 0.6, (52, 3))
    freq = rng.uniform(0.3, 1.5, (52, 3))
    phase = rng.uniform(0, 2 * np.pi, (52, 3))
    aa = amp * np.sin(2 * np.pi * freq * t[:, :, None] + phase)  # (T, 52, 3)
    aa[:, 0, 1] += 2.5 * t[:, 0]  # large turning of the root
    motion = np.zeros((frames, 319), dtype=np.float32)
    motion[:, 7:] = axis_angle_to_rot6d(torch.tensor(aa, dtype=torch.float32)).reshape(frames, -1).numpy()
    if noise:
        motion[:, 7:] += rng.normal(0.0, noise, (frames, 312)).astype(np.float32)  # not exactly orthonormal rot6d
    motion[:, 4] = 0.4 * np.sin(t[:, 0])
    motion[:, 5] = 1.25 + 0.05 * np.sin(6 * t[:, 0])
    motion[:, 6] = 0.4 * np.cos(t[:, 0])
    motion[:, :4] = (rng.random((frames, 4)) > 0.5).astype(np.float32)
    return motion


def fk(motion: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    with torch.no_grad():
        return forward_kinematics(torch.from_numpy(motion), skeleton or Skeleton.default()).numpy()


# --------------------------------------------------------------------------------------------------- export()


def test_export_writes_every_format_and_leaves_no_temp_files(tmp_path):
    motion = make_dance()
    paths = export(motion, None, None, tmp_path / "out", formats=("npz", "bvh", "edge_pkl", "html"),
                   genre="Jazz", text="This is a Jazz type of music.", checkpoint_id="ckpt-1")
    assert {k: p.name for k, p in paths.items()} == {k: FORMATS[k] for k in ("npz", "bvh", "edge_pkl", "html")}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FORMATS[k] for k in paths)
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_export_accepts_a_comma_separated_string_and_aliases(tmp_path):
    paths = export(make_dance(10), None, None, tmp_path, formats="npz, pkl,npz")
    assert sorted(paths) == ["edge_pkl", "npz"]


def test_export_unknown_format_lists_valid_ones(tmp_path):
    with pytest.raises(DancegenError, match=r"unknown export format 'fbx'; valid formats: npz, bvh, html, mp4"):
        export(make_dance(), None, None, tmp_path, formats=("npz", "fbx"))
    assert list(tmp_path.iterdir()) == []  # nothing written before the check


# ------------------------------------------------------------------------------------------ exporter registry
class NpyJoints(Exporter):
    """Joint positions as one .npy file (a test plugin)."""

    name: ClassVar[str] = "joints_npy"
    aliases: ClassVar[tuple[str, ...]] = ("jn",)
    filename: ClassVar[str] = "joints.npy"
    needs: ClassVar[tuple[str, ...]] = ("a-tool",)
    checked: ClassVar[list[str]] = []

    def check(self) -> None:
        NpyJoints.checked.append("yes")

    def write(self, motion, audio, sr, out_folder, skeleton, *, genre="", text="", checkpoint_id="", **extra):
        assert motion.dtype == np.float32
        assert motion.shape[1] == 319
        assert text == "hello"
        assert isinstance(skeleton, Skeleton)

        def save(tmp):
            with open(tmp, "wb") as f:
                np.save(f, fk(motion, skeleton))

        return write_atomic(self.path(out_folder), save)


class SameFile(NpyJoints):
    """Writes the npz exporter's file (refused)."""

    name: ClassVar[str] = "other"
    aliases: ClassVar[tuple[str, ...]] = ()
    filename: ClassVar[str] = "motion.npz"


class TakenAlias(NpyJoints):
    """Takes the alias pkl (refused)."""

    name: ClassVar[str] = "other2"
    aliases: ClassVar[tuple[str, ...]] = ("pkl",)
    filename: ClassVar[str] = "other.bin"


class ExporterPlugin:
    def __init__(self, *classes):
        self.classes = classes

    @dp.hookimpl
    def dancegen_register_exporters(self, register):
        for cls in self.classes:
            register(cls)


def test_builtin_exporters_are_registered_in_order():
    assert format_names()[:5] == ["npz", "bvh", "html", "mp4", "edge_pkl"]
    assert {k: FORMATS[k] for k in format_names()[:5]} == {
        "npz": "motion.npz", "bvh": "dance.bvh", "html": "dance.html", "mp4": "dance.mp4", "edge_pkl": "edge.pkl"}
    assert resolve_formats("NPZ, video ,edge,pkl") == ["npz", "mp4", "edge_pkl"]
    assert get_exporter("pkl").name == "edge_pkl"
    assert get_exporter("mp4").needs == ("ffmpeg", "matplotlib")
    with pytest.raises(DancegenError, match=r"^no export format given; valid formats: npz, bvh"):
        resolve_formats(" , ")
    assert formats_help().startswith("npz, bvh, html, mp4 (video), edge_pkl (pkl, edge), or an exporter plugin")


def test_runtime_exporter_plugin_exports_and_is_checked(tmp_path):
    plugin = ExporterPlugin(NpyJoints)
    dp.register_plugin(plugin, name="test-npy-joints")
    try:
        assert format_names()[-1] == "joints_npy"
        NpyJoints.checked.clear()
        assert check_formats("npz,jn") == ["npz", "joints_npy"]
        assert NpyJoints.checked == ["yes"]
        motion = make_dance(12)
        paths = export(motion, None, None, tmp_path, formats="jn,npz", text="hello")
        assert paths == {"joints_npy": tmp_path / "joints.npy", "npz": tmp_path / "motion.npz"}
        np.testing.assert_allclose(np.load(paths["joints_npy"]), fk(motion), atol=1e-6)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["joints.npy", "motion.npz"]
    finally:
        dp.unregister_plugin(plugin)
    known = ", ".join(format_names())  # the built-ins, then installed plugins' formats (e.g. dancegen-export-csv)
    with pytest.raises(DancegenError, match=rf"unknown export format 'jn'; valid formats: {known} \(aliases: video, "
                                            r"pkl, edge[^)]*\)$"):
        resolve_formats("jn")


@pytest.mark.parametrize(("cls", "match"), [(SameFile, "writes motion.npz, like exporter 'npz'"),
                                            (TakenAlias, "format name 'pkl' is already taken by exporter 'edge_pkl'")])
def test_exporter_clashes_are_one_line_errors(cls, match):
    plugin = ExporterPlugin(cls)
    dp.register_plugin(plugin, name="test-clash")
    try:
        with pytest.raises(DancegenError, match=match):
            format_names()
    finally:
        dp.unregister_plugin(plugin)
    assert "other" not in format_names()


@pytest.mark.parametrize(
    ("motion", "audio", "sr", "match"),
    [
        (np.zeros((10, 315)), None, None, r"shape \(T, 319\)"),
        (np.full((10, 319), np.nan), None, None, "NaN"),
        (np.zeros((10, 319)), np.zeros(100), None, "sample rate"),
        (np.zeros((10, 319)), np.zeros((100, 5)), 15360, "mono"),
    ],
)
def test_export_rejects_bad_inputs(tmp_path, motion, audio, sr, match):
    with pytest.raises(DancegenError, match=match):
        export(motion, audio, sr, tmp_path, formats=("npz",))


def test_atomic_path_removes_the_temporary_file_on_failure(tmp_path):
    target = tmp_path / "motion.npz"
    target.write_bytes(b"old")
    def crash_while_writing() -> None:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half-written")
            raise RuntimeError("crash in the middle of a write")

    with pytest.raises(RuntimeError, match="crash"):
        crash_while_writing()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["motion.npz"]


# ------------------------------------------------------------------------------------------------- motion.npz


def test_npz_has_the_keys_the_smplx_blender_addon_reads(tmp_path):
    motion = make_dance()
    path = write_npz(tmp_path / "motion.npz", motion, genre="Popping", text="pop", checkpoint_id="abc")
    with np.load(path) as data:  # the add-on loads without allow_pickle
        assert {"poses", "trans", "betas", "gender", "mocap_framerate", "mocap_frame_rate"} <= set(data.files)
        assert data["poses"].shape == (T, 165)
        assert data["trans"].shape == (T, 3)
        assert data["betas"].shape == (10,)
        assert not data["betas"].any()
        assert str(data["gender"]) == "neutral"
        assert int(data["mocap_frame_rate"]) == 30
        assert int(data["mocap_framerate"]) == 30
        poses = data["poses"].reshape(T, 55, 3)
        assert not poses[:, 22:25].any()  # jaw and eyes
        np.testing.assert_array_equal(data["trans"], motion[:, 4:7])
        assert str(data["genre"]) == "Popping"
        assert str(data["checkpoint_id"]) == "abc"
        assert str(data["skeleton_source"]) == Skeleton.default().source


def test_npz_poses_and_trans_reproduce_the_forward_kinematics(tmp_path):
    """SMPL-X semantics: local axis-angle per joint, pelvis at J[0] + trans."""
    motion = make_dance(noise=0.05)
    path = write_npz(tmp_path / "motion.npz", motion)
    with np.load(path) as data:
        poses, trans = data["poses"].reshape(T, 55, 3), data["trans"]
    rot = axis_angle_to_matrix(torch.from_numpy(poses[:, list(SMPLH_TO_SMPLX)]).double())
    joints = forward_kinematics_matrices(rot, torch.from_numpy(trans).double(), Skeleton.default()).numpy()
    np.testing.assert_allclose(joints, fk(motion), atol=1e-4)


def test_load_npz_round_trips_exactly(tmp_path):
    motion = make_dance()
    path = write_npz(tmp_path / "motion.npz", motion, genre="Jazz", text="a text", checkpoint_id="c1")
    loaded, meta = load_npz(path)
    np.testing.assert_array_equal(loaded, motion)
    assert meta["genre"] == "Jazz"
    assert meta["text"] == "a text"
    assert meta["checkpoint_id"] == "c1"
    assert meta["fps"] == 30.0
    assert meta["gender"] == "neutral"


def test_load_npz_converts_plain_amass_files(tmp_path):
    motion = make_dance()
    path = write_npz(tmp_path / "motion.npz", motion)
    with np.load(path) as data:
        plain = {k: data[k] for k in ("poses", "trans", "betas", "gender", "mocap_frame_rate")}
    np.savez(tmp_path / "amass.npz", **plain)
    loaded, meta = load_npz(tmp_path / "amass.npz")
    assert loaded.shape == (T, 319)
    assert meta["fps"] == 30.0
    np.testing.assert_allclose(fk(loaded), fk(motion), atol=1e-4)
    smplh = dict(plain, poses=plain["poses"].reshape(T, 55, 3)[:, list(SMPLH_TO_SMPLX)].reshape(T, 156))
    np.savez(tmp_path / "smplh.npz", **smplh)
    np.testing.assert_allclose(fk(load_npz(tmp_path / "smplh.npz")[0]), fk(motion), atol=1e-4)


def test_load_npz_errors(tmp_path):
    with pytest.raises(DancegenError, match="not found"):
        load_npz(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(DancegenError, match="could not read"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "empty.npz", x=np.zeros(3))
    with pytest.raises(DancegenError, match="neither 'motion_319' nor AMASS"):
        load_npz(tmp_path / "empty.npz")


# -------------------------------------------------------------------------------------------------- dance.bvh


def bvh_forward_kinematics(path) -> tuple[list[str], np.ndarray]:
    """An independent BVH FK (scipy Euler angles): world positions (T, J, 3) in the file's units."""
    bvh = read_bvh(path)
    frames, col = bvh.frames, 0
    n = len(bvh.names)
    glob = np.zeros((frames.shape[0], n, 3, 3))
    pos = np.zeros((frames.shape[0], n, 3))
    for j in range(n):
        chans = bvh.channels[j]
        values = frames[:, col : col + len(chans)]
        col += len(chans)
        translation = np.zeros((frames.shape[0], 3))
        rot_axes, rot_values = "", []
        for k, name in enumerate(chans):
            if name.endswith("position"):
                translation[:, "XYZ".index(name[0])] = values[:, k]
            else:
                rot_axes += name[0]
                rot_values.append(values[:, k])
        local = Rotation.from_euler(rot_axes, np.stack(rot_values, axis=1), degrees=True).as_matrix()
        p = bvh.parents[j]
        if p < 0:
            glob[:, j] = local
            pos[:, j] = bvh.offsets[j] + translation
        else:
            glob[:, j] = glob[:, p] @ local
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", glob[:, p], bvh.offsets[j])
    return bvh.names, pos


@pytest.mark.parametrize(("units", "scale"), [("cm", 100.0), ("m", 1.0)])
def test_bvh_reimport_matches_our_forward_kinematics(tmp_path, units, scale):
    motion = make_dance(noise=0.05)
    path = write_bvh(tmp_path / "dance.bvh", motion, units=units)
    names, pos = bvh_forward_kinematics(path)
    assert sorted(names) == sorted(JOINT_NAMES_52)
    expected = fk(motion)[:, [SMPLH_TO_SMPLX[JOINT_NAMES_52.index(n)] for n in names]]
    np.testing.assert_allclose(pos / scale, expected, atol=1e-4)


def test_bvh_file_layout(tmp_path):
    path = write_bvh(tmp_path / "dance.bvh", make_dance())
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis")
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" in text
    assert f"Frames: {T}\nFrame Time: 0.0333333\n" in text
    bvh = read_bvh(path)
    assert bvh.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
    assert all(c == ("Zrotation", "Yrotation", "Xrotation") for c in bvh.channels[1:])
    assert bvh.frames.shape == (T, 6 + 51 * 3)
    assert abs(bvh.frame_time - 1 / 30) < 1e-6
    assert text.count("End Site") == 13  # head, two feet, 2 × 5 finger tips
    rest = Skeleton.default().rest_joints.numpy()
    knee = bvh.names.index("left_knee")
    np.testing.assert_allclose(bvh.offsets[knee], 100 * (rest[4] - rest[1]), atol=1e-4)


def test_bvh_rejects_bad_units_and_malformed_files(tmp_path):
    with pytest.raises(DancegenError, match="unknown BVH units 'mm'"):
        write_bvh(tmp_path / "a.bvh", make_dance(), units="mm")
    path = write_bvh(tmp_path / "dance.bvh", make_dance())
    truncated = tmp_path / "truncated.bvh"
    truncated.write_text(path.read_text()[:-200])
    with pytest.raises(DancegenError, match="frames"):
        read_bvh(truncated)
    (tmp_path / "junk.bvh").write_text("hello world")
    with pytest.raises(DancegenError, match="not a BVH file"):
        read_bvh(tmp_path / "junk.bvh")


def test_euler_zyx_round_trip_including_gimbal_lock():
    rng = np.random.default_rng(1)
    mats = [Rotation.random(200, random_state=2).as_matrix()]
    for y in (np.pi / 2, -np.pi / 2):  # gimbal lock: only x ∓ z is defined
        angles = np.stack((rng.uniform(-np.pi, np.pi, 20), np.full(20, y), rng.uniform(-np.pi, np.pi, 20)), axis=1)
        mats.append(Rotation.from_euler("ZYX", angles).as_matrix())
    mats.append(np.eye(3)[None])
    mats.append(np.diag([-1.0, -1.0, 1.0])[None])  # 180° about z
    mats.append(np.diag([1.0, -1.0, -1.0])[None])  # 180° about x
    mat = np.concatenate(mats)
    euler = matrix_to_euler_zyx(mat)
    assert np.isfinite(euler).all()
    assert np.all(np.abs(euler[:, 1]) <= np.pi / 2 + 1e-12)
    np.testing.assert_allclose(euler_to_matrix(euler, "ZYX"), mat, atol=1e-9)
    np.testing.assert_allclose(Rotation.from_euler("ZYX", euler).as_matrix(), mat, atol=1e-9)


# --------------------------------------------------------------------------------------------------- edge.pkl


def test_edge_pkl_matches_the_upstream_format(tmp_path):
    motion = make_dance()
    path = write_edge_pkl(tmp_path / "edge.pkl", motion)
    with open(path, "rb") as f:
        data = pickle.load(f)
    assert set(data) == {"smpl_poses", "smpl_trans", "full_pose"}
    assert data["smpl_poses"].shape == (T, 72)
    assert data["smpl_poses"].dtype == np.float32
    assert data["smpl_trans"].shape == (T, 3)
    assert data["full_pose"].shape == (T, 24, 3)
    joints = fk(motion)
    np.testing.assert_allclose(data["full_pose"], smplx55_to_smpl24(joints), atol=1e-6)
    np.testing.assert_allclose(data["smpl_trans"], joints[:, 0], atol=1e-6)
    assert not data["smpl_poses"].reshape(T, 24, 3)[:, 22:].any()


def test_edge_pkl_poses_drive_the_body_joints():
    """An independent SMPL-24 FK on smpl_poses (scipy rotvec), pelvis at smpl_trans, gives full_pose[:, :22]."""
    motion = make_dance()
    data = edge_dict(motion)
    rest = Skeleton.default().rest_joints.numpy().astype(np.float64)
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
    local = Rotation.from_rotvec(data["smpl_poses"].reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)
    glob = np.zeros((T, 22, 3, 3))
    pos = np.zeros((T, 22, 3))
    glob[:, 0], pos[:, 0] = local[:, 0], data["smpl_trans"]
    for j in range(1, 22):
        p = parents[j]
        glob[:, j] = glob[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + glob[:, p] @ (rest[j] - rest[p])
    np.testing.assert_allclose(pos, data["full_pose"][:, :22], atol=1e-4)


def test_edge_pkl_z_up_rotates_positions_and_root():
    motion = make_dance()
    y_up, z_up = edge_dict(motion), edge_dict(motion, up="z")
    np.testing.assert_allclose(z_up["full_pose"][..., 2], y_up["full_pose"][..., 1], atol=1e-6)
    np.testing.assert_allclose(z_up["full_pose"][..., 1], -y_up["full_pose"][..., 2], atol=1e-6)
    np.testing.assert_allclose(z_up["smpl_poses"][:, 3:], y_up["smpl_poses"][:, 3:])
    with pytest.raises(DancegenError, match="up must be"):
        edge_dict(motion, up="x")
