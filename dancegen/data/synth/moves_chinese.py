"""Chinese folk and classical moves (Dai, Wei, Miao, HanTang, ShenYun, Kun, DunHuang, Chinese)."""

from __future__ import annotations

from .poses import (
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


def peacock(c: Ctx, n: int) -> list[Key]:
    """Dai: the three-bend posture (knees, hips, torso), one arm raised bent with a peacock hand, wrists flexing;
    on the off-beats both hands gather before the chest."""
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if (k // 2) % 2 == 0 else "R"
        sign = 1 if s == "L" else -1
        if k % 2 == 0:
            spine(p, side_bend=-0.3 * sign, bend=0.1)
            head(p, tilt=0.3 * sign, turn=0.2 * sign)
            arm(p, s, c.a(0.3), c.a(0.6), 1.3, wrist=0.5)
            arm(p, other(s), c.a(-0.6), c.a(-0.5), 0.5, wrist=-0.3)
            squat(p, 0.1)
        else:
            spine(p, bend=0.05)
            head(p, tilt=-0.1 * sign)
            arm(p, "L", c.a(-0.5), c.a(1.1), 1.9, wrist=-0.3)
            arm(p, "R", c.a(-0.5), c.a(1.1), 1.9, wrist=-0.3)
        c.hand(p, 0, ("peacock",))
        keys.append(Key(p, c.yaw))
    return keys


def three_bends(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if k % 2 == 0 else "R"
        sign = 1 if s == "L" else -1
        leg_add(p, s, flex=-0.5, knee=0.9, ankle=0.4)  # knee lift in place
        spine(p, side_bend=0.25 * sign)
        arm(p, "L", c.a(-0.3), c.a(1.0), 1.6, wrist=0.6 * sign)
        arm(p, "R", c.a(-0.3), c.a(1.0), 1.6, wrist=-0.6 * sign)
        head(p, tilt=-0.25 * sign, slide=0.05 * sign)
        c.hand(p, k, ("peacock", "peacock", "flat"))
        keys.append(Key(p, c.yaw))
    return keys


def wei_arms(c: Ctx, n: int) -> list[Key]:
    """Wei (Uyghur): one arm above the head, one before the chest, wrists turning every beat, chest lifted."""
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if (k // 2) % 2 == 0 else "R"
        tw = c.style.wrist * 2.2 * (1 if k % 2 == 0 else -1)
        arm(p, s, c.a(1.2), c.a(0.3), 0.6, twist=tw, wrist_twist=tw)
        arm(p, other(s), c.a(0.0), c.a(1.3), 1.9, twist=-tw, wrist_twist=-tw)
        head(p, slide=0.12 * (1 if k % 2 == 0 else -1), nod=-0.1)
        if k % 2 == 1:
            leg_add(p, "L" if k % 4 == 1 else "R", flex=-0.15, knee=0.3, ankle=0.6)  # small step on the toes
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def head_slide(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        sign = 1 if k % 2 == 0 else -1
        tw = c.style.wrist * 1.5 * sign
        arm(p, "L", c.a(0.5), c.a(1.0), 2.1, twist=tw, wrist_twist=tw)
        arm(p, "R", c.a(0.5), c.a(1.0), 2.1, twist=-tw, wrist_twist=-tw)
        head(p, slide=c.style.head * sign, tilt=0.05 * sign)
        spine(p, bend=-0.08)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def stamp(c: Ctx, n: int) -> list[Key]:
    """Miao: knee lifts and stamps in alternation, arms swinging low, torso bouncing."""
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if k % 2 == 0 else "R"
        leg_add(p, s, flex=-0.8, knee=1.3, ankle=0.3)
        sign = 1 if s == "L" else -1
        arm(p, "L", -1.0, c.a(0.8 * sign), 0.5)
        arm(p, "R", -1.0, c.a(-0.8 * sign), 0.5)
        spine(p, bend=0.15, twist=0.15 * sign)
        head(p, nod=0.1)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def broad(c: Ctx, n: int) -> list[Key]:
    """Classical Chinese: broad arm sweeps in opposition, torso twist and side bend, small lunges."""
    keys = []
    for k in range(n):
        p = c.base()
        sign = 1 if (k // 2) % 2 == 0 else -1
        hi = k % 2 == 0
        arm(p, "L", c.a(1.1 if hi else -0.2), c.a(0.3 if hi else 0.9), 0.3, wrist=0.4)
        arm(p, "R", c.a(-0.2 if hi else 1.1), c.a(0.9 if hi else 0.3), 0.3, wrist=0.4)
        spine(p, twist=0.3 * sign, side_bend=0.15 * sign * (1 if hi else -1))
        head(p, turn=0.35 * sign, nod=-0.1 if hi else 0.1)
        if hi:
            leg_add(p, "L" if sign > 0 else "R", flex=-c.style.step, knee=0.3, ankle=-0.2)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def sweep(c: Ctx, n: int) -> list[Key]:
    keys = []
    for k in range(n):
        p = c.base()
        if k % 2 == 0:
            spine(p, bend=0.6)
            arm(p, "L", c.a(-0.6), c.a(1.2), 0.2)
            arm(p, "R", c.a(-0.6), c.a(1.2), 0.2)
            squat(p, 0.2)
        else:
            spine(p, bend=-0.3, side_bend=0.2 * (1 if k % 4 == 1 else -1))
            arm(p, "L", c.a(1.3), c.a(0.2), 0.2, wrist=0.5)
            arm(p, "R", c.a(1.3), c.a(0.2), 0.2, wrist=0.5)
            head(p, nod=-0.3)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def sleeve(c: Ctx, n: int) -> list[Key]:
    """Kun opera: water-sleeve flicks (elbow folded then thrown open), orchid hands, head poses."""
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if (k // 2) % 2 == 0 else "R"
        if k % 2 == 0:
            arm(p, s, c.a(0.1), c.a(1.3), 2.0, wrist=0.6)
            arm(p, other(s), c.a(-0.7), c.a(0.4), 1.2, wrist=0.5)
        else:
            arm(p, s, c.a(0.5), c.a(0.4), 0.3, wrist=-0.5, wrist_twist=0.8)
            arm(p, other(s), c.a(-0.3), c.a(0.9), 1.6, wrist=0.5)
        sign = 1 if s == "L" else -1
        head(p, turn=0.4 * sign, tilt=0.1 * sign)
        spine(p, twist=0.15 * sign)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def dunhuang(c: Ctx, n: int) -> list[Key]:
    """DunHuang: the S-curved mural pose: deep side bend, one leg lifted behind, one arm up, one at the chest."""
    keys = []
    for k in range(n):
        p = c.base()
        s = "L" if (k // 2) % 2 == 0 else "R"
        sign = 1 if s == "L" else -1
        if k % 2 == 0:
            spine(p, side_bend=0.35 * sign)
            head(p, tilt=-0.35 * sign)
            arm(p, s, c.a(1.2), c.a(-0.2), 1.4, wrist=0.6)
            arm(p, other(s), c.a(-0.3), c.a(1.2), 1.8, wrist=0.5)
            leg_add(p, s, flex=0.4, knee=1.4, abduct=0.1)  # foot lifted behind
        else:
            spine(p, side_bend=-0.1 * sign, twist=0.2 * sign)
            head(p, tilt=0.15 * sign, turn=-0.3 * sign)
            arm(p, "L", c.a(0.2), c.a(0.9), 1.0, wrist=0.4)
            arm(p, "R", c.a(0.2), c.a(0.9), 1.0, wrist=0.4)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys


def fan(c: Ctx, n: int) -> list[Key]:
    """Chinese folk fan dance: arms circling at shoulder height, wrist turns of the (open-fan) hand."""
    keys = []
    for k in range(n):
        p = c.base()
        sign = 1 if k % 2 == 0 else -1
        arm(p, "L", c.a(0.2 + 0.3 * sign), c.a(0.7), 0.5, wrist_twist=1.2 * sign)
        arm(p, "R", c.a(-0.6), c.a(0.4), 1.2, wrist=0.5)
        spine(p, twist=0.35 * sign, side_bend=0.1 * sign)
        head(p, turn=0.3 * sign)
        bounce(c, p, k)
        if k % 2 == 1:
            leg_add(p, "L" if k % 4 == 1 else "R", flex=-0.3, knee=0.5, ankle=0.2)
        c.hand(p, k)
        keys.append(Key(p, c.yaw))
    return keys
