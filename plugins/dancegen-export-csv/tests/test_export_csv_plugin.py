"""The example exporter plugin: its entry point is declared, and registered (at run time when it is not installed)
it exports a real dance to joints.csv that reads back as dancegen's forward kinematics."""

from __future__ import annotations

import csv
import importlib
import importlib.metadata as md
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import dancegen.plugins as dp
from dancegen.errors import DancegenError
from dancegen.export import export, format_names, get_exporter, resolve_formats
from dancegen.motion import JOINT_NAMES_55, Skeleton, axis_angle_to_rot6d, forward_kinematics

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def csv_plugin():
    """The plugin module, registered with dancegen: through its entry point when installed (make setup), else at
    run time with ``dancegen.plugins.register_plugin`` (nothing is installed by the test)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = importlib.import_module("dancegen_export_csv")
    pm = dp.PLUGINS.get()
    added = not pm.is_registered(module)
    if added:
        dp.register_plugin(module, name="test-export-csv")
    try:
        yield module
    finally:
        if added:
            dp.unregister_plugin(module)


def dance(frames: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    aa = rng.normal(0.0, 0.5, (52, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (52, 3)) * t)  # (T, 52, 3)
    motion = np.zeros((frames, 319), dtype=np.float32)
    motion[:, 7:] = axis_angle_to_rot6d(torch.tensor(aa, dtype=torch.float32)).reshape(frames, -1).numpy()
    motion[:, 4:7] = [0.1, 1.2, -0.3] + 0.2 * np.sin(t[:, 0])
    return motion


def test_entry_point_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "dancegen-export-csv"
    assert project["entry-points"]["dancegen"] == {"csv": "dancegen_export_csv"}
    installed = [ep for ep in md.entry_points(group="dancegen") if ep.name == "csv"]
    if installed:  # after `make setup`: discovered with its distribution as origin
        assert installed[0].value == "dancegen_export_csv"
        assert installed[0].dist.name == "dancegen-export-csv"


def test_export_csv_to_disk_and_read_back(csv_plugin, tmp_path):
    assert "csv" in format_names()
    assert format_names()[:5] == ["npz", "bvh", "html", "mp4", "edge_pkl"]  # built-ins first, plugins after
    assert resolve_formats("npz, JOINTS_CSV") == ["npz", "csv"]
    assert get_exporter("csv") is csv_plugin.CsvExporter
    motion = dance()
    skeleton = Skeleton.default()
    paths = export(motion, None, None, tmp_path / "out", formats="csv,npz", skeleton=skeleton)
    assert paths == {"csv": tmp_path / "out" / "joints.csv", "npz": tmp_path / "out" / "motion.npz"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["joints.csv", "motion.npz"]  # no temp files

    with open(paths["csv"], encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ["frame", "time", "pelvis_x", "pelvis_y", "pelvis_z"]
    assert len(rows[0]) == 2 + 3 * len(JOINT_NAMES_55)
    assert len(rows) == 1 + len(motion)
    assert rows[31][:2] == ["30", "1.000000"]

    joints = csv_plugin.read_joints_csv(paths["csv"])
    with torch.no_grad():
        expected = forward_kinematics(torch.from_numpy(motion), skeleton).numpy()
    assert joints.shape == (len(motion), 55, 3)
    np.testing.assert_allclose(joints, expected, atol=1e-5)  # 6 decimals in metres, float32 FK
    pelvis = motion[:, 4:7] + skeleton.rest_joints[0].numpy()  # SMPL-X convention: J[0] + root position
    np.testing.assert_allclose(joints[:, 0], pelvis, atol=1e-5)


def test_bad_motion_and_foreign_file(csv_plugin, tmp_path):
    with pytest.raises(DancegenError, match=r"csv: motion must have shape \(T, 319\)"):
        csv_plugin.write_joints_csv(tmp_path / "j.csv", np.zeros((5, 318), dtype=np.float32))
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DancegenError, match=r"joints\.csv header"):
        csv_plugin.read_joints_csv(tmp_path / "other.csv")


def test_unregistered_format_is_unknown():
    if any(ep.name == "csv" for ep in md.entry_points(group="dancegen")):
        pytest.skip("the plugin is installed: csv is registered through its entry point")
    with pytest.raises(DancegenError, match=r"unknown export format 'csv'; valid formats: npz, bvh, html, mp4"):
        resolve_formats("csv")
