"""The 319-D per-frame motion layout ``[contacts 4 | root position 3 | 52 joints × rot6d 6]`` as named slices.

Contacts are ordered (left ankle, right ankle, left foot, right foot). Body channels ``[:139]`` = contacts, root and
joints 0–21; hands ``[139:319]``: left hand 139–228 (joints 22–36), right hand 229–318 (joints 37–51).

Channel groups for masks (editing, inpainting):

* ``body``: contacts, root position, joints 0–21 (= ``[:139]``).
* ``lower``: pelvis, hips, knees, ankles, feet (joints 0, 1, 2, 4, 5, 7, 8, 10, 11) + root position + contacts.
* ``upper``: spine1–3, neck, head, collars, shoulders, elbows, wrists (joints 3, 6, 9, 12–21); no root/contacts.
* ``left_hand`` / ``right_hand`` / ``hands``: finger joints 22–36 / 37–51 / both.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..errors import DancegenError
from .skeleton import JOINT_NAMES_52

#: Frames per second of every motion and of the per-frame music features (FineDance, AIST++ resampled, the model).
FPS = 30
#: Frames in one model window (4 s): training samples and the long-form sampler's windows.
WINDOW = 120
NUM_CHANNELS = 319
NUM_JOINTS = 52
FINEDANCE_CHANNELS = 315
#: Channels of the body expert (contacts, root, joints 0–21) and of the hand expert (joints 22–51).
BODY_CHANNELS = 139
HAND_CHANNELS = NUM_CHANNELS - BODY_CHANNELS

CONTACTS = slice(0, 4)
ROOT = slice(4, 7)
ROTATIONS = slice(7, 319)
BODY = slice(0, BODY_CHANNELS)
HANDS = slice(BODY_CHANNELS, NUM_CHANNELS)
LEFT_HAND = slice(139, 229)
RIGHT_HAND = slice(229, 319)

#: Joint indices (SMPL-H order) of each named group.
GROUPS: dict[str, tuple[int, ...]] = {
    "body": tuple(range(22)),
    "lower": (0, 1, 2, 4, 5, 7, 8, 10, 11),
    "upper": (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21),
    "left_hand": tuple(range(22, 37)),
    "right_hand": tuple(range(37, 52)),
    "hands": tuple(range(22, 52)),
}
#: Groups whose mask includes root position and contacts unless told otherwise.
_GROUPS_WITH_ROOT = ("body", "lower")


def joint_channels(joint: int | str) -> slice:
    """The 6 rot6d channels of a joint given by SMPL-H index or name."""
    j = _joint_index(joint)
    return slice(7 + 6 * j, 13 + 6 * j)


def _joint_index(joint: int | str) -> int:
    if isinstance(joint, str):
        if joint not in JOINT_NAMES_52:
            import difflib

            close = difflib.get_close_matches(joint, [*GROUPS, *JOINT_NAMES_52], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise DancegenError(f"unknown joint or group {joint!r}{hint}; groups: {', '.join(GROUPS)}; or one of the "
                                f"{len(JOINT_NAMES_52)} SMPL-H joint names ({JOINT_NAMES_52[0]} … "
                                f"{JOINT_NAMES_52[-1]}, listed in dancegen.motion.layout.JOINT_NAMES_52)")
        return JOINT_NAMES_52.index(joint)
    if not 0 <= int(joint) < NUM_JOINTS:
        raise DancegenError(f"joint index {joint} out of range 0..{NUM_JOINTS - 1}")
    return int(joint)


def channel_mask(
    joints_or_groups: Iterable[int | str] | str,
    include_root: bool | None = None,
    include_contacts: bool | None = None,
) -> torch.Tensor:
    """Boolean (319,) mask selecting the rot6d channels of joints (names/indices) and groups (see module doc).

    ``include_root`` / ``include_contacts`` default to True when the selection names ``body`` or ``lower`` and
    False otherwise.
    """
    items = [joints_or_groups] if isinstance(joints_or_groups, (str, int)) else list(joints_or_groups)
    mask = torch.zeros(NUM_CHANNELS, dtype=torch.bool)
    with_root = False
    for item in items:
        if isinstance(item, str) and item in GROUPS:
            members = GROUPS[item]
            with_root |= item in _GROUPS_WITH_ROOT
        else:
            members = (_joint_index(item),)
        for j in members:
            mask[joint_channels(j)] = True
    mask[ROOT] = with_root if include_root is None else include_root
    mask[CONTACTS] = with_root if include_contacts is None else include_contacts
    return mask
