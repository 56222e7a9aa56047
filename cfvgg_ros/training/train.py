"""The offline distillation loop (paper §IV-A, Eq. 4; schedule of §V-A-1).

Operations: fixed seeds, a tqdm bar with live losses (rank 0), a CSV log (``log.csv``) and a
loss-curve PNG (``losses.png``), an atomic checkpoint (``last.pt``) at every epoch end, every
``runtime.checkpoint_every`` iterations and on SIGINT/SIGTERM, and exact resumption
(model, optimiser, scheduler, RNG states, epoch / iteration, data order) with ``resume=True``.

Crash safety (SIGKILL, power loss): every file a run writes and ``--resume`` reads is replaced
atomically (:func:`atomic_write`: a temporary file in the same folder, fsync, ``os.replace``, fsync
of the folder), so ``last.pt`` is always the previous or the new checkpoint, never a torn one; the
CSV log is only appended to between checkpoints, and resuming rewrites it (atomically) without the
rows past the checkpoint and without a torn last row. Temporary files a killed run left behind are
removed when the next run starts. ``test/training/test_train.py`` SIGKILLs a run mid-epoch and
resumes it.

Multi-GPU / multi-node: run under ``torchrun`` (``torchrun --nproc_per_node=N -m
cfvgg_ros.cli.train --config ...``); each process reads RANK / WORLD_SIZE / LOCAL_RANK, joins
the process group (NCCL on GPUs, gloo on CPUs), wraps student + adapters in
DistributedDataParallel and reads its shard of every epoch through a DistributedSampler.
:func:`launch_local` starts the same on one machine without torchrun.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from .config import TrainConfig, config_from_dict
from .losses import fidelity_loss, labels_on_grids, offline_loss, tracking_loss
from .pairs import PairDataset, training_sequences
from .student import CFVGGStudent, DistillationModel, FeatureAdapters, load_simplenn_weights
from .teachers import Teacher, build_teacher

CHECKPOINT_NAME = "last.pt"
LOG_NAME = "log.csv"
PLOT_NAME = "losses.png"
SUMMARY_NAME = "summary.json"
CHECKPOINT_VERSION = 1


# ----------------------------------------------------------------------------- distributed


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_kind: str) -> DistInfo:
    """Join the process group when WORLD_SIZE > 1 (set by torchrun or :func:`launch_local`)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return info


def _device(config: TrainConfig, info: DistInfo) -> torch.device:
    wanted = config.runtime.device
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device is 'cuda' but no CUDA device is available")
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_worker(rank: int, world_size: int, config_dict: dict, port: int, resume: bool) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    try:
        train(config_from_dict(config_dict), resume=resume)
        if dist.is_initialized():
            dist.barrier()  # no rank tears gloo down while another still talks to it (SIGABRT at exit)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch_local(config: TrainConfig, nprocs: int, resume: bool = False) -> None:
    """Run :func:`train` in ``nprocs`` processes on this machine (DDP; gloo on CPU)."""
    import torch.multiprocessing as mp

    if nprocs < 2:
        train(config, resume=resume)
        return
    mp.spawn(_local_worker, args=(nprocs, config.to_dict(), _free_port(), resume), nprocs=nprocs, join=True)


# ----------------------------------------------------------------------------- building blocks


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seed the legacy global state third-party code may use
    torch.manual_seed(seed)


def build_student(config: TrainConfig, teacher: Teacher | None) -> CFVGGStudent:
    """The student initialised as ``student.init`` says (§IV: random pruning of VGG-M)."""
    init = config.student.init
    if init == "auto":
        init = "prune" if config.teacher.kind == "vggm" else "random"
    if init == "prune":
        from cfvgg_ros.models.matconvnet import load_simplenn

        from .teachers.vggm import prune_to_student

        student, _ = prune_to_student(
            load_simplenn(config.teacher.weights), config.student.keep_fraction, config.student.prune_seed
        )
        return student
    if init == "onnx":
        from .onnx_weights import student_from_onnx

        return student_from_onnx(config.student.weights).train()
    student = CFVGGStudent(channels=config.student.channels)
    if init == "mat":
        from cfvgg_ros.models.matconvnet import load_simplenn

        load_simplenn_weights(student, load_simplenn(config.student.weights))
    return student


