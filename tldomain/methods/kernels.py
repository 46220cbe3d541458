"""Gaussian kernels and MMD estimators shared by DAN (MMD) and JAN.

Kernel values are sums of Gaussians exp(-d^2 / (2 sigma_k^2)) whose bandwidths
sigma_k^2 = 2^k * mean(d^2) follow the mean pairwise squared distance of the
batch (Long et al. 2015; Transfer-Learning-Library's GaussianKernel), the mean
held constant for the gradient.
"""

from typing import Sequence

import jax
import jax.numpy as jnp

DAN_BANDWIDTH_EXPONENTS = (-3, -2, -1, 0, 1)


def squared_distances(z: jax.Array) -> jax.Array:
  sq = jnp.sum(z * z, axis=-1)
  return jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)


def multi_gaussian_kernel(z: jax.Array,
                          exponents: Sequence[float] = DAN_BANDWIDTH_EXPONENTS) -> jax.Array:
  """Kernel matrix over the rows of z: sum_k exp(-d^2 / (2 * 2^k * mean d^2))."""
  d2 = squared_distances(z.astype(jnp.float32))
  mean_d2 = jax.lax.stop_gradient(jnp.mean(d2))
  return sum(jnp.exp(-d2 / (2.0 * (2.0 ** k) * mean_d2 + 1e-12)) for k in exponents)


def fixed_gaussian_kernel(z: jax.Array, sigma: float) -> jax.Array:
  """exp(-d^2 / (2 sigma^2)) with a fixed bandwidth (JAN's kernel on softmax outputs)."""
  return jnp.exp(-squared_distances(z.astype(jnp.float32)) / (2.0 * sigma ** 2))


def mmd_from_kernel(kernel: jax.Array, n: int, estimator: str = "quadratic") -> jax.Array:
  """MMD^2 from the kernel matrix of [source; target], both halves of size n.

  quadratic: the unbiased U-statistic (Gretton et al. 2012, eq. 3),
    1/(n(n-1)) sum_{i != j} k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i);
  linear: the linear-time statistic (Gretton et al. 2012, Lemma 14) over the
    pairs (2i, 2i+1): 1/(n/2) sum_i k(x,x') + k(y,y') - k(x,y') - k(x',y).
  Both are zero when the two halves are the same batch.
  """
  if kernel.shape != (2 * n, 2 * n):
    raise ValueError(f"Kernel of shape {kernel.shape} is not that of two batches of {n}.")
  if estimator == "quadratic":
    if n < 2:
      raise ValueError("The quadratic MMD estimator needs at least 2 examples per domain.")
    ss, tt, st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    off_diagonal = 1.0 - jnp.eye(n)
    h = ss + tt - st - st.T
    return jnp.sum(h * off_diagonal) / (n * (n - 1))
  if estimator == "linear":
    if n % 2:
      raise ValueError(f"The linear MMD estimator needs an even batch size, not {n}.")
    i = jnp.arange(0, n, 2)
    j = i + 1
    h = (kernel[i, j] + kernel[n + i, n + j] - kernel[i, n + j] - kernel[j, n + i])
    return jnp.mean(h)
  raise ValueError(f"Unknown MMD estimator {estimator!r}. Valid names: linear, quadratic.")


def check_same_size(source: jax.Array, target: jax.Array) -> int:
  if source.shape[0] != target.shape[0]:
    raise ValueError(f"MMD here needs equal source and target batches, got "
                     f"{source.shape[0]} and {target.shape[0]}.")
  return source.shape[0]
