"""Generative sample space model (ECO Sec. 3.2): a Gaussian mixture of at most ``L`` components
whose means are the training samples and whose priors are the sample weights.

Each new sample either fills a free slot, replaces a component whose prior decayed below
``learning_rate * (1 - learning_rate)^(2L)``, merges into its nearest component, or, when the two
nearest existing components are closer to each other, those two merge and the new sample takes
the freed slot. Distances use the exact Gram-matrix update (ECO's ``'exact'`` mode).
"""

from __future__ import annotations

import numpy as np

from .kernels import weighted_inner_all


class SampleSpace:
    """Samples (one array (L, C_d, Ny_d, Nx1_d) per feature block), priors, Gram and distance matrices."""

    def __init__(self, block_shapes, num_samples: int, learning_rate: float, merge_type: str = "merge"):
        self.num_samples = int(num_samples)
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not 0.0 < learning_rate < 1.0:
            raise ValueError(f"learning_rate must lie in (0, 1), got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.merge_type = merge_type.lower()
        if self.merge_type not in ("merge", "replace"):
            raise ValueError(f"merge_type must be 'merge' or 'replace', got {merge_type!r}")
        self.samples = [np.zeros((self.num_samples,) + tuple(s), dtype=np.complex64) for s in block_shapes]
        self.prior_weights = np.zeros(self.num_samples)
        self.gram = np.zeros((self.num_samples, self.num_samples))
        self.distance = np.full((self.num_samples, self.num_samples), np.inf)
        self.num_training_samples = 0
        self.minimum_sample_weight = self.learning_rate * (1 - self.learning_rate) ** (2 * self.num_samples)

    # ------------------------------------------------------------------ inner products
    def inner_with_all(self, sample) -> np.ndarray:
        """``Re <mu_l, x>`` (full-spectrum inner product) of ``sample`` with every stored sample
        (zero for empty slots)."""
        out = np.zeros(self.num_samples)
        for stored, x in zip(self.samples, sample, strict=True):
            out += weighted_inner_all(
                stored, np.ascontiguousarray(x, dtype=np.complex64), self.num_training_samples
            )
        return out

    @staticmethod
    def inner(a, b) -> float:
        """Real full-spectrum inner product of two block lists."""
        total = 0.0
        for x, y in zip(a, b, strict=True):
            total += 2.0 * np.vdot(x, y).real - np.vdot(x[..., 0], y[..., 0]).real
        return float(total)

    # ------------------------------------------------------------------ update
    def update(self, sample) -> tuple[int, int]:
        """Insert ``sample`` (list of (C_d, Ny_d, Nx1_d) arrays). Returns ``(merged_id, new_id)``:
        the slot whose content was merged (-1 if none) and the slot the new sample went to (-1 if
        it was merged into an existing component)."""
        if len(sample) != len(self.samples):
            raise ValueError(f"sample has {len(sample)} blocks, expected {len(self.samples)}")
        for x, s in zip(sample, self.samples, strict=True):
            if x.shape != s.shape[1:]:
                raise ValueError(f"sample block shape {x.shape} != {s.shape[1:]}")
        lr = self.learning_rate
        n = self.num_training_samples
        gram_vector = self.inner_with_all(sample)
        new_norm = self.inner(sample, sample)
        dist_vector = np.maximum(new_norm + np.diag(self.gram) - 2.0 * gram_vector, 0.0)
        dist_vector[n:] = np.inf
        merged_id, new_id = -1, -1
        if n == self.num_samples:
            min_id = int(np.argmin(self.prior_weights))
            if self.prior_weights[min_id] < self.minimum_sample_weight:
                # replace the component whose prior decayed away
                self._update_distances(gram_vector, new_norm, min_id, -1, 0.0, 1.0)
                self.prior_weights[min_id] = 0.0
                self.prior_weights *= (1 - lr) / self.prior_weights.sum()
                self.prior_weights[min_id] = lr
                self._store(min_id, sample)
                new_id = min_id
            else:
                closest_new = int(np.argmin(dist_vector))
                new_min_dist = dist_vector[closest_new]
                flat = int(np.argmin(self.distance))
                id1, id2 = divmod(flat, self.num_samples)
                existing_min_dist = self.distance[id1, id2]
                if id1 == id2:
                    raise RuntimeError("sample space distance matrix is corrupt (zero-distance diagonal)")
                self.prior_weights *= 1 - lr
                if new_min_dist < existing_min_dist:
                    # merge the new sample into its nearest component
                    merged_id = closest_new
                    a1 = self.prior_weights[merged_id]
                    a2 = lr
                    merged = self._merge([s[merged_id] for s in self.samples], sample, a1, a2)
                    self._update_distances(gram_vector, new_norm, merged_id, -1, a1, a2)
                    self.prior_weights[merged_id] = a1 + a2
                    self._store(merged_id, merged)
                else:
                    # merge the two nearest components; the new sample takes the freed slot
                    if self.prior_weights[id2] > self.prior_weights[id1]:
                        id1, id2 = id2, id1
                    a1, a2 = self.prior_weights[id1], self.prior_weights[id2]
                    merged = self._merge(
                        [s[id1] for s in self.samples], [s[id2] for s in self.samples], a1, a2
                    )
                    self._update_distances(gram_vector, new_norm, id1, id2, a1, a2)
                    self.prior_weights[id1] = a1 + a2
                    self.prior_weights[id2] = lr
                    self._store(id1, merged)
                    self._store(id2, sample)
                    merged_id, new_id = id1, id2
        else:
            pos = n
            self._update_distances(gram_vector, new_norm, pos, -1, 0.0, 1.0)
            if n == 0:
                self.prior_weights[pos] = 1.0
            else:
                self.prior_weights *= 1 - lr
                self.prior_weights[pos] = lr
            self._store(pos, sample)
            new_id = pos
            self.num_training_samples += 1
        self.prior_weights /= self.prior_weights.sum()
        return merged_id, new_id

    def _store(self, index: int, sample) -> None:
        for s, x in zip(self.samples, sample, strict=True):
            s[index] = x

    def _merge(self, a, b, wa: float, wb: float):
        if self.merge_type == "replace":
            return [np.array(x, copy=True) for x in a]
        t = wa + wb
        return [((wa / t) * x + (wb / t) * y).astype(np.complex64) for x, y in zip(a, b, strict=True)]

    def _update_distances(self, gram_vector, new_norm, id1: int, id2: int, w1: float, w2: float) -> None:
        """Exact Gram/distance update after slot ``id1`` becomes ``(w1 mu_id1 + w2 x) / (w1 + w2)``
        (``id2 < 0``; ``w1 = 0`` is a plain insertion) or the merge of slots ``id1``, ``id2`` with the
        new sample stored at ``id2``."""
        g = self.gram
        if self.merge_type == "replace" and w1 > 0:  # the slot keeps its content
            w2 = 0.0
        if id2 < 0:
            norm_id1 = g[id1, id1]
            if w1 == 0:
                g[:, id1] = gram_vector
                g[id1, :] = gram_vector
                g[id1, id1] = new_norm
            else:
                t = w1 + w2
                a, b = w1 / t, w2 / t
                row = a * g[:, id1] + b * gram_vector
                g[:, id1] = row
                g[id1, :] = row
                g[id1, id1] = a * a * norm_id1 + b * b * new_norm + 2 * a * b * gram_vector[id1]
        else:
            t = w1 + w2
            a, b = w1 / t, w2 / t
            if self.merge_type == "replace":
                a, b = 1.0, 0.0
            norm1, norm2, g12 = g[id1, id1], g[id2, id2], g[id1, id2]
            row = a * g[:, id1] + b * g[:, id2]
            g[:, id1] = row
            g[id1, :] = row
            g[id1, id1] = a * a * norm1 + b * b * norm2 + 2 * a * b * g12
            gram_vector = gram_vector.copy()
            gram_vector[id1] = a * gram_vector[id1] + b * gram_vector[id2]
            g[:, id2] = gram_vector
            g[id2, :] = gram_vector
            g[id2, id2] = new_norm
        self._refresh_distance_rows([id1] if id2 < 0 else [id1, id2])

    def _refresh_distance_rows(self, ids) -> None:
        n_valid = max(self.num_training_samples, max(ids) + 1)
        diag = np.diag(self.gram)
        for i in ids:
            d = np.maximum(diag[i] + diag - 2.0 * self.gram[i], 0.0)
            d[n_valid:] = np.inf
            d[i] = np.inf
            self.distance[i, :] = d
            self.distance[:, i] = d
