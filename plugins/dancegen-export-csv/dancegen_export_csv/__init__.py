"""dancegen-export-csv: an example dancegen plugin adding the ``csv`` export format.

``joints.csv`` holds the 55 SMPL-X joint positions of every frame (dancegen's forward kinematics with the export's
rest skeleton; metres, y up, the dancer facing +z), one row per 30-FPS frame::

    frame,time,pelvis_x,pelvis_y,pelvis_z,left_hip_x,...,right_thumb3_z
    0,0.000000,0.001234,0.921877,-0.012345,...

Spreadsheets, pandas (``pd.read_csv``), R or any plotting tool read it; :func:`read_joints_csv` reads it back as a
``(T, 55, 3)`` array. Installing this distribution registers the format through the ``dancegen`` entry-point
group: ``dancegen generate song.wav --genre Jazz --format npz,csv`` or ``export(..., formats=("csv",))``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

import dancegen.plugins
from dancegen.atomic import write_atomic
from dancegen.errors import DancegenError
from dancegen.export import Exporter
from dancegen.motion import JOINT_NAMES_55, NUM_CHANNELS, Skeleton
from dancegen.motion.kinematics import joints_numpy

__version__ = "0.1.0"
FPS = 30
AXES = ("x", "y", "z")


def header() -> list[str]:
    """The CSV header: ``frame``, ``time`` (seconds), then ``<joint>_x``, ``<joint>_y``, ``<joint>_z`` for the 55
    SMPL-X joints in SMPL-X order."""
    return ["frame", "time", *(f"{joint}_{axis}" for joint in JOINT_NAMES_55 for axis in AXES)]


def write_joints_csv(path: str | Path, motion: np.ndarray | torch.Tensor, *, skeleton: Skeleton | None = None,
                     precision: int = 6) -> Path:
    """Write the joint positions of a (T, 319) dance to ``path`` as CSV (atomically) and return the path.

    ``precision``: decimals of the positions in metres (6 = one micrometre)."""
    arr = motion.detach().cpu().numpy() if isinstance(motion, torch.Tensor) else np.asarray(motion)
    if arr.ndim != 2 or arr.shape[1] != NUM_CHANNELS or arr.shape[0] < 1:
        raise DancegenError(f"csv: motion must have shape (T, {NUM_CHANNELS}) with T ≥ 1, got {arr.shape}")
    if not 0 <= int(precision) <= 9:
        raise DancegenError(f"csv: precision must be between 0 and 9 decimals, got {precision}")
    joints = joints_numpy(torch.from_numpy(arr.astype(np.float32)), skeleton or Skeleton.default())  # (T, 55, 3)
    frames = np.arange(len(joints))
    table = np.concatenate([frames[:, None], frames[:, None] / FPS, joints.reshape(len(joints), -1)], axis=1)
    fmt = ["%d", "%.6f", *[f"%.{int(precision)}f"] * (table.shape[1] - 2)]

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            np.savetxt(f, table, fmt=fmt, delimiter=",", header=",".join(header()), comments="")

    return write_atomic(path, write)


def read_joints_csv(path: str | Path) -> np.ndarray:
    """Read a ``joints.csv`` back as (T, 55, 3) float64 joint positions (metres, y up); checks the header."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != header():
        raise DancegenError(f"csv: {path} does not start with the joints.csv header")
    values = np.array(rows[1:], dtype=np.float64).reshape(-1, len(rows[0]))
    if not np.array_equal(values[:, 0], np.arange(len(values))):
        raise DancegenError(f"csv: {path} has frames out of order or missing")
    return values[:, 2:].reshape(len(values), len(JOINT_NAMES_55), 3)


class CsvExporter(Exporter):
    """Joint positions per frame as CSV (55 SMPL-X joints, metres, y up): spreadsheets, pandas, plotting tools."""

    name: ClassVar[str] = "csv"
    aliases: ClassVar[tuple[str, ...]] = ("joints_csv",)
    filename: ClassVar[str] = "joints.csv"
    opens_with: ClassVar[str] = "spreadsheets, pandas, R"

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        return write_joints_csv(self.path(out_folder), motion, skeleton=skeleton)


@dancegen.plugins.hookimpl
def dancegen_register_exporters(register: Callable[..., None]) -> None:
    register(CsvExporter)
