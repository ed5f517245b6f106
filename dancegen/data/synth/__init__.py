"""The procedural dance data set: numpy-synthesised music with ground-truth beats and genre-styled 52-joint dance
keyed on those beats, written in the FineDance layout (``dancegen data synth``)."""

from .styles import STYLES, DanceStyle, GenreStyle, MusicStyle
from .writer import SynthReport, build

__all__ = ["STYLES", "DanceStyle", "GenreStyle", "MusicStyle", "SynthReport", "build"]
