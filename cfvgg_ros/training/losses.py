"""Distillation losses of paper §IV-A, differentiable in torch.

* :func:`dcf_response` - closed-form DCF (Eq. 2) learned on template features and applied to
  search features (Eq. 3), in the Fourier domain with ``torch.fft`` (autograd gives the
  gradients of Eq. 7);
* :func:`tracking_loss` - ||r_l - g_l||^2 summed over the levels (Eqs. 6 and 8);
* :func:`fidelity_loss` - ||phi(x) - psi(x)||^2 + ||phi(z) - psi(z)||^2 (Eq. 5) on the adapted
  student features against the frozen teacher;
* :func:`offline_loss` - L_tracking + lambda * L_fidelity (Eq. 4; the gamma ||Theta||^2 term is
  the optimiser's weight decay, gamma = weight_decay / 2).

Squared norms are summed over each sample's elements and averaged over the batch, as the paper
writes them; ``reduction="mean"`` averages over elements instead.

The DCF regulariser is *relative* by default in :func:`tracking_loss`: the lambda of Eq. 2 is
``reg`` times the mean spectral energy of the template features. The features are not
normalised and their energy differs by orders of magnitude between levels (low ~1e4-1e9 per
frequency, high ~1e-2-1e3 for the CF-VGG student at 128 px), so a fixed lambda = 1e-4 is zero
for some levels and dominant for others, and the network can lower or raise the effective
regularisation just by rescaling its features (weight decay shrinks them towards the regime
where lambda dominates and the response vanishes: loss -> ||g||^2). With the relative form the
response is invariant to the feature scale and the same ``reg`` means the same filter on
every level.
"""

from __future__ import annotations

import math

import torch

from cfvgg_ros.models.contract import receptive_field

from .student import student_geometry

REDUCTIONS = ("sum", "mean")


def gaussian_labels(
    size: tuple[int, int], centres: torch.Tensor, sigmas: torch.Tensor, dtype=torch.float32
) -> torch.Tensor:
    """N x h x w Gaussian maps exp(-|p - c_n|^2 / (2 sigma_n^2)), peak 1 at ``centres`` (N x 2,
    (y, x) in cell units, fractional allowed), ``sigmas`` (N,) in cells."""
    h, w = int(size[0]), int(size[1])
    centres = torch.as_tensor(centres, dtype=dtype).reshape(-1, 2)
    sigmas = torch.as_tensor(sigmas, dtype=dtype).reshape(-1)
    if torch.any(sigmas <= 0):
        raise ValueError(f"label sigmas must be positive, got {sigmas.tolist()}")
    ys = torch.arange(h, dtype=dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=dtype).view(1, 1, w)
    d2 = (ys - centres[:, 0].view(-1, 1, 1)) ** 2 + (xs - centres[:, 1].view(-1, 1, 1)) ** 2
    return torch.exp(-0.5 * d2 / sigmas.view(-1, 1, 1) ** 2)


def cosine_window(size: tuple[int, int], dtype=torch.float32) -> torch.Tensor:
    """h x w Hann window (outer product), the usual CF taper against boundary effects."""
    wy = torch.hann_window(int(size[0]) + 2, periodic=False, dtype=dtype)[1:-1]
    wx = torch.hann_window(int(size[1]) + 2, periodic=False, dtype=dtype)[1:-1]
    return wy[:, None] * wx[None, :]


RELATIVE_REG_FLOOR = 1e-12  # keeps all-zero template features from dividing 0 by 0


