"""Each loss against the third-party code people actually run, in float64.

References (the `test` extra): `dalib==0.2`, Transfer-Learning-Library's
earlier release (DAN, JAN, DANN, CDAN, MDD), and `pytorch-adapt==0.0.83` (MCC,
CORAL, MMD). For random inputs of a few shapes, the loss value and its gradient
with respect to every input (and, for the adversarial losses, the
discriminator's parameters, copied across) agree to 1e-6 relative. Where a
reference's convention differs by design, the test says how it converts.

tests/test_methods.py keeps the NumPy transcriptions of the papers' equations;
these tests check the code against what reproductions optimise.
"""

import warnings

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch

from tldomain.methods import base, cdan, coral, dann, jan, mcc, mdd, mmd
from tldomain.methods.kernels import DAN_BANDWIDTH_EXPONENTS
from tldomain.models import DomainDiscriminator

with warnings.catch_warnings():
  # qpsolvers (dalib's DAN) warns that no QP solver is installed (DAN's
  # optional kernel weighting, not used here); torchmetrics (pytorch-adapt)
  # warns that pkg_resources is deprecated.
  warnings.simplefilter("ignore")
  from dalib.adaptation import cdan as dalib_cdan
  from dalib.adaptation import dan as dalib_dan
  from dalib.adaptation import dann as dalib_dann
  from dalib.adaptation import jan as dalib_jan
  from dalib.adaptation import mdd as dalib_mdd
  from dalib.modules.domain_discriminator import DomainDiscriminator as DalibDiscriminator
  from dalib.modules.kernels import GaussianKernel
  import pytorch_adapt.layers as pa_layers

RTOL = 1e-6
SHAPES = [(2, 3), (5, 4), (12, 8)]  # (examples per domain, dimension)


@pytest.fixture(autouse=True)
def torch_float64():
  """The references build constants with torch's default dtype (dalib's MMD
  weight matrix, its fixed kernel bandwidth, the domain labels): float64 here,
  so that float32 rounding of those does not pass for a difference."""
  previous = torch.get_default_dtype()
  torch.set_default_dtype(torch.float64)
  yield
  torch.set_default_dtype(previous)


def assert_close(ours, theirs, what):
  ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
  # Elementwise relative error, with a floor at 1e-9 of the largest entry so
  # that entries that are zero up to rounding do not count.
  np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=1e-9 * np.max(np.abs(theirs)),
                             err_msg=what)


def check(ours_fn, theirs_fn, arrays, what, convert=lambda v: v):
  """Value and gradients w.r.t. each of `arrays`: ours (JAX, float64) vs theirs (torch).

  `convert` maps the reference's value onto ours (a stated convention change);
  it must be linear, as it is applied to the gradients too.
  """
  with jax.enable_x64():
    inputs = [jnp.asarray(a, jnp.float64) for a in arrays]
    value, grads = jax.jit(jax.value_and_grad(ours_fn, argnums=tuple(range(len(arrays)))))(
        *inputs)
    assert value.dtype == jnp.float64  # the loss did not drop to float32 on the way
    value, grads = float(value), [np.asarray(g) for g in grads]
  tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
  reference = theirs_fn(*tensors)
  reference.backward()
  assert_close(value, convert(reference.item()), f"{what}: value")
  for i, (g, t) in enumerate(zip(grads, tensors)):
    # No gradient path in the reference (an argmax, a detached input) means zeros.
    theirs = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
    assert_close(g, convert(theirs), f"{what}: gradient w.r.t. input {i}")
  return value


def random(shape, seed, scale=1.0, shift=0.0):
  return np.random.RandomState(seed).randn(*shape) * scale + shift


# ---- DAN (MK-MMD) and JAN: dalib, estimator "tllib_*" ----------------------------------

