"""Reading ``.pkl`` motion files without running code they carry.

:func:`load_pickle` unpickles with an allow-list: numpy arrays, numpy dtypes and scalars (numpy ≥ 2 names them
``numpy._core.*``, older pickles ``numpy.core.*``; both are accepted), ``collections.OrderedDict``, and the
built-in containers and scalars that pickle opcodes build without any global (dict, list, tuple, str, bytes,
int, float, bool, None). Any other global (``os.system``, ``builtins.eval``, a torch class, ``functools.partial``,
…) raises :class:`~dancegen.errors.UnsafeFileError` naming the file and the global before anything is called.
That covers AIST++ motion files and EDGE / FineDance-style result pickles (dicts of numpy arrays).
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, UnsafeFileError

#: What a motion pickle may hold, described for error messages and docs.
ALLOWED_CONTENT = "numpy arrays, dicts, lists, tuples, strings and numbers"


class _Refused(pickle.UnpicklingError):
    """A global (or a use of an allowed one) outside the allow-list; the message names it."""


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol 0-2 pickles use it for ``bytes`` (a str and latin-1), nothing else."""
    if not isinstance(text, str) or str(encoding).lower().replace("-", "").replace("_", "") != "latin1":
        raise _Refused(f"_codecs.encode with {encoding!r}")
    return text.encode("latin1")


_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]


class _NdarrayName:
    """Stands for ``numpy.ndarray`` as ``_reconstruct``'s first argument: the real class is never handed to the
    pickle, since calling it on a crafted buffer with an object dtype would read arbitrary memory."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _NdarrayName:
        raise _Refused("a direct call of numpy.ndarray")


def _reconstruct_ndarray(cls: Any, shape: Any, dtype: Any) -> np.ndarray:
    if cls is not _NdarrayName:
        raise _Refused(f"numpy _reconstruct of {cls!r}")
    return _RECONSTRUCT(np.ndarray, shape, dtype)


def _allowed() -> dict[tuple[str, str], Any]:
    # numpy's own callables, taken from its reductions so that both module spellings map to them
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): _NdarrayName,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_bytes,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _reconstruct_ndarray
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return table


_ALLOWED = _allowed()


class _MotionUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python 2 pickles of numpy arrays read correctly

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (``__builtin__.eval``, protocols 0-2) mapped as the default find_class maps them
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def loads_pickle(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list (``source`` names it in errors)."""
    try:
        return _MotionUnpickler(io.BytesIO(data)).load()
    except _Refused as exc:
        raise UnsafeFileError(f"{source}: refused to unpickle {exc} (a motion .pkl may hold only {ALLOWED_CONTENT}); "
                              "nothing in the file was run, do not trust it") from None
    except Exception as exc:  # truncated or corrupt data: pickle raises many types
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot read {source} as a pickle: {reason}") from None


def load_pickle(path: str | Path) -> Any:
    """Unpickle the file at ``path`` with the allow-list: :class:`UnsafeFileError` for a refused global, a one-line
    :class:`DataError` for an unreadable or corrupt file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return loads_pickle(data, str(path))
