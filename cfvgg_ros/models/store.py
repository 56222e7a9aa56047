"""Where CNN feature models live: the shipped student in the package share, the cache of
converted models, and the paper's released ``CF_VGGM`` converted from ``../shared`` on first use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cfvgg_ros import paths
from cfvgg_ros.models.contract import ModelError

__all__ = [
    "PAPER_STUDENT_MAT",
    "PAPER_STUDENT_PROVENANCE",
    "SHIPPED_MODEL_NAME",
    "cache_dir",
    "converted_model_path",
    "default_model_path",
    "paper_student_path",
]

SHIPPED_MODEL_NAME = "cfvgg_student.onnx"
PAPER_STUDENT_MAT = Path("paper") / "CF_VGGM.mat"
# What the paper (Sec. III-A and V-A) says about the released CF_VGGM student.
PAPER_STUDENT_PROVENANCE = {
    "teacher": "VGG-M (imagenet-vgg-m.mat), paper Sec. III-A",
    "data": "ILSVRC 2015 VID, paper Sec. V-A",
    "epochs": "50 (paper Sec. V-A)",
}


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cfvgg_ros`` (default ``~/.cache/cfvgg_ros``) for converted models."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfvgg_ros"


def paper_student_path() -> Path:
    """The paper's released student ``CF_VGGM.mat`` from the shared models folder, converted on
    first use into :func:`cache_dir` (never into the repository; re-converted when the .mat
    changes). Raises :class:`ModelError` when the shared file is missing."""
    models_root = paths.shared_models_root()
    mat = models_root / PAPER_STUDENT_MAT if models_root is not None else None
    if mat is None or not mat.is_file():
        raise ModelError(
            f"the paper's student shared/models/{PAPER_STUDENT_MAT.as_posix()} was not found "
            f"({'no shared folder; set CFVGG_SHARED' if models_root is None else mat})"
        )
    return converted_model_path(mat)


def converted_model_path(mat) -> Path:
    """A MatConvNet ``.mat`` converted (and verified) once into :func:`cache_dir` as
    ``<stem>-<sha1[:12]>.onnx``, so a changed file is converted again; the paper's
    ``CF_VGGM.mat`` gets its architecture name and provenance."""
    mat = Path(mat)
    sha1 = hashlib.sha1(mat.read_bytes()).hexdigest()
    cached = cache_dir() / f"{mat.stem}-{sha1[:12]}.onnx"
    if not cached.is_file():
        from cfvgg_ros.models.convert import convert_file

        is_paper = mat.name == PAPER_STUDENT_MAT.name
        convert_file(mat, cached, architecture="CF_VGGM" if is_paper else None,
                     provenance=PAPER_STUDENT_PROVENANCE if is_paper else None)
    return cached


def default_model_path() -> Path:
    """The shipped ``models/cfvgg_student.onnx`` in the package share when present; else
    :func:`paper_student_path` (the paper's converted ``CF_VGGM``). Raises :class:`ModelError`
    naming both places when neither exists."""
    shipped = paths.share_dir() / "models" / SHIPPED_MODEL_NAME
    if shipped.is_file():
        return shipped
    try:
        return paper_student_path()
    except ModelError as exc:
        raise ModelError(
            f"no CNN feature model: the shipped model {shipped} does not exist and {exc}; "
            "convert one with cfvgg-convert or pass model_path"
        ) from None
