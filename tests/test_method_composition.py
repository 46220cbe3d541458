"""How each method puts its terms together, through its registered loss.

The losses run with small fixed modules behind `apply` (a linear-tanh
discriminator, a linear adversarial head), so the expected values and
gradients can be written down independently: the gradient reversal sits
between the features and the discriminator (DANN, CDAN, MDD), MDD subtracts
its disparity, and every method's trade-off scales its transfer term.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain import defaults
from tldomain.methods import METHODS, base, get_method, mdd

N, D, C = 6, 4, 3  # examples per domain, feature width, classes
RTOL = 1e-6  # the reversal coefficient is applied in float32


def batch(seed: int = 0):
  rng = np.random.RandomState(seed)
  return {"fs": rng.randn(N, D), "ft": rng.randn(N, D) * 1.3 + 0.4,
          "ls": rng.randn(N, C) * 2, "lt": rng.randn(N, C) * 2,
          "labels": rng.randint(0, C, N)}


def hparams(name: str, **overrides):
  config = defaults.method_config(name)
  for key, value in overrides.items():
    config[key] = value
  return config


def loss_inputs(fs, ft, ls, lt, labels, progress, apply):
  return base.LossInputs(source=base.Outputs(fs, ls), target=base.Outputs(ft, lt),
                         labels=jnp.asarray(labels, jnp.int32),
                         progress=jnp.asarray(progress, jnp.float64), apply=apply,
                         rng=jax.random.key(0))


def discriminator(x, w):
  return jnp.tanh(x) @ w


def np_softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_cross_entropy(logits, labels):
  return -np.mean(np.log(np_softmax(logits)[np.arange(len(labels)), labels]))


def np_reversal_coefficient(progress, gamma):
  return 2.0 / (1.0 + np.exp(-gamma * progress)) - 1.0


def domain_bce(source_logits, target_logits, weights=None):
  """Source labelled 1, target 0, sigmoid cross-entropy written out."""
  per_example = jnp.concatenate([jax.nn.softplus(-source_logits),
                                 jax.nn.softplus(target_logits)])
  if weights is None:
    return 0.5 * (jnp.mean(per_example[:N]) + jnp.mean(per_example[N:]))
  return jnp.mean(weights * per_example)


def test_dann_reverses_the_discriminator_gradient_into_the_features():
  b, trade_off, progress = batch(1), 0.7, 0.13
  w = np.random.RandomState(2).randn(D)
  coeff = np_reversal_coefficient(progress, 10.0)
  hp = hparams("dann", trade_off=trade_off, grl_gamma=10.0)

  def total(fs, ft, w):
    apply = lambda name, x: discriminator(x, w)
    return get_method("dann").loss(
        loss_inputs(fs, ft, b["ls"], b["lt"], b["labels"], progress, apply), hp)[0]

  def plain(fs, ft, w):  # the discriminator's loss on the features, nothing reversed
    return trade_off * domain_bce(discriminator(fs, w), discriminator(ft, w))

  assert_reversed_into_features(total, plain, b, w, coeff)


def assert_reversed_into_features(total, plain, b, w, coeff):
  """`total` = source CE + `plain` in value; its feature gradients are `plain`'s times
  -coeff (gradient reversal) and its discriminator gradient is `plain`'s, not reversed."""
  with jax.enable_x64():
    args = (jnp.asarray(b["fs"]), jnp.asarray(b["ft"]), jnp.asarray(w))
    value, (g_fs, g_ft, g_w) = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2)))(*args)
    plain_value, (p_fs, p_ft, p_w) = jax.jit(jax.value_and_grad(plain, argnums=(0, 1, 2)))(*args)
  assert float(value) == pytest.approx(
      np_cross_entropy(b["ls"], b["labels"]) + float(plain_value), rel=1e-12)
  np.testing.assert_allclose(g_fs, -coeff * np.asarray(p_fs), rtol=RTOL)
  np.testing.assert_allclose(g_ft, -coeff * np.asarray(p_ft), rtol=RTOL)
  np.testing.assert_allclose(g_w, p_w, rtol=1e-12)


@pytest.mark.parametrize("name", ["cdan", "cdan_e"])
def test_cdan_reverses_the_discriminator_gradient_into_the_features(name):
  b, trade_off, progress = batch(3), 0.6, 0.4
  w = np.random.RandomState(4).randn(D * C)
  coeff = np_reversal_coefficient(progress, 10.0)
  hp = hparams(name, trade_off=trade_off, grl_gamma=10.0)
  probs = np_softmax(np.concatenate([b["ls"], b["lt"]]))  # held constant by CDAN
  weights = None
  if name == "cdan_e":
    w_e = 1.0 + np.exp(np.sum(probs * np.log(probs), axis=1))  # 1 + exp(-H)
    weights = w_e / w_e.sum() * len(w_e)

  def total(fs, ft, w):
    apply = lambda name, x: discriminator(x, w)
    return get_method(name).loss(
        loss_inputs(fs, ft, b["ls"], b["lt"], b["labels"], progress, apply), hp)[0]

  def plain(fs, ft, w):
    f = jnp.concatenate([fs, ft])
    h = (f[:, :, None] * probs[:, None, :]).reshape(2 * N, D * C)
    logits = discriminator(h, w)
    return trade_off * domain_bce(logits[:N], logits[N:],
                                  jnp.ones(2 * N) if weights is None else weights)

  assert_reversed_into_features(total, plain, b, w, coeff)