def dan_kernels():
  return [GaussianKernel(alpha=2.0 ** k) for k in DAN_BANDWIDTH_EXPONENTS]


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("linear", [True, False])
def test_dan_equals_dalib(n, d, linear):
  xs, xt = random((n, d), 0), random((n, d), 1, 1.3, 0.4)
  estimator = "tllib_linear" if linear else "tllib_quadratic"
  loss = dalib_dan.MultipleKernelMaximumMeanDiscrepancy(dan_kernels(), linear=linear)
  check(lambda s, t: mmd.mk_mmd(s, t, estimator), loss, [xs, xt], f"DAN {estimator}")


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("linear", [True, False])
def test_jan_equals_dalib(n, d, linear):
  classes = 4
  fs, ft = random((n, d), 2), random((n, d), 3, 0.8, -0.3)
  ls, lt = random((n, classes), 4, 2.0), random((n, classes), 5, 2.0)
  estimator = "tllib_linear" if linear else "tllib_quadratic"
  loss = dalib_jan.JointMultipleKernelMaximumMeanDiscrepancy(
      (dan_kernels(), (GaussianKernel(sigma=0.92, track_running_stats=False),)), linear=linear)

  def ours(fs, ft, ls, lt):
    return jan.joint_mmd(fs, ft, jax.nn.softmax(ls), jax.nn.softmax(lt), 0.92, estimator)

  def theirs(fs, ft, ls, lt):
    return loss((fs, torch.softmax(ls, 1)), (ft, torch.softmax(lt, 1)))

  check(ours, theirs, [fs, ft, ls, lt], f"JAN {estimator}")


# ---- MMD: pytorch-adapt ----------------------------------------------------------------

@pytest.mark.parametrize("n, d", [(4, 3), (12, 8)])
@pytest.mark.parametrize("estimator", ["linear", "tllib_quadratic"])
def test_mmd_equals_pytorch_adapt(n, d, estimator):
  """pytorch-adapt's MMDLoss with our kernels.

  Conversion: its kernel is exp(-d^2 * scale_k / bandwidth), averaged over the
  scales; with bandwidth = the batch's mean squared distance (a constant, as
  ours holds it) and scale_k = 1 / (2 * 2^k) that is our sum of five Gaussians
  divided by 5. Its "linear" is the statistic over disjoint pairs (ours
  "linear"); its "quadratic" weighs every cross pair 1/n^2, TLL's quadratic
  estimator without TLL's constant 2/(n-1).
  """
  xs, xt = random((n, d), 6), random((n, d), 7, 1.2, 0.5)
  z = np.concatenate([xs, xt])
  mean_d2 = np.mean(np.sum((z[:, None] - z[None]) ** 2, -1))
  k = len(DAN_BANDWIDTH_EXPONENTS)
  scales = torch.tensor([1.0 / (2.0 * 2.0 ** e) for e in DAN_BANDWIDTH_EXPONENTS],
                        dtype=torch.float64)
  mmd_type = "linear" if estimator == "linear" else "quadratic"
  loss = pa_layers.MMDLoss(kernel_scales=scales, mmd_type=mmd_type, bandwidth=float(mean_d2))
  constant = 2.0 / (n - 1) if estimator == "tllib_quadratic" else 0.0
  check(lambda s, t: mmd.mk_mmd(s, t, estimator), lambda s, t: k * loss(s, t) + constant,
        [xs, xt], f"MMD {estimator}")


# ---- MCC and CORAL: pytorch-adapt ------------------------------------------------------

@pytest.mark.parametrize("n, classes", [(4, 3), (9, 5), (32, 31)])
def test_mcc_equals_pytorch_adapt(n, classes):
  """MCCLoss detaches its entropy weights, as the MCC authors' code does."""
  logits = random((n, classes), 8, 3.0)
  check(lambda x: mcc.class_confusion(x, 2.5), pa_layers.MCCLoss(T=2.5), [logits], "MCC")


@pytest.mark.parametrize("n, d", SHAPES[1:])
def test_coral_equals_pytorch_adapt(n, d):
  """pytorch-adapt's CORALLoss is the paper's ||C_s - C_t||_F^2 / (4 d^2): variant "paper"."""
  xs, xt = random((n, d), 9), random((n, d), 10, 1.7, 0.3)
  check(lambda s, t: coral.coral(s, t, "paper"), pa_layers.CORALLoss(), [xs, xt], "CORAL")


# ---- MDD: dalib --------------------------------------------------------------------------

@pytest.mark.parametrize("n, classes", [(3, 2), (8, 5), (16, 12)])
def test_mdd_disparity_equals_dalib(n, classes):
  """Conversion: dalib 0.2's MarginDisparityDiscrepancy returns the disparity
  with the opposite sign, margin * CE(h'(f_s), y_s) - E log(1 - p_t); ours is
  -margin * CE + E log(1 - p_t) (TLL's later tllib.alignment.mdd, which our
  loss CE - trade_off * D follows). The main head's logits only pick labels."""
  ys, ys_adv = random((n, classes), 11, 2.0), random((n, classes), 12, 2.0)
  yt, yt_adv = random((n, classes), 13, 2.0), random((n, classes), 14, 2.0)
  loss = dalib_mdd.MarginDisparityDiscrepancy(margin=4.0)
  check(lambda a, b, c, e: mdd.margin_disparity(a, b, c, e, 4.0), loss,
        [ys, ys_adv, yt, yt_adv], "MDD", convert=lambda v: -v)


