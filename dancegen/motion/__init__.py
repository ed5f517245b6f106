"""Motion core: rotations, the 319-D layout, the SMPL-H/SMPL-X skeleton, forward kinematics, contacts, mirroring."""

from .contacts import FOOT_JOINTS, foot_contacts, mirror
from .convert import from_finedance, to_finedance
from .kinematics import forward_kinematics, forward_kinematics_matrices
from .layout import (
    BODY,
    CONTACTS,
    FINEDANCE_CHANNELS,
    GROUPS,
    HANDS,
    LEFT_HAND,
    NUM_CHANNELS,
    NUM_JOINTS,
    RIGHT_HAND,
    ROOT,
    ROTATIONS,
    channel_mask,
    joint_channels,
)
from .rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    axis_angle_to_rot6d,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_multiply,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_axis_angle,
    rot6d_to_matrix,
    slerp,
)
from .skeleton import JOINT_NAMES_52, JOINT_NAMES_55, PARENTS_52, PARENTS_55, SMPLH_TO_SMPLX, Skeleton

__all__ = [
    "BODY", "CONTACTS", "FINEDANCE_CHANNELS", "FOOT_JOINTS", "GROUPS", "HANDS", "JOINT_NAMES_52", "JOINT_NAMES_55",
    "LEFT_HAND", "NUM_CHANNELS", "NUM_JOINTS", "PARENTS_52", "PARENTS_55", "RIGHT_HAND", "ROOT", "ROTATIONS",
    "SMPLH_TO_SMPLX", "Skeleton", "axis_angle_to_matrix", "axis_angle_to_quaternion", "axis_angle_to_rot6d",
    "channel_mask", "foot_contacts", "forward_kinematics", "forward_kinematics_matrices", "from_finedance",
    "joint_channels", "matrix_to_axis_angle", "matrix_to_quaternion", "matrix_to_rot6d", "mirror",
    "quaternion_multiply", "quaternion_to_axis_angle", "quaternion_to_matrix", "rot6d_to_axis_angle",
    "rot6d_to_matrix", "slerp", "to_finedance",
]
