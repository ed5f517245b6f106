"""Street and mixed-style moves (Breaking, Popping, Locking, Hiphop, Urban, Jazz, Korean, Choreography)."""

from __future__ import annotations

import numpy as np

from .poses import (
    L_COLLAR,
    L_SHOULDER,
    PELVIS,
    Ctx,
    Key,
    arm,
    bounce,
    head,
    leg_add,
    other,
    spine,
    squat,
)


def toprock(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        bounce(c, p, k)
        s = "R" if (k // 2) % 2 == 0 else "L"
        if k % 2 == 0:  # cross step in front, arms open
            leg_add(p, s, flex=-c.style.step, abduct=-0.25, turn=-0.3)
            arm(p, "L", c.a(-0.2), c.a(0.3), 1.2)
            arm(p, "R", c.a(-0.2), c.a(0.3), 1.2)
        else:  # back to neutral, arms crossed in front
            arm(p, "L", c.a(-0.5), c.a(1.4), 1.6)
            arm(p, "R", c.a(-0.4), c.a(1.2), 1.9)
        spine(p, twist=0.3 * (1 if s == "R" else -1))
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def downrock(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base(0.55)
        p[PELVIS, 0] += 0.5
        s = "L" if k % 2 == 0 else "R"
        arm(p, other(s), -1.45, 0.4, 0.05)  # support hand to the floor
        arm(p, s, c.a(-0.3), c.a(0.6), 1.5)
        leg_add(p, s, flex=0.6, knee=-0.8, abduct=0.9, ankle=0.5)  # sweep the leg out
        head(p, nod=-0.3)
        c.hand(p, k, ("flat", "fist"))
        keys.append(Key(p, c.yaw))
    return keys


def spin(c: Ctx, n: int) -> list[Key]:
    keys = []
    turn = np.pi / 2 * (1 if c.rng.random() < 0.5 else -1)
    for k in range(n):
        p = np.zeros((52, 3))
        p[PELVIS, 0] = -1.25  # lying back on the shoulders (backspin-like)
        leg_add(p, "L", flex=-1.1 - 0.2 * (k % 2), knee=0.3, abduct=0.5)
        leg_add(p, "R", flex=-1.1 + 0.2 * (k % 2), knee=0.3, abduct=0.5)
        arm(p, "L", -0.4, 1.3, 2.0)
        arm(p, "R", -0.4, 1.3, 2.0)
        head(p, nod=0.5)
        c.hand(p, k, ("fist",))
        c.yaw += turn
        keys.append(Key(p, c.yaw, free=True))
    return keys


def freeze(c: Ctx, n: int) -> list[Key]:
    keys = []
    locking = "point" in c.style.hands
    for k in range(n):
        breath = 0.08 * (1 if k % 2 else -1)
        if locking:
            p = c.base(0.25)
            arm(p, "L", c.a(0.5 + breath), c.a(1.0), 0.0)
            arm(p, "R", -0.7, -0.2, 2.0)
            head(p, turn=0.4)
            c.hand(p, 0, ("point",))
            keys.append(Key(p, c.yaw))
        else:  # chair-freeze-like: tilted, one hand on the floor, legs tucked
            p = np.zeros((52, 3))
            p[PELVIS] = [0.6, 0.0, 0.9]
            squat(p, 1.0)
            leg_add(p, "L", flex=-0.3 + breath, knee=0.2)
            arm(p, "R", -0.9, 0.2, 0.1)
            arm(p, "L", c.a(0.2 + breath), c.a(0.5), 1.0)
            head(p, turn=-0.5 + breath, nod=-0.2)
            c.hand(p, k, ("flat",))
            keys.append(Key(p, c.yaw, free=True))
    return keys


_HITS = ((0.0, 0.0, 1.57), (-1.3, 0.0, 1.57), (0.0, 1.57, 1.57), (0.6, 0.8, 0.0), (-0.6, 1.3, 1.57),
         (1.2, 0.3, 1.57), (0.0, 0.6, 0.0), (-0.2, 1.5, 2.2))
_HIGH, _LOW = (0, 2, 3, 5, 6), (1, 4, 7)  # arm positions at or above / below the shoulder


def _hit(c: Ctx, k: int) -> tuple[float, float, float]:
    """An arm position, high on even beats and low on odd ones, so every beat moves the arm about as much."""
    group = _HIGH if k % 2 == 0 else _LOW
    return _HITS[group[int(c.rng.integers(len(group)))]]


def hits(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        for i, s in enumerate(("L", "R")):
            r, f, e = _hit(c, k + i * int(c.rng.random() < 0.5))
            arm(p, s, c.a(r), c.a(f), e, twist=c.u(-0.4, 0.4), wrist=c.u(-0.4, 0.4))
        spine(p, bend=-0.15 if k % 2 == 0 else 0.05)  # chest pop on the beat
        head(p, turn=c.u(-0.5, 0.5))
        squat(p, 0.1 if k % 2 == 0 else 0.0, s=c.lead)  # knee hit
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def robot(c: Ctx, n: int) -> list[Key]:
    keys = []
    state = {"L": [0.0, 0.0, 1.57], "R": [0.0, 0.0, 1.57]}
    headturn = 0.0
    for k in range(n):
        p = c.base()
        s = "L" if k % 2 == 0 else "R"
        state[s][int(c.rng.integers(3))] = float(c.rng.choice([-0.8, 0.0, 0.8, 1.57]))
        for t in ("L", "R"):
            arm(p, t, c.a(state[t][0]), c.a(state[t][1]), abs(state[t][2]) + 0.3)
        headturn = -headturn if headturn else 0.6
        head(p, turn=headturn)
        c.hand(p, k, ("flat", "claw"))
        keys.append(Key(p, c.yaw))
    return keys


def pose_move(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        if k % 2 == 0:
            targets = {s: (c.u(-0.8, 1.3), c.u(-0.3, 1.4), c.u(0.0, 1.8)) for s in ("L", "R")}
            bend, tw = c.u(-0.2, 0.3), c.u(-0.5, 0.5)
        p = c.base()
        for s, (r, f, e) in targets.items():
            arm(p, s, c.a(r), c.a(f), e + 0.15 * (k % 2))
        spine(p, bend=bend, twist=tw + 0.1 * (k % 2))
        head(p, turn=-tw, nod=0.05 * (k % 2))
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def point(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        bounce(c, p, k)
        s = "L" if (k // 2) % 2 == 0 else "R"
        if k % 2 == 0:
            arm(p, s, c.a(0.6), c.a(0.9), 0.0)
            arm(p, other(s), -0.8, -0.3, 2.0)  # hand on the hip
            spine(p, twist=0.35 * (1 if s == "L" else -1))
            c.hand(p, 0, ("point",))
        else:
            arm(p, "L", -0.2, 1.0, 2.3, twist=0.5)  # wrists rolled in front of the chest
            arm(p, "R", -0.2, 1.0, 2.3, twist=-0.5)
            c.hand(p, 0, ("fist",))
        keys.append(Key(p, c.yaw))
    return keys


def lock(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base(0.3 if k % 2 == 0 else 0.0)
        if k % 2 == 0:
            arm(p, "L", -0.1, 0.9, 2.3, twist=1.0)
            arm(p, "R", -0.1, 0.9, 2.3, twist=1.0)
            head(p, nod=-0.25)
            spine(p, bend=0.25)
        else:
            arm(p, "L", c.a(0.4), c.a(0.2), 0.3, twist=-0.8)
            arm(p, "R", c.a(0.4), c.a(0.2), 0.3, twist=-0.8)
            spine(p, bend=-0.1)
        c.hand(p, k, ("fist", "flat"))
        keys.append(Key(p, c.yaw))
    return keys


def kick(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if (k // 2) % 2 == 0 else "R"
        if k % 2 == 0:
            leg_add(p, s, flex=-c.u(0.7, 1.1) * c.style.step / 0.3, knee=-0.2, ankle=0.5)
            arm(p, "L", c.a(0.2), c.a(0.4), 0.4)
            arm(p, "R", c.a(0.2), c.a(0.4), 0.4)
            spine(p, bend=-0.1)
        else:
            arm(p, "L", -0.8, 0.6, 1.5)
            arm(p, "R", -0.8, 0.6, 1.5)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def groove(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        bounce(c, p, k)
        spine(p, bend=0.12 if k % 2 == 0 else -0.05, side_bend=0.08 * (1 if (k // 2) % 2 else -1))
        sw = 0.35 if k % 2 == 0 else -0.1
        arm(p, "L", -1.1, c.a(sw), 0.8)
        arm(p, "R", -1.1, c.a(-sw * 0.5), 0.8)
        p[L_SHOULDER, 0] += 0.3 * (k % 2)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def step_touch(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        bounce(c, p, k)
        s = "L" if (k // 2) % 2 == 0 else "R"
        if k % 2 == 0:
            leg_add(p, s, abduct=0.3 * c.style.step / 0.25, flex=-0.1)
            squat(p, 0.1)
        sign = 1 if s == "L" else -1
        spine(p, side_bend=-0.1 * sign * (k % 2 == 0))
        arm(p, "L", c.a(-0.9 + 0.5 * (k % 2 == 0)), c.a(0.5), 0.9 + 0.4 * sign)
        arm(p, "R", c.a(-0.9 + 0.5 * (k % 2 == 0)), c.a(0.5), 0.9 - 0.4 * sign)
        head(p, turn=0.3 * sign)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def swing(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        sign = 1 if k % 2 == 0 else -1
        leg_add(p, "L", flex=-c.style.step * sign * 0.6)
        leg_add(p, "R", flex=c.style.step * sign * 0.6)
        arm(p, "L", -1.15, c.a(0.7 * -sign), 0.6)
        arm(p, "R", -1.15, c.a(0.7 * sign), 0.6)
        spine(p, twist=0.15 * sign)
        bounce(c, p, k)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def walk(c: Ctx, n: int) -> list[Key]:
    keys = swing(c, n)
    for k, key in enumerate(keys):
        head(key.pose, turn=0.25 * (1 if k % 4 < 2 else -1))
    return keys


def sharp_arms(c: Ctx, n: int) -> list[Key]:
    keys = hits(c, n)
    for k, key in enumerate(keys):
        spine(key.pose, side_bend=0.15 * (1 if k % 2 else -1), twist=0.2 * (1 if k % 4 < 2 else -1))
    return keys


def jazz_arms(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if k % 2 == 0 else "R"
        arm(p, s, c.a(0.9), c.a(0.2), 0.1, wrist=0.6)
        arm(p, other(s), c.a(-0.6), c.a(-0.2), 0.1, wrist=0.6)
        spine(p, side_bend=0.2 * (1 if s == "L" else -1), bend=-0.1)
        head(p, tilt=0.2 * (1 if s == "L" else -1), turn=0.3 * (1 if s == "L" else -1))
        p[L_COLLAR, 2] += 0.15 * (k % 2)
        c.hand(p, k, ("spread",))
        keys.append(Key(p, c.yaw))
    return keys


def turn(c: Ctx, n: int) -> list[Key]:
    """Prepare, turn on one foot with the other leg in passé (yaw eased between beats), land, pose."""
    keys = []
    pivot = c.lead
    direction = 1 if pivot == "L" else -1
    for k in range(n):
        p = c.base()
        if k == 0:
            squat(p, 0.15)
            arm(p, "L", 0.0, 0.7, 0.4)
            arm(p, "R", 0.0, -0.2, 0.4)
        elif k < n - 1:
            leg_add(p, other(pivot), flex=-0.9, knee=1.8, abduct=0.5, ankle=0.6)
            squat(p, -c.style.squat * 0.8, s=pivot)
            arm(p, "L", 1.1, 0.8, 0.9)
            arm(p, "R", 1.1, 0.8, 0.9)
            c.yaw += direction * np.pi * (1.0 if n > 3 else 2.0) / max(1, n - 2)
        else:
            arm(p, "L", c.a(0.3), c.a(0.2), 0.2)
            arm(p, "R", c.a(0.3), c.a(0.2), 0.2)
        c.hand(p, k)
        keys.append(Key(p, c.yaw, pivot=pivot))
    return keys

def sync_arms(c: Ctx, n: int) -> list[Key]:
    """Korean: crisp mirror-symmetric arm positions, a new one on every beat."""
    keys = []
    for k in range(n):
        p = c.base()
        r, f, e = _hit(c, k)
        for s in ("L", "R"):
            arm(p, s, c.a(r), c.a(f), e, wrist=0.2)
        bounce(c, p, k)
        head(p, nod=0.1 * (1 if k % 2 else -1))
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def lyrical(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if k % 2 == 0 else "R"
        sign = 1 if s == "L" else -1
        if k % 4 < 2:
            arm(p, s, c.a(0.7), c.a(0.6), 0.2)
            arm(p, other(s), c.a(-0.4), c.a(-0.4), 0.3)
            spine(p, bend=-0.15, side_bend=-0.2 * sign)
            head(p, turn=0.4 * sign, nod=-0.15)
        elif k % 4 == 3:  # release: arms open wide, chest lifted
            arm(p, "L", c.a(0.2), c.a(-0.2), 0.1)
            arm(p, "R", c.a(0.2), c.a(-0.2), 0.1)
            spine(p, bend=-0.2)
            head(p, nod=-0.2)
        else:  # contraction
            spine(p, bend=0.5)
            arm(p, "L", -0.5, 1.2, 1.2)
            arm(p, "R", -0.5, 1.2, 1.2)
            squat(p, 0.2)
            head(p, nod=0.3)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys
