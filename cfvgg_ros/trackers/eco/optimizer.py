"""Preconditioned conjugate gradient of C-COT/ECO (C-COT Sec. 3.3, ECO Sec. 3.1/3.3).

Vectors are lists of numpy arrays (filter blocks, projection matrices); the inner product is
supplied by the caller (Hermitian half spectra need their own). Polak-Ribiere or Fletcher-Reeves
updates; a :class:`CGState` carries the search direction across calls so that the few iterations
per frame continue the previous optimisation, with the old direction forgotten by
``forget_factor`` (ECO's ``(1 - learning_rate)^CG_forgetting_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Vector = list


@dataclass
class CGState:
    """Search direction ``p``, last ``rho = <r, M^-1 r>`` and (Polak-Ribiere) last residual."""

    p: Vector
    rho: float
    r_prev: Vector | None


def vec_axpy(a: Vector, alpha: float, b: Vector) -> Vector:
    """``a + alpha * b`` blockwise (new arrays)."""
    return [x + np.asarray(alpha, dtype=x.real.dtype) * y for x, y in zip(a, b, strict=True)]


def vec_inner_real(a: Vector, b: Vector) -> float:
    """Plain real inner product ``sum Re(conj(a) b)`` over all blocks."""
    return float(sum(np.vdot(x, y).real for x, y in zip(a, b, strict=True)))


def conjugate_gradient(
    apply_a: Callable[[Vector], Vector],
    b: Vector,
    x0: Vector,
    inner: Callable[[Vector, Vector], float] = vec_inner_real,
    precond: Callable[[Vector], Vector] | None = None,
    max_iter: int = 10,
    use_fr: bool = False,
    state: CGState | None = None,
    forget_factor: float = 1.0,
    tol: float = 0.0,
) -> tuple[Vector, CGState | None, list[float]]:
    """Solve ``A x = b`` (A Hermitian positive definite w.r.t. ``inner``) starting from ``x0``.

    Returns ``(x, state, residual_norms)``; pass ``state`` back to continue with the old search
    direction (its ``rho`` divided by ``forget_factor`` <= 1 down-weights that direction). Stops
    early when ``sqrt(<r, r>) <= tol * sqrt(<b, b>)`` or on a breakdown (zero/invalid ``rho`` or
    ``<p, A p> <= 0``).
    """
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    x = [np.array(v, copy=True) for v in x0]
    ax = apply_a(x)
    r = [bi - ai for bi, ai in zip(b, ax, strict=True)]
    p, rho, r_prev = None, 1.0, None
    if state is not None:
        p = state.p
        rho = state.rho / max(forget_factor, 1e-30)
        r_prev = state.r_prev
    b_norm = math.sqrt(max(inner(b, b), 0.0))
    res_norms = []
    for it in range(max_iter):
        res = math.sqrt(max(inner(r, r), 0.0))
        res_norms.append(res)
        if tol > 0 and res <= tol * b_norm:
            break
        z = precond(r) if precond is not None else r
        rho1 = rho
        rho = inner(r, z)
        if rho == 0.0 or not math.isfinite(rho):
            break
        if p is None:
            p = [np.array(v, copy=True) for v in z]
        else:
            if use_fr or r_prev is None:
                beta = rho / rho1
            else:
                beta = (rho - inner(r_prev, z)) / rho1
            if not math.isfinite(beta):
                break
            beta = max(0.0, beta)
            p = vec_axpy(z, beta, p)
        q = apply_a(p)
        pq = inner(p, q)
        if pq <= 0.0 or not math.isfinite(pq):
            break
        alpha = rho / pq
        if not use_fr:
            r_prev = r
        x = vec_axpy(x, alpha, p)
        if it < max_iter - 1:
            r = vec_axpy(r, -alpha, q)
    new_state = CGState(p=p, rho=rho, r_prev=r_prev) if p is not None else state
    return x, new_state, res_norms
