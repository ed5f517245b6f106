"""The move library: each move maps (context, number of beats) to one keyframe per beat (see :mod:`.poses`)."""

from __future__ import annotations

from .moves_chinese import broad, dunhuang, fan, head_slide, peacock, sleeve, stamp, sweep, three_bends, wei_arms
from .moves_street import (
    downrock,
    freeze,
    groove,
    hits,
    jazz_arms,
    kick,
    lock,
    lyrical,
    point,
    pose_move,
    robot,
    sharp_arms,
    spin,
    step_touch,
    swing,
    sync_arms,
    toprock,
    turn,
    walk,
)
from .poses import Move

#: Move families by name (the names used in :class:`dancegen.data.synth.styles.DanceStyle`).
MOVES: dict[str, Move] = {
    "toprock": toprock, "downrock": downrock, "spin": spin, "freeze": freeze, "hits": hits, "robot": robot,
    "pose": pose_move, "point": point, "lock": lock, "kick": kick, "groove": groove, "step_touch": step_touch,
    "swing": swing, "walk": walk, "sharp_arms": sharp_arms, "jazz_arms": jazz_arms, "turn": turn,
    "peacock": peacock, "three_bends": three_bends, "wei_arms": wei_arms, "head_slide": head_slide,
    "stamp": stamp, "broad": broad, "sweep": sweep, "sleeve": sleeve, "dunhuang": dunhuang,
    "sync_arms": sync_arms, "lyrical": lyrical, "fan": fan,
}
