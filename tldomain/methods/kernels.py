"""Gaussian kernels and MMD estimators shared by DAN (MMD) and JAN.

Kernel values are sums of Gaussians exp(-d^2 / (2 sigma_k^2)) whose bandwidths
sigma_k^2 = 2^k * mean(d^2) follow the mean pairwise squared distance of the
batch (Long et al. 2015; Transfer-Learning-Library's GaussianKernel), the mean
held constant for the gradient.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from tldomain.methods.losses import loss_dtype

DAN_BANDWIDTH_EXPONENTS = (-3, -2, -1, 0, 1)


def squared_distances(z: jax.Array) -> jax.Array:
  sq = jnp.sum(z * z, axis=-1)
  return jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)


def multi_gaussian_kernel(z: jax.Array,
                          exponents: Sequence[float] = DAN_BANDWIDTH_EXPONENTS) -> jax.Array:
  """Kernel matrix over the rows of z: sum_k exp(-d^2 / (2 * 2^k * mean d^2))."""
  d2 = squared_distances(loss_dtype(z))
  mean_d2 = jax.lax.stop_gradient(jnp.mean(d2))
  return sum(jnp.exp(-d2 / (2.0 * (2.0 ** k) * mean_d2 + 1e-12)) for k in exponents)


def fixed_gaussian_kernel(z: jax.Array, sigma: float) -> jax.Array:
  """exp(-d^2 / (2 sigma^2)) with a fixed bandwidth (JAN's kernel on softmax outputs)."""
  return jnp.exp(-squared_distances(loss_dtype(z)) / (2.0 * sigma ** 2))


ESTIMATORS = ("quadratic", "linear", "tllib_quadratic", "tllib_linear")


def mmd_from_kernel(kernel: jax.Array, n: int, estimator: str = "quadratic") -> jax.Array:
  """MMD^2 from the kernel matrix of [source; target], both halves of size n.

  quadratic: the unbiased U-statistic (Gretton et al. 2012, eq. 3),
    1/(n(n-1)) sum_{i != j} k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i);
  linear: the linear-time statistic (Gretton et al. 2012, Lemma 14) over the
    disjoint pairs (2i, 2i+1): 1/(n/2) sum_i k(x,x') + k(y,y') - k(x,y') - k(x',y).
  Both are zero when the two halves are the same batch.

  tllib_quadratic, tllib_linear: Transfer-Learning-Library's estimators
  (`_update_index_matrix` in tllib/alignment/dan.py, also used by its JAN), the
  objective its DAN and JAN recipes optimise: sum(kernel * W) + 2/(n-1), where
  W weighs within-domain pairs i != j by 1/(n(n-1)) and all n^2 cross pairs by
  -1/n^2 (quadratic), or the n overlapping wrap-around pairs (i, i+1 mod n) by
  +-1/n (linear). The constant only shifts the value (TLL adds it "to ensure
  the loss is positive"); with it, neither is zero on identical halves.
  """
  if kernel.shape != (2 * n, 2 * n):
    raise ValueError(f"Kernel of shape {kernel.shape} is not that of two batches of {n}.")
  if estimator not in ESTIMATORS:
    raise ValueError(f"Unknown MMD estimator {estimator!r}. Valid names: {', '.join(ESTIMATORS)}.")
  if estimator == "linear":
    if n % 2:
      raise ValueError(f"The linear MMD estimator needs an even batch size, not {n}.")
    i = jnp.arange(0, n, 2)
    j = i + 1
    h = (kernel[i, j] + kernel[n + i, n + j] - kernel[i, n + j] - kernel[j, n + i])
    return jnp.mean(h)
  if n < 2:
    raise ValueError(f"The {estimator} MMD estimator needs at least 2 examples per domain.")
  if estimator == "quadratic":
    ss, tt, st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    off_diagonal = 1.0 - jnp.eye(n)
    h = ss + tt - st - st.T
    return jnp.sum(h * off_diagonal) / (n * (n - 1))
  weights = tllib_weights(n, linear=estimator == "tllib_linear")
  return jnp.sum(kernel * weights.astype(kernel.dtype)) + 2.0 / (n - 1)


def tllib_weights(n: int, linear: bool) -> np.ndarray:
  """The (2n, 2n) weights of TLL's estimators (see `mmd_from_kernel`), a constant."""
  w = np.zeros((2 * n, 2 * n))
  if linear:
    i = np.arange(n)
    j = (i + 1) % n
    # Assigned, not accumulated, as TLL's loop does: for n = 2 the two cross
    # pairs coincide and count once.
    w[i, j] = w[n + i, n + j] = 1.0 / n
    w[i, n + j] = w[j, n + i] = -1.0 / n
    return w
  w[:n, :n] = w[n:, n:] = (1.0 - np.eye(n)) / (n * (n - 1))
  w[:n, n:] = w[n:, :n] = -1.0 / (n * n)
  return w


def check_same_size(source: jax.Array, target: jax.Array) -> int:
  if source.shape[0] != target.shape[0]:
    raise ValueError(f"MMD here needs equal source and target batches, got "
                     f"{source.shape[0]} and {target.shape[0]}.")
  return source.shape[0]
