"""Per-genre style parameters of the procedural data set: the music (tempo, meter, drums, scale, timbre) and the
dance (posture, bounce, sharpness, moves, hand shapes) of each of the 16 FineDance genres.

These are caricatures chosen to be distinct and recognisable, not ethnographic descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...genre.genres import GENRES

# Scales in semitones above the tonic.
PENTATONIC_MAJOR = (0, 2, 4, 7, 9)  # gong–shang–jue–zhi–yu
PENTATONIC_MINOR = (0, 3, 5, 7, 10)
YU_MODE = (0, 3, 5, 7, 10)  # the yu mode of the Chinese pentatonic
HIJAZ = (0, 1, 4, 5, 7, 8, 10)  # maqam-like, augmented second (Uyghur muqam flavour)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
BLUES = (0, 3, 5, 6, 7, 10)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class MusicStyle:
    """How a genre's music sounds.

    Drum patterns are strings with 4 steps (sixteenths) per beat over one bar: ``X`` accent, ``x`` hit, ``.`` rest.
    ``kit`` picks the one-shot samples each drum voice uses (see :mod:`dancegen.data.synth.music`).
    """

    tempo: tuple[float, float]  # bpm range; each song draws one
    meter: int  # beats per bar
    swing: float  # 0 straight … 1 full triplet swing of the off-beat eighths
    scale: tuple[int, ...]
    tonic: tuple[int, int]  # MIDI range of the tonic
    kit: str  # "electro", "acoustic", "funk", "chinese", "dai", "dap", "miao"
    low: tuple[str, ...]  # low drum voice patterns (kick / big drum), one is chosen per song
    mid: tuple[str, ...]  # snare / clap / woodblock patterns
    high: tuple[str, ...]  # hats / small cymbals / clapper patterns
    lead: str  # melody timbre: square, saw, piano, pluck, flute, bowed, brass, reed
    bass: str  # "sub", "synth", "walking", "drone", "none"
    note_steps: tuple[int, ...]  # sixteenth positions in a bar where melody notes may start
    pad: bool = False  # sustained chords under the melody


@dataclass(frozen=True)
class DanceStyle:
    """How a genre's dance moves; angles in radians, heights in metres.

    ``squat`` is the base knee-bend depth, ``bounce`` its change on alternate beats, ``sharpness`` the fraction of
    each beat held still around the beat (0 = fluid cosine easing, 0.3 = snap between held poses). ``moves``
    lists the move families (keys of :data:`dancegen.data.synth.moves.MOVES`) with their relative weights;
    ``hands`` the hand shapes (keys of :data:`dancegen.data.synth.poses.HAND_SHAPES`) the dancer alternates.
    """

    squat: float
    bounce: float
    lean: float  # forward torso lean
    sharpness: float
    arm_amp: float  # scales the arm-move angles
    moves: tuple[tuple[str, float], ...]
    hands: tuple[str, ...]
    step: float  # step length scale (hip swing angle of stepping moves)
    head: float = 0.1  # head/neck motion amplitude
    wrist: float = 0.2  # wrist flex/twist amplitude
    turn: float = 0.0  # probability that a move is turned (yaw change) by 90° or more


@dataclass(frozen=True)
class GenreStyle:
    """The music and dance of one genre."""

    genre: str
    music: MusicStyle
    dance: DanceStyle


_4 = "x...x...x...x..."

STYLES: dict[str, GenreStyle] = {
    "Breaking": GenreStyle("Breaking", MusicStyle(
        (108, 120), 4, 0.2, DORIAN, (40, 46), "funk",
        ("X.....x...x.....", "X.........x..x.."), ("....X.......X...", "....X..x....X..."),
        ("x.x.x.x.x.x.x.x.",), "brass", "synth", (0, 3, 6, 8, 10, 14)),
        DanceStyle(0.45, 0.1, 0.35, 0.1, 1.0,
                   (("toprock", 1.0), ("downrock", 1.2), ("spin", 0.8), ("freeze", 0.6)),
                   ("fist", "flat"), 0.35, 0.15, 0.2)),
    "Popping": GenreStyle("Popping", MusicStyle(
        (96, 108), 4, 0.1, MINOR, (38, 44), "electro",
        ("X.......X.x.....", "X..x....X......."), ("....X.......X...",), ("x.x.x.x.x.x.x.x.",),
        "square", "synth", (0, 4, 6, 8, 12)),
        DanceStyle(0.18, 0.06, 0.05, 0.22, 1.0,
                   (("hits", 1.5), ("robot", 1.0), ("pose", 0.4)),
                   ("fist", "claw", "flat"), 0.15, 0.15, 0.35, 0.1)),
    "Locking": GenreStyle("Locking", MusicStyle(
        (108, 120), 4, 0.35, MIXOLYDIAN, (40, 46), "funk",
        ("X.......X..x....", "X.....x.X......."), ("....X.......X..x", "....X.......X..."), ("x.x.x.x.x.x.x.x.",),
        "brass", "walking", (0, 2, 6, 8, 12, 14)),
        DanceStyle(0.22, 0.08, 0.15, 0.25, 1.1,
                   (("point", 1.5), ("lock", 1.0), ("kick", 0.6), ("freeze", 0.4)),
                   ("point", "fist", "flat"), 0.3, 0.12, 0.4)),
    "Hiphop": GenreStyle("Hiphop", MusicStyle(
        (86, 98), 4, 0.4, PENTATONIC_MINOR, (36, 42), "electro",
        ("X......xX.......", "X.....x...X....."), ("....X.......X...",), ("x.x.x.x.x.x.x.x.", "x.xxx.x.x.xxx.x."),
        "piano", "sub", (0, 6, 8, 14)),
        DanceStyle(0.32, 0.12, 0.25, 0.05, 0.8,
                   (("groove", 2.0), ("step_touch", 1.0), ("swing", 1.0)),
                   ("relaxed", "flat"), 0.25, 0.2, 0.2)),
    "Urban": GenreStyle("Urban", MusicStyle(
        (94, 104), 4, 0.15, MINOR, (36, 42), "electro",
        ("X.....X...X.....", "X..X..X........."), ("....X.......X...",), ("x.x.x.x.x.x.x.x.",),
        "saw", "sub", (0, 3, 6, 10, 12), pad=True),
        DanceStyle(0.25, 0.1, 0.12, 0.18, 1.1,
                   (("sharp_arms", 1.5), ("step_touch", 1.0), ("groove", 0.8), ("pose", 0.5)),
                   ("flat", "fist", "spread"), 0.3, 0.15, 0.3, 0.15)),
    "Jazz": GenreStyle("Jazz", MusicStyle(
        (120, 136), 4, 0.6, BLUES, (41, 47), "acoustic",
        ("x.......x.......",), ("....x.......x...", "....x..x....x..."), ("X..x..x.X..x..x.",),
        "brass", "walking", (0, 2, 4, 6, 8, 10, 12, 14)),
        DanceStyle(0.1, 0.05, 0.0, 0.15, 1.2,
                   (("jazz_arms", 1.5), ("kick", 1.0), ("turn", 0.6), ("step_touch", 0.6)),
                   ("spread", "flat"), 0.35, 0.15, 0.25, 0.2)),
    "Dai": GenreStyle("Dai", MusicStyle(
        (84, 96), 2, 0.0, PENTATONIC_MAJOR, (50, 56), "dai",
        ("X...x...",), ("..x...x.", "..x.x.x."), ("x.x.x.x.",),
        "flute", "drone", (0, 4, 6), pad=False),
        DanceStyle(0.3, 0.06, 0.05, 0.0, 1.0,
                   (("peacock", 2.0), ("three_bends", 1.0), ("step_touch", 0.4)),
                   ("peacock", "flat"), 0.15, 0.12, 0.5)),
    "Wei": GenreStyle("Wei", MusicStyle(
        (118, 132), 4, 0.0, HIJAZ, (50, 56), "dap",
        ("X...x..xX...x...", "X...x...X..xx..."), ("....x.......x..x", "....x..x....x..."), ("x.x.x.x.x.x.x.x.",),
        "bowed", "synth", (0, 3, 6, 8, 11, 14)),
        DanceStyle(0.05, 0.03, -0.08, 0.1, 1.0,
                   (("wei_arms", 2.0), ("head_slide", 1.0), ("turn", 0.6)),
                   ("flat", "spread"), 0.15, 0.35, 0.7, 0.2)),
    "Miao": GenreStyle("Miao", MusicStyle(
        (108, 122), 2, 0.0, PENTATONIC_MAJOR, (48, 54), "miao",
        ("X...X...",), ("..x...x.",), ("x.x.x.x.",),
        "reed", "drone", (0, 2, 4, 6)),
        DanceStyle(0.2, 0.12, 0.1, 0.08, 0.7,
                   (("stamp", 2.0), ("step_touch", 1.0), ("swing", 0.8)),
                   ("relaxed", "flat"), 0.3, 0.1, 0.2)),
    "HanTang": GenreStyle("HanTang", MusicStyle(
        (76, 88), 4, 0.0, PENTATONIC_MAJOR, (48, 54), "chinese",
        ("X.......x.......",), ("....x.......x...",), ("x...x...x...x...",),
        "pluck", "drone", (0, 4, 6, 8, 12), pad=True),
        DanceStyle(0.08, 0.04, 0.0, 0.05, 1.3,
                   (("broad", 2.0), ("pose", 0.8), ("turn", 0.6)),
                   ("orchid", "flat"), 0.2, 0.12, 0.35, 0.3)),
    "ShenYun": GenreStyle("ShenYun", MusicStyle(
        (72, 84), 4, 0.0, YU_MODE, (46, 52), "chinese",
        ("X.......x.......",), ("........x.......",), ("x...x...x...x...",),
        "bowed", "drone", (0, 4, 8, 12), pad=True),
        DanceStyle(0.15, 0.06, -0.05, 0.0, 1.4,
                   (("sweep", 2.5), ("broad", 0.6), ("turn", 0.6)),
                   ("flat", "orchid"), 0.3, 0.15, 0.4, 0.4)),
    "Kun": GenreStyle("Kun", MusicStyle(
        (64, 74), 4, 0.0, PENTATONIC_MAJOR, (50, 56), "chinese",
        ("X...............", "X.......x......."), ("........x.......",), ("X...x...x...x...",),
        "flute", "none", (0, 4, 6, 8, 12)),
        DanceStyle(0.15, 0.03, 0.02, 0.12, 0.8,
                   (("sleeve", 2.0), ("pose", 1.0), ("walk", 0.6)),
                   ("orchid", "flat"), 0.12, 0.12, 0.5, 0.15)),
    "DunHuang": GenreStyle("DunHuang", MusicStyle(
        (72, 84), 4, 0.0, PENTATONIC_MINOR, (45, 51), "chinese",
        ("X.......x.......",), ("....x.......x...",), ("x...x...x...x...",),
        "pluck", "drone", (0, 2, 4, 8, 12), pad=True),
        DanceStyle(0.25, 0.05, 0.0, 0.08, 1.2,
                   (("dunhuang", 3.0), ("pose", 0.6)),
                   ("orchid", "spread"), 0.15, 0.15, 0.5, 0.2)),
    "Korean": GenreStyle("Korean", MusicStyle(
        (118, 128), 4, 0.0, MINOR, (40, 46), "electro",
        (_4,), ("....X.......X...",), ("..x...x...x...x.", "xxxxxxxxxxxxxxxx"),
        "saw", "synth", (0, 2, 4, 6, 8, 10, 12, 14), pad=True),
        DanceStyle(0.15, 0.08, 0.05, 0.22, 1.1,
                   (("sync_arms", 2.5), ("step_touch", 1.0), ("pose", 0.4)),
                   ("flat", "point", "fist"), 0.25, 0.1, 0.3)),
    "Choreography": GenreStyle("Choreography", MusicStyle(
        (98, 112), 4, 0.1, MAJOR, (43, 49), "acoustic",
        ("X.......X.......", "X......xX......."), ("....X.......X...",), ("x.x.x.x.x.x.x.x.",),
        "piano", "synth", (0, 4, 6, 8, 12), pad=True),
        DanceStyle(0.14, 0.06, 0.05, 0.08, 1.1,
                   (("lyrical", 2.5), ("turn", 0.8), ("walk", 0.6)),
                   ("flat", "spread", "relaxed"), 0.3, 0.15, 0.3, 0.3)),
    "Chinese": GenreStyle("Chinese", MusicStyle(
        (90, 104), 2, 0.0, PENTATONIC_MAJOR, (50, 56), "chinese",
        ("X...x...",), ("..x...x.",), ("x.x.x.x.",),
        "bowed", "drone", (0, 2, 4, 6), pad=True),
        DanceStyle(0.2, 0.12, 0.1, 0.1, 1.1,
                   (("fan", 3.0), ("walk", 0.6)),
                   ("flat", "orchid"), 0.3, 0.12, 0.45, 0.1)),
}

assert tuple(STYLES) == GENRES, "STYLES must list the 16 genres in canonical order"