def make_labels(
    centres: torch.Tensor, sizes: torch.Tensor, grids: dict[str, tuple[int, int]], config: TrainConfig
) -> dict[str, torch.Tensor]:
    """:func:`labels_on_grids` with the label settings of ``config.loss``."""
    return labels_on_grids(centres, sizes, grids, config.loss.label_sigma_factor, config.loss.min_label_sigma)


def _param_digest(module: torch.nn.Module) -> str:
    sha = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        sha.update(name.encode())
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def _unwrap(model):
    return model.module if isinstance(model, DistributedDataParallel) else model


# ----------------------------------------------------------------------------- checkpoints and logs


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, or not a training checkpoint)."""


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; os.replace is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write) -> None:
    """Replace ``path`` atomically: ``write(handle)`` fills a temporary file beside it (binary),
    which is flushed, fsynced and renamed over ``path``; the folder is fsynced so the rename
    survives a crash. A process killed at any point leaves the old file or the new one (and at
    worst a stray ``.<name>.tmp<pid>``, removed by :func:`remove_stale_temporaries`)."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def remove_stale_temporaries(folder) -> list[Path]:
    """Delete the ``.<name>.tmp<pid>`` files a killed run left in ``folder``; returns them."""
    stale = [p for p in Path(folder).glob(".*.tmp*") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic write (:func:`atomic_write`): a kill at any moment leaves the previous checkpoint or
    this one."""
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path) -> dict:
    """A training checkpoint; :class:`CheckpointError` when it is truncated, corrupt or not one
    (FileNotFoundError when missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch/pickle/zip raise many types for a torn file
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt? {type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is not a cfvgg training checkpoint (version {CHECKPOINT_VERSION})")
    return state


class CsvLog:
    """Append-only CSV of per-iteration losses. Opening it with ``keep_through_step`` (a resume)
    rewrites it atomically with the complete rows up to that step only: rows past the checkpoint
    and a last row torn by a kill mid-append are dropped."""

    def __init__(self, path: Path, columns: list[str], keep_through_step: int | None):
        self.path, self.columns = Path(path), columns
        rows = self._complete_rows(keep_through_step) if keep_through_step is not None else []

        def write(handle) -> None:
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=columns)
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in columns} for r in rows)
            handle.write(text.getvalue().encode())

        atomic_write(self.path, write)

    def _complete_rows(self, keep_through_step: int) -> list[dict]:
        if not self.path.is_file():
            return []
        rows, last = [], 0
        with self.path.open(newline="", errors="replace") as handle:
            for row in csv.DictReader(handle):
                if None in row or any(row.get(k) is None for k in self.columns):
                    continue  # torn (too few or too many fields)
                try:
                    step = int(row["global_step"])
                except (TypeError, ValueError):
                    continue
                if last < step <= keep_through_step:
                    rows.append(row)
                    last = step
        return rows

    def append(self, row: dict) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow(row)

    def sync(self) -> None:
        """fsync the rows appended so far (before a checkpoint, so a power loss keeps them too)."""
        with self.path.open("rb") as handle:
            os.fsync(handle.fileno())

    def read(self) -> list[dict]:
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))