# ---- DANN and CDAN: dalib, discriminator weights copied ----------------------------------

@pytest.fixture
def dalib_grl(monkeypatch):
  """dalib 0.2's warm-start reversal layer calls np.float, removed in NumPy 1.24;
  the alias is restored for the test only."""
  monkeypatch.setattr(np, "float", float, raising=False)


def random_discriminator(in_dim: int, hidden: int, seed: int):
  """Our discriminator (float64) with random parameters, BatchNorm affine included."""
  module = DomainDiscriminator((hidden, hidden), dtype=jnp.float64)
  with jax.enable_x64():
    shapes = jax.eval_shape(lambda key: module.init(key, jnp.zeros((2, in_dim)), train=True),
                            jax.random.key(seed))
  leaves, treedef = jax.tree.flatten(shapes["params"])
  rng = np.random.RandomState(seed)
  return module, jax.tree.unflatten(treedef, [rng.randn(*x.shape) * 0.5 for x in leaves])


def copy_to_dalib(params, in_dim: int, hidden: int, first_kernel=None) -> torch.nn.Module:
  """dalib's DomainDiscriminator (Linear-BN-ReLU x2, Linear, Sigmoid) with our weights."""
  torch_module = DalibDiscriminator(in_dim, hidden).double().train()
  kernel0 = params["dense0"]["kernel"] if first_kernel is None else first_kernel
  pairs = [("layer1", kernel0, params["dense0"]["bias"]),
           ("layer2", params["dense1"]["kernel"], params["dense1"]["bias"]),
           ("layer3", params["logit"]["kernel"], params["logit"]["bias"])]
  with torch.no_grad():
    for name, kernel, bias in pairs:
      getattr(torch_module, name).weight.copy_(torch.tensor(np.asarray(kernel).T))
      getattr(torch_module, name).bias.copy_(torch.tensor(np.asarray(bias)))
    for name, ours in (("bn1", "bn0"), ("bn2", "bn1")):
      getattr(torch_module, name).weight.copy_(torch.tensor(np.asarray(params[ours]["scale"])))
      getattr(torch_module, name).bias.copy_(torch.tensor(np.asarray(params[ours]["bias"])))
  return torch_module


def module_apply(module, params):
  """The `apply` a method's loss gets: the discriminator in train mode."""
  def apply(name, x):
    assert name == "discriminator"
    out, _ = module.apply({"params": params}, x, train=True, mutable=["batch_stats"])
    return out
  return apply


# TLL's reversal warm start 2 / (1 + exp(-i / 1000)) - 1 at iteration i of a run of
# `steps`: ours with grl_gamma = steps / 1000 (the recipes' setting) at progress i / steps.
STEPS, ITERATION = 3000, 700


@pytest.mark.parametrize("n, d, hidden", [(3, 4, 5), (8, 6, 16)])
def test_dann_domain_loss_equals_dalib(dalib_grl, n, d, hidden):
  fs, ft = random((n, d), 15), random((n, d), 16, 1.5, 0.5)
  module, params = random_discriminator(d, hidden, seed=n)
  loss = dalib_dann.DomainAdversarialLoss(copy_to_dalib(params, d, hidden))
  loss.grl.iter_num = ITERATION  # auto_step: it counts the forward pass after using it

  def ours(fs, ft):
    inputs = base.LossInputs(source=base.Outputs(fs, None), target=base.Outputs(ft, None),
                             labels=None, progress=None, apply=module_apply(module, params),
                             rng=None)
    coeff = dann.dann_coefficient(jnp.float64(ITERATION / STEPS), STEPS / 1000)
    return dann.domain_adversarial_loss(inputs, coeff)[0]

  check(ours, loss, [fs, ft], "DANN")
  assert loss.grl.iter_num == ITERATION + 1  # the coefficient it used was ITERATION's


