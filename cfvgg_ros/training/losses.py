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
"""

from __future__ import annotations

import math

import torch

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


def dcf_response(
    template: torch.Tensor, search: torch.Tensor, label: torch.Tensor, reg: float
) -> torch.Tensor:
    """Correlation response r (N x h x w) of search features (N x D x h x w) to the filter
    learned in closed form on template features with label y (N x h x w or h x w):

        w_hat_d = conj(y_hat) * x_hat_d / (sum_i x_hat_i * conj(x_hat_i) + reg)      (Eq. 2)
        r = IDFT(sum_d conj(w_hat_d) * z_hat_d)                                      (Eq. 3)

    Real signals: rfft2 / irfft2 over the last two axes."""
    if template.shape != search.shape or template.ndim != 4:
        raise ValueError(
            f"template and search features must both be N x D x h x w, got {tuple(template.shape)} "
            f"and {tuple(search.shape)}"
        )
    if reg <= 0:
        raise ValueError(f"the DCF regulariser must be positive, got {reg}")
    size = template.shape[-2:]
    if label.shape[-2:] != size:
        raise ValueError(f"label size {tuple(label.shape[-2:])} differs from the feature size {tuple(size)}")
    x_hat = torch.fft.rfft2(template)
    z_hat = torch.fft.rfft2(search)
    y_hat = torch.fft.rfft2(label)
    if y_hat.ndim == 3:
        y_hat = y_hat.unsqueeze(1)
    energy = (x_hat * x_hat.conj()).real.sum(dim=1, keepdim=True) + reg
    w_hat = y_hat.conj() * x_hat / energy
    return torch.fft.irfft2((w_hat.conj() * z_hat).sum(dim=1), s=size)


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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Multi-level correlation tracking loss sum_l ||r_l - g_l||^2 (Eqs. 6 and 8).

    Per level: the DCF is learned on the template features with ``template_labels[l]`` (the
    Gaussian at the target position in the template), applied to the search features, and
    the response is compared with ``search_labels[l]`` (the Gaussian at the target position in
    the search patch). ``window`` tapers both feature maps with a cosine window first.
    Returns the total and the per-level terms."""
    terms = {}
    for level in template_labels:
        x, z = template[level], search[level]
        if window:
            taper = cosine_window(x.shape[-2:], dtype=x.dtype).to(x.device)
            x, z = x * taper, z * taper
        response = dcf_response(x, z, template_labels[level], reg)
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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_fidelity = L_target + L_search = ||phi(x) - psi(x)||^2 + ||phi(z) - psi(z)||^2 (Eq. 5),
    summed over ``levels`` (default: every teacher level); the student features are the
    adapter (1x1 conv) outputs with the teacher's channel counts. Returns total and per level."""
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
        terms[level] = _squared_error(
            student_template[level], teacher_template[level], reduction
        ) + _squared_error(student_search[level], teacher_search[level], reduction)
    if not terms:
        raise ValueError("fidelity_loss needs at least one level")
    return sum(terms.values()), terms


def offline_loss(tracking: torch.Tensor, fidelity: torch.Tensor, fidelity_weight: float) -> torch.Tensor:
    """L_offline = L_tracking + lambda * L_fidelity (Eq. 4, weight decay left to the optimiser)."""
    if not math.isfinite(fidelity_weight) or fidelity_weight < 0:
        raise ValueError(f"the fidelity weight lambda must be finite and >= 0, got {fidelity_weight}")
    return tracking + fidelity_weight * fidelity