def plot_losses(log_path: Path, png_path: Path) -> None:
    """Loss curves (total, tracking, weighted fidelity) against the global step (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with Path(log_path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fig, ax = plt.subplots(figsize=(7, 4))
    if rows:
        steps = [int(r["global_step"]) for r in rows]
        for key, label in (
            ("loss", "total (Eq. 4)"),
            ("tracking", "tracking (Eq. 8)"),
            ("fidelity_weighted", "lambda * fidelity (Eq. 5)"),
        ):
            values = [float(r[key]) for r in rows]
            ax.plot(steps, values, label=label, linewidth=1)
        if all(float(r[k]) > 0 for r in rows for k in ("loss", "tracking")):
            ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("CF-VGG distillation")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    try:
        atomic_write(png_path, lambda handle: fig.savefig(handle, dpi=100, format="png"))
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- stop requests


class StopRequest:
    """SIGINT / SIGTERM set a flag; the loop checkpoints after the current iteration and returns.
    A second SIGINT raises KeyboardInterrupt at once."""

    def __init__(self):
        self.requested, self.signal_name, self._previous = False, None, {}

    def __enter__(self):
        if hasattr(signal, "SIGTERM") and _in_main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signal_name = True, signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# ----------------------------------------------------------------------------- training


def _batches(sampler: DistributedSampler, batch_size: int, limit: int | None) -> list[list[int]]:
    indices = list(sampler)
    batches = [indices[i : i + batch_size] for i in range(0, len(indices) - batch_size + 1, batch_size)]
    return batches[:limit] if limit else batches


def train(config: TrainConfig, resume: bool = False, on_iteration=None) -> dict:
    """Distil the CF-VGG student as ``config`` says; returns a summary dict (also written to
    ``summary.json``). ``on_iteration(global_step, row)`` is called after every optimiser step
    (rank 0; e.g. for tests). Returns early with ``status="interrupted"`` after SIGINT/SIGTERM,
    having checkpointed; ``resume=True`` continues from ``<output_dir>/last.pt``."""
    config.validate()
    out_dir = Path(config.output_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    state = None
    if resume:
        state = load_checkpoint(checkpoint_path)
        runtime = config.runtime
        config = config_from_dict(_with_legacy_loss_keys(state["config"]))
        config.runtime = runtime  # execution settings may change between runs, the experiment may not
        config.output_dir = str(out_dir)
    if config.runtime.threads:
        torch.set_num_threads(int(config.runtime.threads))
    info = init_distributed("cuda" if _wants_cuda(config) else "cpu")
    device = _device(config, info)
    seed_everything(config.seed)
    if config.runtime.deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    if info.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir)  # left by a run killed mid-write

    teacher = (
        build_teacher(config.teacher.kind, config.teacher.weights)
        if config.loss.fidelity_levels and config.teacher.kind != "none"
        else None
    )
    student = build_student(config, teacher)
    adapters = FeatureAdapters(
        student.level_channels,
        {lv: teacher.channels[lv] for lv in config.loss.fidelity_levels} if teacher else {},
    )
    model = DistillationModel(student, adapters).to(device)
    if teacher is not None:
        teacher.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.optim.lr_start,
        momentum=config.optim.momentum,
        weight_decay=config.optim.weight_decay,
    )
    gamma = (config.optim.lr_end / config.optim.lr_start) ** (1.0 / max(config.optim.epochs - 1, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)

    start_epoch, start_iteration, global_step = 0, 0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, start_iteration, global_step = state["epoch"], state["iteration"], state["global_step"]
        _set_rng_state(state["rng"])
    if info.enabled:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sequences = training_sequences(
        config.data.split, config.data.sequences, config.data.data_root, config.data.allow_unlisted
    )
    dataset = PairDataset(sequences, config.data.pair_settings(), seed=config.seed)
    sampler = DistributedSampler(
        dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=config.seed, drop_last=True
    )
    level_names = ["low", "mid", "high"]
    columns = (
        ["global_step", "epoch", "iteration", "lr", "loss", "tracking", "fidelity", "fidelity_weighted"]
        + [f"tracking_{lv}" for lv in level_names]
        + [f"fidelity_{lv}" for lv in level_names]
        + ["seconds"]
    )
    log = CsvLog(out_dir / LOG_NAME, columns, keep_through_step=global_step) if info.main else None

    def checkpoint(epoch: int, iteration: int) -> None:
        if info.main:
            if log is not None:
                log.sync()
            save_checkpoint(
                checkpoint_path,
                {
                    "version": CHECKPOINT_VERSION,
                    "config": config.to_dict(),
                    "model": _unwrap(model).state_dict(),
                    "student": _unwrap(model).student.state_dict(),
                    "student_channels": list(student.channels),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                    "iteration": iteration,
                    "global_step": global_step,
                    "rng": _rng_state(),
                    "teacher": getattr(teacher, "source", "") or config.teacher.kind,
                    "data": [f"{s.dataset}/{s.name}" for s in sequences],
                    "world_size": info.world_size,
                },
            )
        if info.enabled:
            dist.barrier()

    status, stop_signal = "finished", None
    bar = None
    if info.main and config.runtime.progress:
        from tqdm import tqdm

        per_epoch = len(_batches(sampler, config.data.batch_size, config.runtime.max_iterations_per_epoch))
        bar = tqdm(total=config.optim.epochs * per_epoch, initial=global_step, unit="it", dynamic_ncols=True)
    with StopRequest() as stop:
        epoch = start_epoch
        while epoch < config.optim.epochs:
            sampler.set_epoch(epoch)
            dataset.set_epoch(epoch)
            batches = _batches(sampler, config.data.batch_size, config.runtime.max_iterations_per_epoch)
            first = start_iteration if epoch == start_epoch else 0
            loader = DataLoader(dataset, batch_sampler=batches[first:], num_workers=config.data.num_workers)
            iterator = iter(loader)
            model.train()
            for iteration in range(first, len(batches)):
                if _stop_everywhere(stop.requested, info, device):
                    status = "interrupted"
                    break
                tick = time.perf_counter()
                try:
                    batch = next(iterator)
                except Exception:
                    if stop.requested:  # a data worker died of the same Ctrl+C
                        status = "interrupted"
                        break
                    raise
                row = _step(model, teacher, batch, optimizer, config, device)
                if info.enabled:
                    row = _mean_over_ranks(row, device)
                global_step += 1
                row.update(
                    global_step=global_step,
                    epoch=epoch,
                    iteration=iteration,
                    lr=optimizer.param_groups[0]["lr"],
                    seconds=round(time.perf_counter() - tick, 4),
                )
                if log is not None:
                    log.append(row)
                if bar is not None:
                    bar.set_postfix(
                        epoch=epoch,
                        loss=f"{row['loss']:.4g}",
                        trk=f"{row['tracking']:.4g}",
                        fid=f"{row['fidelity']:.4g}",
                        lr=f"{row['lr']:.2g}",
                    )
                    bar.update(1)
                if on_iteration is not None and info.main:
                    on_iteration(global_step, row)
                every = config.runtime.checkpoint_every
                if every and global_step % every == 0 and iteration + 1 < len(batches):
                    checkpoint(epoch, iteration + 1)
            del iterator, loader
            if status == "interrupted":
                stop_signal = stop.signal_name
                checkpoint(epoch, iteration)
                break
            epoch += 1
            scheduler.step()
            checkpoint(epoch, 0)
            if info.main:
                plot_losses(out_dir / LOG_NAME, out_dir / PLOT_NAME)
    if bar is not None:
        bar.close()

    digests = [_param_digest(_unwrap(model))]
    if info.enabled:
        gathered = [None] * info.world_size
        dist.all_gather_object(gathered, digests[0])
        digests = gathered
        if len(set(digests)) != 1:
            raise RuntimeError(f"DDP ranks ended with different weights: {digests}")
    summary = {
        "status": status,
        "signal": stop_signal,
        "epoch": epoch,
        "global_step": global_step,
        "world_size": info.world_size,
        "rank_digests": digests,
        "checkpoint": str(checkpoint_path),
    }
    if log is not None:
        rows = log.read()
        if rows:
            summary["first_loss"], summary["last_loss"] = float(rows[0]["loss"]), float(rows[-1]["loss"])
        plot_losses(out_dir / LOG_NAME, out_dir / PLOT_NAME)
        text = json.dumps(summary, indent=2)
        atomic_write(out_dir / SUMMARY_NAME, lambda handle: handle.write(text.encode()))
    return summary


def _with_legacy_loss_keys(values: dict) -> dict:
    """Checkpoints written before the relative DCF regulariser and the normalised fidelity loss
    existed used neither: keep them so when resuming."""
    values = dict(values)
    loss = dict(values.get("loss") or {})
    loss.setdefault("dcf_lambda_relative", False)
    loss.setdefault("fidelity_normalize", False)
    values["loss"] = loss
    return values


def _wants_cuda(config: TrainConfig) -> bool:
    return config.runtime.device == "cuda" or (config.runtime.device == "auto" and torch.cuda.is_available())


def _stop_everywhere(local: bool, info: DistInfo, device: torch.device) -> bool:
    """Whether any rank was asked to stop (all ranks must stop at the same iteration)."""
    if not info.enabled:
        return local
    flag = torch.tensor([1.0 if local else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)


def _mean_over_ranks(row: dict, device: torch.device) -> dict:
    """Average the logged loss values over all ranks (each rank sees its own data shard)."""
    keys = sorted(k for k, v in row.items() if isinstance(v, float))
    values = torch.tensor([row[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    values /= dist.get_world_size()
    return {**row, **dict(zip(keys, values.tolist(), strict=True))}


def _step(model, teacher, batch, optimizer, config: TrainConfig, device) -> dict:
    """One SGD step on Eq. 4; returns the logged loss values."""
    template = batch["template"].to(device, non_blocking=True)
    search = batch["search"].to(device, non_blocking=True)
    fx, fz, ax, az = model(template, search)
    grids = {lv: tuple(fx[lv].shape[-2:]) for lv in fx}
    row = {f"tracking_{lv}": "" for lv in ("low", "mid", "high")}
    row.update({f"fidelity_{lv}": "" for lv in ("low", "mid", "high")})
    zero = torch.zeros((), device=device)
    tracking, fidelity = zero, zero
    if config.loss.tracking_levels:
        levels = {lv: grids[lv] for lv in config.loss.tracking_levels}
        x_labels = make_labels(
            batch["template_centre"].to(device), batch["template_size"].to(device), levels, config
        )
        z_labels = make_labels(
            batch["search_centre"].to(device), batch["search_size"].to(device), levels, config
        )
        tracking, terms = tracking_loss(
            fx,
            fz,
            x_labels,
            z_labels,
            config.loss.dcf_lambda,
            config.loss.cosine_window,
            config.loss.reduction,
            config.loss.dcf_lambda_relative,
        )
        row.update({f"tracking_{lv}": float(v.detach()) for lv, v in terms.items()})
    if teacher is not None and config.loss.fidelity_levels:
        levels = {lv: grids[lv] for lv in config.loss.fidelity_levels}
        tx, tz = teacher.features(template, levels), teacher.features(search, levels)
        fidelity, terms = fidelity_loss(
            ax, az, tx, tz, config.loss.fidelity_levels, config.loss.reduction, config.loss.fidelity_normalize
        )
        row.update({f"fidelity_{lv}": float(v.detach()) for lv, v in terms.items()})
    loss = offline_loss(tracking, fidelity, config.loss.fidelity_weight, config.loss.tracking_weight)
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss (tracking {tracking.item()}, fidelity {fidelity.item()}); lower"
            " optim.lr_start, set optim.grad_clip or rescale loss.fidelity_weight"
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.optim.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
    optimizer.step()
    row.update(
        loss=loss.item(),
        tracking=float(tracking.detach()),
        fidelity=float(fidelity.detach()),
        fidelity_weighted=float(fidelity.detach()) * config.loss.fidelity_weight,
    )
    return row


def _rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
