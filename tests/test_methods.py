"""Each loss against an independent NumPy implementation of the paper's equations."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain.methods import cdan, coral, importance_weighting, jan, mcc, mdd, mmd
from tldomain.methods.losses import entropy

RNG = np.random.RandomState(0)


def np_softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_entropy(p):
  return -np.sum(p * np.log(p), axis=-1)


# ---- MMD (DAN) and JAN ------------------------------------------------------

def np_kernel(z, exponents=(-3, -2, -1, 0, 1), mean_d2=None):
  """Sum of Gaussians by explicit loops over pairs."""
  m = len(z)
  d2 = np.array([[np.sum((z[i] - z[j]) ** 2) for j in range(m)] for i in range(m)])
  mean_d2 = d2.mean() if mean_d2 is None else mean_d2
  return sum(np.exp(-d2 / (2.0 * 2.0 ** k * mean_d2)) for k in exponents), mean_d2


def np_mmd_quadratic(kernel, n):
  """Gretton et al. (2012) eq. 3: 1/(n(n-1)) sum_{i != j} h(z_i, z_j)."""
  total = 0.0
  for i, j in itertools.permutations(range(n), 2):
    total += kernel[i, j] + kernel[n + i, n + j] - kernel[i, n + j] - kernel[j, n + i]
  return total / (n * (n - 1))


def np_mmd_linear(kernel, n):
  """Gretton et al. (2012) Lemma 14 over the pairs (2i, 2i+1)."""
  hs = [kernel[a, b] + kernel[n + a, n + b] - kernel[a, n + b] - kernel[b, n + a]
        for a, b in zip(range(0, n, 2), range(1, n, 2))]
  return np.mean(hs)


@pytest.mark.parametrize("estimator, reference", [("quadratic", np_mmd_quadratic),
                                                  ("linear", np_mmd_linear)])
def test_mmd_matches_numpy(estimator, reference):
  xs, xt = RNG.randn(8, 5), RNG.randn(8, 5) + 0.7
  kernel, _ = np_kernel(np.concatenate([xs, xt]))
  expected = reference(kernel, 8)
  assert float(mmd.mk_mmd(jnp.array(xs), jnp.array(xt), estimator)) == pytest.approx(
      expected, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
def test_mmd_gradient_matches_finite_differences(estimator):
  xs, xt = RNG.randn(6, 3), RNG.randn(6, 3) + 0.5
  _, mean_d2 = np_kernel(np.concatenate([xs, xt]))
  reference = np_mmd_quadratic if estimator == "quadratic" else np_mmd_linear

  def numpy_loss(source):  # bandwidth held at its value, as the JAX loss does
    return reference(np_kernel(np.concatenate([source, xt]), mean_d2=mean_d2)[0], 6)

  eps, numeric = 1e-5, np.zeros_like(xs)
  for idx in np.ndindex(xs.shape):
    up, down = xs.copy(), xs.copy()
    up[idx] += eps
    down[idx] -= eps
    numeric[idx] = (numpy_loss(up) - numpy_loss(down)) / (2 * eps)
  with jax.enable_x64():
    grad = jax.grad(lambda s: mmd.mk_mmd(s, jnp.asarray(xt), estimator))(jnp.asarray(xs))
  np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("estimator", ["quadratic", "linear"])
def test_mmd_is_zero_for_identical_batches_and_grows_with_shift(estimator):
  x = jnp.array(RNG.randn(16, 4), jnp.float32)
  assert abs(float(mmd.mk_mmd(x, x, estimator))) < 1e-6
  if estimator == "quadratic":  # the linear statistic is too noisy to order
    shifted = [float(mmd.mk_mmd(x, x + s, estimator)) for s in (0.25, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(shifted, shifted[1:])), shifted
    scaled = [float(mmd.mk_mmd(x, x * s, estimator)) for s in (1.5, 2.0, 3.0)]
    assert all(a < b for a, b in zip(scaled, scaled[1:])), scaled
    assert scaled[0] > 1e-3
  else:
    y = x + 2.0
    assert float(mmd.mk_mmd(x, y, estimator)) > 0.1


def test_jan_matches_numpy_product_kernel():
  fs, ft = RNG.randn(6, 4), RNG.randn(6, 4) + 0.3
  ls, lt = RNG.randn(6, 3), RNG.randn(6, 3) - 0.4
  ps, pt = np_softmax(ls), np_softmax(lt)
  k_feat, _ = np_kernel(np.concatenate([fs, ft]))
  p = np.concatenate([ps, pt])
  k_out = np.array([[np.exp(-np.sum((a - b) ** 2) / (2 * 0.92 ** 2)) for b in p] for a in p])
  expected = np_mmd_quadratic(k_feat * k_out, 6)
  got = jan.joint_mmd(jnp.array(fs), jnp.array(ft), jnp.array(ps), jnp.array(pt))
  assert float(got) == pytest.approx(expected, rel=1e-4, abs=1e-6)
  same = jan.joint_mmd(jnp.array(fs), jnp.array(fs), jnp.array(ps), jnp.array(ps))
  assert abs(float(same)) < 1e-6


def test_mmd_rejects_unequal_batches_and_unknown_estimators():
  with pytest.raises(ValueError, match="equal source and target batches"):
    mmd.mk_mmd(jnp.ones((4, 2)), jnp.ones((6, 2)))
  with pytest.raises(ValueError, match="Valid names: linear, quadratic"):
    mmd.mk_mmd(jnp.ones((4, 2)), jnp.ones((4, 2)), "biased")


# ---- CORAL --------------------------------------------------------------------

def np_coral(xs, xt):
  d = xs.shape[1]
  return np.sum((np.cov(xs, rowvar=False) - np.cov(xt, rowvar=False)) ** 2) / (4 * d * d)


def test_coral_matches_numpy_and_its_gradient():
  xs, xt = RNG.randn(10, 4), RNG.randn(10, 4) * 1.5
  assert float(coral.coral(jnp.array(xs), jnp.array(xt))) == pytest.approx(
      np_coral(xs, xt), rel=1e-5)
  eps, numeric = 1e-6, np.zeros_like(xs)
  for idx in np.ndindex(xs.shape):
    up, down = xs.copy(), xs.copy()
    up[idx] += eps
    down[idx] -= eps
    numeric[idx] = (np_coral(up, xt) - np_coral(down, xt)) / (2 * eps)
  with jax.enable_x64():
    grad = jax.grad(lambda s: coral.coral(s, jnp.asarray(xt)))(jnp.asarray(xs))
  np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_coral_is_zero_for_identical_batches_and_grows_with_scale():
  x = jnp.array(RNG.randn(32, 6), jnp.float32)
  assert float(coral.coral(x, x)) == pytest.approx(0.0, abs=1e-8)
  assert float(coral.coral(x, x + 3.0)) == pytest.approx(0.0, abs=1e-5)  # blind to means
  values = [float(coral.coral(x, x * s)) for s in (1.0, 1.5, 2.0, 3.0)]
  assert values[0] == pytest.approx(0.0, abs=1e-8)
  assert all(a < b for a, b in zip(values, values[1:])), values


# ---- CDAN ----------------------------------------------------------------------

def test_cdan_multilinear_map_exact_and_randomised_shapes():
  f, g = RNG.randn(5, 8), np_softmax(RNG.randn(5, 3))
  exact = cdan.multilinear_map(jnp.array(f), jnp.array(g))
  assert exact.shape == (5, 24)
  np.testing.assert_allclose(exact, np.einsum("bi,bj->bij", f, g).reshape(5, 24), rtol=1e-6)
  big_f, big_g = RNG.randn(4, 256), np_softmax(RNG.randn(4, 31))  # 7936 > 4096
  randomised = cdan.multilinear_map(jnp.array(big_f, jnp.float32),
                                    jnp.array(big_g, jnp.float32))
  assert randomised.shape == (4, 1024)
  again = cdan.multilinear_map(jnp.array(big_f, jnp.float32), jnp.array(big_g, jnp.float32))
  np.testing.assert_array_equal(randomised, again)  # the projection is fixed


def test_cdan_randomised_map_matches_its_definition():
  f, g = RNG.randn(3, 100).astype(np.float32), np_softmax(RNG.randn(3, 50)).astype(np.float32)
  key_f, key_g = jax.random.split(jax.random.key(7))
  r_f = np.asarray(jax.random.normal(key_f, (100, 64), jnp.float32))
  r_g = np.asarray(jax.random.normal(key_g, (50, 64), jnp.float32))
  expected = (f @ r_f) * (g @ r_g) / np.sqrt(64)
  got = cdan.multilinear_map(jnp.array(f), jnp.array(g), max_dim=4096, random_dim=64, seed=7)
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_cdan_entropy_weights():
  probs = np_softmax(RNG.randn(6, 4) * 3)
  w = 1 + np.exp(-np_entropy(probs))
  expected = w / w.sum() * 6
  got = cdan.entropy_weights(jnp.array(probs))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert float(got.sum()) == pytest.approx(6.0, rel=1e-6)
  # Confident predictions weigh more than uncertain ones.
  confident, uniform = np.eye(4)[:1] * 0.97 + 0.01, np.full((1, 4), 0.25)
  w2 = np.asarray(cdan.entropy_weights(jnp.array(np.concatenate([confident, uniform]))))
  assert w2[0] > w2[1]


# ---- MCC ------------------------------------------------------------------------

def np_mcc(logits, temperature):
  p = np_softmax(logits / temperature)
  n, c = p.shape
  w = 1 + np.exp(-np_entropy(p))
  w = n * w / w.sum()
  confusion = np.zeros((c, c))
  for i in range(n):
    confusion += w[i] * np.outer(p[i], p[i])
  confusion /= confusion.sum(axis=1, keepdims=True)
  return (confusion.sum() - np.trace(confusion)) / c


def test_mcc_matches_numpy_value_and_gradient():
  logits = RNG.randn(7, 5) * 2
  assert float(mcc.class_confusion(jnp.array(logits), 2.5)) == pytest.approx(
      np_mcc(logits, 2.5), rel=1e-5)
  eps, numeric = 1e-6, np.zeros_like(logits)
  for idx in np.ndindex(logits.shape):
    up, down = logits.copy(), logits.copy()
    up[idx] += eps
    down[idx] -= eps
    numeric[idx] = (np_mcc(up, 2.5) - np_mcc(down, 2.5)) / (2 * eps)
  with jax.enable_x64():
    grad = jax.grad(lambda x: mcc.class_confusion(x, 2.5))(jnp.asarray(logits))
  np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-8)


def test_mcc_is_small_for_confident_distinct_predictions():
  confident = jnp.array(np.eye(5) * 40.0)
  assert float(mcc.class_confusion(confident, 2.5)) < 1e-4
  uniform = jnp.zeros((5, 5))
  assert float(mcc.class_confusion(uniform, 2.5)) == pytest.approx(0.8, rel=1e-5)


# ---- MDD -----------------------------------------------------------------------

def test_mdd_disparity_matches_numpy():
  ys, ys_adv = RNG.randn(6, 4), RNG.randn(6, 4)
  yt, yt_adv = RNG.randn(6, 4), RNG.randn(6, 4)
  pred_s, pred_t = ys.argmax(1), yt.argmax(1)
  source_ce = -np.mean(np.log(np_softmax(ys_adv)[np.arange(6), pred_s]))
  target = np.mean(np.log(1 - np_softmax(yt_adv)[np.arange(6), pred_t] + 1e-6))
  expected = -4.0 * source_ce + target
  got = mdd.margin_disparity(*(jnp.array(a) for a in (ys, ys_adv, yt, yt_adv)), margin=4.0)
  assert float(got) == pytest.approx(expected, rel=1e-5)


# ---- entropy and importance weights --------------------------------------------

def test_entropy_matches_numpy_and_handles_zeros():
  p = np_softmax(RNG.randn(4, 6))
  np.testing.assert_allclose(entropy(jnp.array(p)), np_entropy(p), rtol=1e-5)
  assert float(entropy(jnp.array([[1.0, 0.0, 0.0]]))[0]) == 0.0
  assert float(entropy(jnp.full((1, 4), 0.25))[0]) == pytest.approx(np.log(4), rel=1e-6)


def test_importance_weights_average_one_clip_and_follow_the_density_ratio():
  logits = jnp.array([2.0, 0.0, -1.0, -8.0])  # log p_s/p_t
  w = np.asarray(importance_weighting.importance_weights(logits, max_weight=10.0))
  assert w.mean() == pytest.approx(1.0, rel=1e-6)
  raw = np.minimum(np.exp(-np.array([2.0, 0.0, -1.0, -8.0])), 10.0)
  np.testing.assert_allclose(w, raw / raw.mean(), rtol=1e-6)
  assert w[0] / w[1] == pytest.approx(np.exp(-2.0), rel=1e-5)  # ratio kept below the clip
  assert w[3] / w[1] == pytest.approx(10.0, rel=1e-5)  # exp(8) clipped to 10


# ---- every registered method trains through the trainer -------------------------

@pytest.mark.parametrize("name", ["mmd", "jan", "coral", "cdan", "cdan_e", "mcc", "mdd",
                                  "entropy", "importance_weighting"])
def test_method_takes_finite_training_steps(small_config, name):
  from tldomain import sharding  # pylint: disable=g-import-not-at-top
  from tldomain.methods import get_method  # pylint: disable=g-import-not-at-top
  from tldomain.compute import compile_steps  # pylint: disable=g-import-not-at-top
  from helpers import flat, on_mesh, synthetic_batch  # pylint: disable=g-import-not-at-top
  config = small_config(name, steps=10)
  mesh = sharding.make_mesh(jax.devices()[:1])
  compiled = compile_steps(config, get_method(name), 10, mesh)
  before = flat(compiled.initial_state.params)
  state = compiled.initial_state
  for i in range(2):
    state, metrics = compiled.train_step(state, on_mesh(synthetic_batch(8, seed=i), mesh))
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  after = flat(state.params)
  assert sorted(after) == sorted(before)
  moved = [k for k in before if not np.array_equal(before[k], after[k])]
  assert len(moved) == len(before), set(before) - set(moved)
