"""Where things live: the shared data/models folder (read-only, never copied into the
repository), the package's shipped models and config, and the results folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent


def shared_root() -> Path | None:
    """The ``shared`` folder holding ``data/`` and ``models/``, or None when absent.

    Looks at ``$CFVGG_SHARED`` first, then for ``../shared`` beside the source checkout
    and beside the current directory.
    """
    candidates = []
    if os.environ.get("CFVGG_SHARED"):
        candidates.append(Path(os.environ["CFVGG_SHARED"]))
    candidates += [SOURCE_ROOT.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"]
    for path in candidates:
        if (path / "data").is_dir() or (path / "models").is_dir():
            return path.resolve()
    return None


def shared_data_root() -> Path | None:
    """``shared/data`` (benchmark sequences and ``splits.json``), or None."""
    root = shared_root()
    return root / "data" if root is not None and (root / "data").is_dir() else None


def shared_models_root() -> Path | None:
    """``shared/models`` (paper student, peer tracker models), or None."""
    root = shared_root()
    return root / "models" if root is not None and (root / "models").is_dir() else None


def share_dir() -> Path:
    """The installed package share (``launch/``, ``config/``, ``models/``): the ament share
    folder when the ament index knows the package (colcon, or ``AMENT_PREFIX_PATH`` set), else
    ``<sys.prefix>/share/cfvgg_ros`` after a plain ``pip install``, else the source checkout
    (editable installs)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory("cfvgg_ros"))
        except (PackageNotFoundError, ValueError, LookupError, OSError):
            pass
    except ImportError:
        pass
    prefix_share = Path(sys.prefix) / "share" / "cfvgg_ros"
    if (prefix_share / "package.xml").is_file():
        return prefix_share
    return SOURCE_ROOT