def cdan_hparams(entropy_conditioning: bool, hidden: int):
  return ml_collections.ConfigDict({
      "trade_off": 1.0, "grl_gamma": STEPS / 1000, "entropy_conditioning": entropy_conditioning,
      "max_multilinear_dim": 4096, "random_dim": 1024, "random_seed": 0,
      "discriminator_hidden": (hidden, hidden)})


@pytest.mark.parametrize("n, d, classes", [(3, 4, 2), (8, 6, 5)])
@pytest.mark.parametrize("entropy_conditioning", [False, True])
def test_cdan_domain_loss_equals_dalib(dalib_grl, monkeypatch, n, d, classes,
                                       entropy_conditioning):
  """Conversions: dalib flattens the multilinear map g (x) f class-major (index
  c * d + j), ours f (x) g feature-major (j * C + c), so the first layer's
  weights are permuted when copied; dalib's entropy adds 1e-5 inside the log
  (TLL's epsilon), replaced by the exact entropy here."""
  hidden = 8
  fs, ft = random((n, d), 17), random((n, d), 18, 1.2, -0.4)
  ls, lt = random((n, classes), 19, 2.0), random((n, classes), 20, 2.0)
  module, params = random_discriminator(d * classes, hidden, seed=n + classes)
  first = np.asarray(params["dense0"]["kernel"]).reshape(d, classes, hidden)
  first = first.transpose(1, 0, 2).reshape(classes * d, hidden)
  monkeypatch.setattr(dalib_cdan, "entropy", lambda p: -torch.sum(p * torch.log(p), dim=1))
  loss = dalib_cdan.ConditionalDomainAdversarialLoss(
      copy_to_dalib(params, d * classes, hidden, first_kernel=first),
      entropy_conditioning=entropy_conditioning)
  loss.grl.iter_num = ITERATION
  hparams = cdan_hparams(entropy_conditioning, hidden)

  def ours(fs, ft, ls, lt):
    inputs = base.LossInputs(
        source=base.Outputs(fs, ls), target=base.Outputs(ft, lt),
        labels=jnp.zeros(n, jnp.int32), progress=jnp.float64(ITERATION / STEPS),
        apply=module_apply(module, params), rng=None)
    return cdan.cdan_loss(inputs, hparams)[1]["domain_loss"]

  check(ours, lambda fs, ft, ls, lt: loss(ls, fs, lt, ft), [fs, ft, ls, lt],
        f"CDAN entropy_conditioning={entropy_conditioning}")


def test_dann_discriminator_parameter_gradient_equals_dalib(dalib_grl):
  """The discriminator itself trains on the un-reversed loss in both."""
  n, d, hidden = 6, 5, 7
  fs, ft = random((n, d), 21), random((n, d), 22, 1.5, 0.5)
  module, params = random_discriminator(d, hidden, seed=3)
  torch_module = copy_to_dalib(params, d, hidden)
  loss = dalib_dann.DomainAdversarialLoss(torch_module)
  loss.grl.iter_num = ITERATION
  loss(torch.tensor(fs), torch.tensor(ft)).backward()
  with jax.enable_x64():
    def ours(p):
      inputs = base.LossInputs(source=base.Outputs(jnp.asarray(fs), None),
                               target=base.Outputs(jnp.asarray(ft), None), labels=None,
                               progress=None, apply=module_apply(module, p), rng=None)
      return dann.domain_adversarial_loss(inputs, 0.3)[0]
    grads = jax.jit(jax.grad(ours))(params)
  for ours_name, theirs_name in (("dense0", "layer1"), ("dense1", "layer2"), ("logit", "layer3")):
    layer = getattr(torch_module, theirs_name)
    assert_close(np.asarray(grads[ours_name]["kernel"]).T, layer.weight.grad.numpy(), ours_name)
    if ours_name == "logit":
      assert_close(grads[ours_name]["bias"], layer.bias.grad.numpy(), ours_name)
    else:  # a bias that BatchNorm subtracts again: zero gradient up to rounding in both
      assert np.max(np.abs(grads[ours_name]["bias"])) < 1e-12
      assert np.max(np.abs(layer.bias.grad.numpy())) < 1e-12
  for ours_name, theirs_name in (("bn0", "bn1"), ("bn1", "bn2")):
    layer = getattr(torch_module, theirs_name)
    assert_close(grads[ours_name]["scale"], layer.weight.grad.numpy(), ours_name)
    assert_close(grads[ours_name]["bias"], layer.bias.grad.numpy(), ours_name)
