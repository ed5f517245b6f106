"""dancegen: GCDance, genre-controlled full-body (52-joint) 3D dance generation from music and text.

Built on :mod:`mtlkit` for balancing its training losses. Heavy dependencies (librosa, transformers) are
imported inside the components that need them, so importing dancegen and ``dancegen --help`` stay fast.
"""

__version__ = "0.1.0"