def np_disparity(ys, ys_adv, yt, yt_adv, margin):
  source_term = np_cross_entropy(ys_adv, ys.argmax(1))
  p = np_softmax(yt_adv)[np.arange(len(yt)), yt.argmax(1)]
  return -margin * source_term + np.mean(np.log(np.minimum(1.0 - p + 1e-6, 1.0)))


def test_mdd_subtracts_the_disparity_and_reverses_it_into_the_features():
  b, trade_off, progress, margin = batch(5), 0.8, 0.5, 4.0
  head = np.random.RandomState(6).randn(D, C)
  hp = hparams("mdd", trade_off=trade_off, margin=margin, grl_gamma=10.0, grl_max=0.1)
  coeff = 0.1 * np_reversal_coefficient(progress, 10.0)

  def adversarial_head(x, head, num_classes):
    assert num_classes == C
    return x @ head

  def total(fs, ft, head):
    apply = lambda name, x, num_classes: adversarial_head(x, head, num_classes)
    return get_method("mdd").loss(
        loss_inputs(fs, ft, b["ls"], b["lt"], b["labels"], progress, apply), hp)[0]

  def plain(fs, ft, head):  # the transfer term with the reversal left out
    return -trade_off * mdd.margin_disparity(b["ls"], fs @ head, b["lt"], ft @ head, margin)

  with jax.enable_x64():
    args = (jnp.asarray(b["fs"]), jnp.asarray(b["ft"]), jnp.asarray(head))
    value, (g_fs, g_ft, g_head) = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2)))(*args)
    _, (p_fs, p_ft, p_head) = jax.jit(jax.value_and_grad(plain, argnums=(0, 1, 2)))(*args)
  expected = np_cross_entropy(b["ls"], b["labels"]) - trade_off * np_disparity(
      b["ls"], b["fs"] @ head, b["lt"], b["ft"] @ head, margin)
  assert float(value) == pytest.approx(expected, rel=1e-10)
  np.testing.assert_allclose(g_fs, -coeff * np.asarray(p_fs), rtol=RTOL)
  np.testing.assert_allclose(g_ft, -coeff * np.asarray(p_ft), rtol=RTOL)
  np.testing.assert_allclose(g_head, p_head, rtol=1e-12)


# Each method with a trade-off, and the metric that reports its transfer term
# (with the sign the loss adds it with).
TRANSFER_TERMS = {"mmd": ("mmd", 1), "jan": ("jmmd", 1), "coral": ("coral", 1),
                  "dann": ("domain_loss", 1), "cdan": ("domain_loss", 1),
                  "cdan_e": ("domain_loss", 1), "mcc": ("class_confusion", 1),
                  "mdd": ("disparity", -1), "entropy": ("target_entropy", 1),
                  "mme": ("target_entropy", -1),
                  "fda_entropy": ("target_entropy_penalty", 1)}


def generic_apply(name, x, num_classes=None):
  """Fixed modules for any method: a discriminator or an adversarial head."""
  w = np.random.RandomState(x.shape[-1]).randn(x.shape[-1], num_classes or 1)
  out = jnp.tanh(x) @ w
  return out if num_classes else out[:, 0]


def test_every_method_with_a_trade_off_is_covered():
  with_trade_off = {name for name in METHODS.names() if "trade_off" in get_method(name).defaults}
  assert with_trade_off == set(TRANSFER_TERMS), "add the new method to TRANSFER_TERMS"


@pytest.mark.parametrize("name", sorted(TRANSFER_TERMS))
def test_trade_off_scales_the_transfer_term(name):
  b, progress = batch(7), 0.3
  metric, sign = TRANSFER_TERMS[name]

  def total(trade_off, fs, ft, ls, lt):
    inputs = loss_inputs(fs, ft, ls, lt, b["labels"], progress, generic_apply)
    return get_method(name).loss(inputs, hparams(name, trade_off=trade_off))

  @jax.jit
  def run_all(*args):  # one compilation for the three trade-offs
    runs = []
    for trade_off in (0.0, 1.0, 0.35):
      (value, metrics), grads = jax.value_and_grad(
          lambda *a, t=trade_off: total(t, *a), argnums=(0, 1, 2, 3), has_aux=True)(*args)
      runs.append((value, metrics[metric], grads))
    return runs

  with jax.enable_x64():
    runs = run_all(*[jnp.asarray(b[k]) for k in ("fs", "ft", "ls", "lt")])
  (v0, term, g0), (v1, _, g1), (v3, _, g3) = [
      (float(v), float(m), [np.asarray(g) for g in grads]) for v, m, grads in runs]
  ce = np_cross_entropy(b["ls"], b["labels"])
  assert v0 == pytest.approx(ce, rel=1e-12)
  assert abs(term) > 1e-6  # a transfer term that is there to scale
  assert v1 == pytest.approx(ce + sign * term, rel=1e-9)
  assert v3 == pytest.approx(ce + 0.35 * sign * term, rel=1e-9)
  for a, b0, b1 in zip(g3, g0, g1):  # gradients: ce's plus 0.35 of the transfer term's
    np.testing.assert_allclose(a, b0 + 0.35 * (b1 - b0), rtol=1e-6, atol=1e-12)
