"""Where CNN feature models live: the shipped student in the package share, the cache of
converted models, and the paper's released ``CF_VGGM`` converted from ``../shared`` on first use;
and the integrity check every model file passes before it is loaded.

Integrity (the model-file trust boundary): ``models/SHA256SUMS`` (``sha256sum`` format, installed
beside the shipped model in the package share) records the sha256 of every model the package
ships; the model card ``models/README.md`` shows the same sum. :func:`verify_model_file` hashes a
model file before it is loaded: a file whose *name* is recorded there must have that sum, else
:class:`ModelError` names the expected and the actual sum (a corrupt, truncated or swapped
file, or a model re-exported without updating its recorded sum: ``cfvgg-export
--record-sha256``); a file with another name (a user's model) is accepted and its sum is logged
and returned, so it can be reported. Converted models in the cache carry a ``.sha256`` sidecar
written after conversion; a cached file that does not match it is converted again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cfvgg_ros import paths
from cfvgg_ros.models.contract import ModelError

__all__ = [
    "PAPER_STUDENT_MAT",
    "PAPER_STUDENT_PROVENANCE",
    "SHA256SUMS_NAME",
    "SHIPPED_MODEL_NAME",
    "ModelDigest",
    "cache_dir",
    "converted_model_path",
    "default_model_path",
    "file_sha256",
    "paper_student_path",
    "read_sha256sums",
    "record_sha256",
    "recorded_sha256s",
    "shipped_models_dir",
    "verify_model_file",
    "write_sha256sums",
]

_log = logging.getLogger(__name__)

SHIPPED_MODEL_NAME = "cfvgg_student.onnx"
SHA256SUMS_NAME = "SHA256SUMS"
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
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
    sidecar = cached.with_name(cached.name + ".sha256")
    if cached.is_file():
        recorded = sidecar.read_text().split()[0] if sidecar.is_file() and sidecar.read_text().strip() else None
        if recorded is not None and recorded == file_sha256(cached):
            return cached
        _log.warning("cached model %s %s; converting %s again", cached,
                     "has no recorded sha256" if recorded is None else "does not match its recorded sha256", mat)
    from cfvgg_ros.models.convert import convert_file

    is_paper = mat.name == PAPER_STUDENT_MAT.name
    convert_file(mat, cached, architecture="CF_VGGM" if is_paper else None,
                 provenance=PAPER_STUDENT_PROVENANCE if is_paper else None)
    _write_atomic(sidecar, f"{file_sha256(cached)}  {cached.name}\n")
    return cached


def shipped_models_dir() -> Path:
    """The ``models/`` folder of the package share (the shipped model and ``SHA256SUMS``)."""
    return paths.share_dir() / "models"


def file_sha256(path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(path) -> dict[str, str]:
    """``{file name: sha256}`` from a ``sha256sum``-format file (``<hex>  <name>`` per line; blank
    lines and ``#`` comments allowed). Raises :class:`ModelError` on a malformed line."""
    path = Path(path)
    sums = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SUM_LINE.match(line.rstrip())
        if match is None:
            raise ModelError(f"{path}:{number}: not a '<sha256>  <file name>' line: {line[:80]!r}")
        sums[Path(match.group(2)).name] = match.group(1).lower()
    return sums


def write_sha256sums(path, sums: dict[str, str]) -> None:
    """Write ``sums`` (``{file name: sha256}``) as a ``sha256sum``-format file, sorted, atomically."""
    lines = [f"{sha}  {name}" for name, sha in sorted(sums.items())]
    _write_atomic(Path(path), "\n".join(lines) + "\n")


def recorded_sha256s() -> dict[str, str]:
    """The sums recorded for the shipped models (``SHA256SUMS`` in :func:`shipped_models_dir`);
    empty when that file is absent."""
    sums_file = shipped_models_dir() / SHA256SUMS_NAME
    return read_sha256sums(sums_file) if sums_file.is_file() else {}


def record_sha256(model_path) -> tuple[str, Path]:
    """Record ``model_path``'s sha256 in the ``SHA256SUMS`` beside it (created when absent; other
    entries kept); returns (sha256, that file). For a model to ship, run it on ``models/<name>``
    and put the same sum in the model card."""
    model_path = Path(model_path)
    sums_path = model_path.parent / SHA256SUMS_NAME
    sums = read_sha256sums(sums_path) if sums_path.is_file() else {}
    sums[model_path.name] = file_sha256(model_path)
    write_sha256sums(sums_path, sums)
    return sums[model_path.name], sums_path


@dataclass(frozen=True)
class ModelDigest:
    """The sha256 of a model file and whether it matched a recorded sum (False: no sum recorded
    for its name)."""

    path: Path
    sha256: str
    recorded: bool

    def describe(self) -> str:
        return f"sha256 {self.sha256} ({'matches the recorded sum' if self.recorded else 'no recorded sum'})"


def verify_model_file(path) -> ModelDigest:
    """Check a model file before loading it (see the module docstring): :class:`ModelError` when it
    is missing, unreadable, empty, or named like a recorded model with another sha256."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"CNN feature model not found: {path}")
    try:
        actual = file_sha256(path)
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"cannot read CNN feature model {path}: {exc}") from exc
    if size == 0:
        raise ModelError(f"CNN feature model {path} is empty (0 bytes)")
    expected = recorded_sha256s().get(path.name)
    if expected is None:
        _log.info("CNN feature model %s has no recorded sha256; its sha256 is %s", path, actual)
        return ModelDigest(path, actual, recorded=False)
    if expected != actual:
        sums_file = shipped_models_dir() / SHA256SUMS_NAME
        raise ModelError(
            f"CNN feature model {path} failed its integrity check: sha256 {actual}, but {sums_file} "
            f"records {expected} for {path.name!r} ({size} bytes on disk). The file is corrupt, "
            "truncated or not the shipped model. If you exported a new model on purpose, record its sum "
            "(cfvgg-export --record-sha256, and the model card models/README.md) or give it another name."
        )
    return ModelDigest(path, actual, recorded=True)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def default_model_path() -> Path:
    """The shipped ``models/cfvgg_student.onnx`` in the package share when present; else
    :func:`paper_student_path` (the paper's converted ``CF_VGGM``). Raises :class:`ModelError`
    naming both places when neither exists."""
    shipped = shipped_models_dir() / SHIPPED_MODEL_NAME
    if shipped.is_file():
        return shipped
    try:
        return paper_student_path()
    except ModelError as exc:
        raise ModelError(
            f"no CNN feature model: the shipped model {shipped} does not exist and {exc}; "
            "convert one with cfvgg-convert or pass model_path"
        ) from None