def dcf_response(
    template: torch.Tensor, search: torch.Tensor, label: torch.Tensor, reg: float, relative: bool = False
) -> torch.Tensor:
    """Correlation response r (M x h x w) of search features (M x D x h x w) to the filter
    learned in closed form on template features (N x D x h x w) with label y (N x h x w or h x w):

        w_hat_d = conj(y_hat) * x_hat_d / (sum_i x_hat_i * conj(x_hat_i) + lambda)   (Eq. 2)
        r = IDFT(sum_d conj(w_hat_d) * z_hat_d)                                      (Eq. 3)

    i.e. r_hat = y_hat * sum_d conj(x_hat_d) z_hat_d / (E + lambda): a correlation, so the peak
    of r sits at the template label's peak moved by the displacement of z relative to x.
    ``lambda = reg`` when ``relative`` is False; otherwise ``lambda = reg * mean_k E(k)`` per
    template, where mean_k E(k) = sum_{d,p} x_d[p]^2 by Parseval (the DFT is unnormalised), plus
    :data:`RELATIVE_REG_FLOOR`; r is then invariant to the scale of the features.
    M = N * K: search patches n*K .. n*K + K - 1 are correlated with the filter of template n
    (K > 1: the positive and negative samples of the online adaptation, Eq. 10).
    Real signals: rfft2 / irfft2 over the last two axes."""
    if template.ndim != 4 or search.ndim != 4 or template.shape[1:] != search.shape[1:]:
        raise ValueError(
            f"template and search features must be N x D x h x w and N*K x D x h x w, got "
            f"{tuple(template.shape)} and {tuple(search.shape)}"
        )
    n, m = template.shape[0], search.shape[0]
    if n == 0 or m % n:
        raise ValueError(f"{m} search patches cannot be split evenly over {n} templates")
    if reg <= 0:
        raise ValueError(f"the DCF regulariser must be positive, got {reg}")
    size = template.shape[-2:]
    if label.shape[-2:] != size:
        raise ValueError(f"label size {tuple(label.shape[-2:])} differs from the feature size {tuple(size)}")
    x_hat = torch.fft.rfft2(template)  # N x D x h x w'
    z_hat = torch.fft.rfft2(search).unflatten(0, (n, m // n))  # N x K x D x h x w'
    y_hat = torch.fft.rfft2(label)
    y_hat = y_hat.view(-1, 1, *y_hat.shape[-2:])  # N (or 1) x 1 x h x w'
    energy = (x_hat.real.square() + x_hat.imag.square()).sum(dim=1, keepdim=True)
    if relative:
        scale = template.square().sum(dim=(1, 2, 3)).view(-1, 1, 1, 1)
        energy = energy + (reg * scale + RELATIVE_REG_FLOOR)
    else:
        energy = energy + reg
    conj_w_hat = y_hat * x_hat.conj() / energy  # conj(w_hat_d) of Eq. 2
    response_hat = (conj_w_hat.unsqueeze(1) * z_hat).sum(dim=2)  # N x K x h x w'
    return torch.fft.irfft2(response_hat, s=size).flatten(0, 1)


def _squared_error(a: torch.Tensor, b: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    diff = (a - b).pow(2).flatten(1)
    return diff.sum(dim=1).mean() if reduction == "sum" else diff.mean()


def tracking_loss(
    template: dict[str, torch.Tensor],
    search: dict[str, torch.Tensor],
    template_labels: dict[str, torch.Tensor],
    search_labels: dict[str, torch.Tensor],
    reg: float,
    window: bool = True,
    reduction: str = "sum",
    relative_reg: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Multi-level correlation tracking loss sum_l ||r_l - g_l||^2 (Eqs. 6 and 8).

    Per level: the DCF is learned on the template features with ``template_labels[l]`` (the
    Gaussian at the target position in the template), applied to the search features, and
    the response is compared with ``search_labels[l]`` (the Gaussian at the target position in
    the search patch). ``window`` tapers both feature maps with a cosine window first;
    ``reg`` is relative to the template's feature energy when ``relative_reg`` (module
    docstring). ``search`` may hold several search patches per template (N*K x D x h x w with
    N templates; labels N*K x h x w): the filter of template n is applied to search patches
    n*K .. n*K + K - 1 (used by the online adaptation, Eq. 10). Returns the total and the
    per-level terms."""
    terms = {}
    for level in template_labels:
        x, z = template[level], search[level]
        if window:
            taper = cosine_window(x.shape[-2:], dtype=x.dtype).to(x.device)
            x, z = x * taper, z * taper
        response = dcf_response(x, z, template_labels[level], reg, relative_reg)
        terms[level] = _squared_error(response, search_labels[level], reduction)
    if not terms:
        raise ValueError("tracking_loss needs at least one level")
    return sum(terms.values()), terms


def fidelity_loss(
    student_template: dict[str, torch.Tensor],
    student_search: dict[str, torch.Tensor],
    teacher_template: dict[str, torch.Tensor],
    teacher_search: dict[str, torch.Tensor],
    levels=None,
    reduction: str = "sum",
    normalize: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_fidelity = L_target + L_search = ||phi(x) - psi(x)||^2 + ||phi(z) - psi(z)||^2 (Eq. 5),
    summed over ``levels`` (default: every teacher level); the student features are the
    adapter (1x1 conv) outputs with the teacher's channel counts. With ``normalize`` each
    sample's level term is divided by the teacher's energy ||psi(x)||^2 + ||psi(z)||^2 (a
    relative error, 1 for an all-zero student; ``reduction`` is then irrelevant), which makes
    the levels comparable and lambda independent of the teacher's feature scale. Returns total
    and per level."""
    levels = list(teacher_template) if levels is None else list(levels)
    terms = {}
    for level in levels:
        for what, s, t in (
            ("template", student_template, teacher_template),
            ("search", student_search, teacher_search),
        ):
            if s[level].shape != t[level].shape:
                raise ValueError(
                    f"{level} {what}: student {tuple(s[level].shape)} vs teacher {tuple(t[level].shape)}"
                )
        if normalize:
            error = (student_template[level] - teacher_template[level]).square().flatten(1).sum(1) + (
                student_search[level] - teacher_search[level]
            ).square().flatten(1).sum(1)
            energy = teacher_template[level].square().flatten(1).sum(1) + teacher_search[level].square().flatten(
                1
            ).sum(1)
            terms[level] = (error / energy.clamp_min(1e-12)).mean()
            continue
        terms[level] = _squared_error(
            student_template[level], teacher_template[level], reduction
        ) + _squared_error(student_search[level], teacher_search[level], reduction)
    if not terms:
        raise ValueError("fidelity_loss needs at least one level")
    return sum(terms.values()), terms


def offline_loss(
    tracking: torch.Tensor, fidelity: torch.Tensor, fidelity_weight: float, tracking_weight: float = 1.0
) -> torch.Tensor:
    """L_offline = w * L_tracking + lambda * L_fidelity (Eq. 4 with w = 1; weight decay left to the
    optimiser). ``tracking_weight`` w = 0 gives Table IV's "only fidelity loss" ablation."""
    if not math.isfinite(fidelity_weight) or fidelity_weight < 0:
        raise ValueError(f"the fidelity weight lambda must be finite and >= 0, got {fidelity_weight}")
    if not math.isfinite(tracking_weight) or tracking_weight < 0:
        raise ValueError(f"the tracking weight must be finite and >= 0, got {tracking_weight}")
    return tracking_weight * tracking + fidelity_weight * fidelity


def _level_geometry() -> dict[str, tuple[int, float]]:
    """(stride, offset) of every student output: cell i is centred at offset + stride * i."""
    return {level: receptive_field(layers)[:2] for level, layers in student_geometry().items()}


def labels_on_grids(
    centres: torch.Tensor,
    sizes: torch.Tensor,
    grids: dict[str, tuple[int, int]],
    sigma_factor: float,
    min_sigma: float,
) -> dict[str, torch.Tensor]:
    """Gaussian labels g_l (Eq. 8) at the target centres (N x 2, (y, x) patch pixels) on each
    level's grid; sigma = max(sigma_factor * target size / stride, min_sigma) cells, so every
    level's label covers the same image area."""
    geometry = _level_geometry()
    labels = {}
    for level, grid in grids.items():
        stride, offset = geometry[level]
        cells = (centres - offset) / stride
        sigma = torch.clamp(sigma_factor * sizes / stride, min=min_sigma)
        labels[level] = gaussian_labels(grid, cells, sigma).to(centres.device)
    return labels
