"""PyTorch reference models for the ResNet tests (torch is a test dependency)."""

import numpy as np
import torch


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  """`model` with random BatchNorm statistics and affine parameters.

  Fresh BatchNorms are the identity (mean 0, var 1, scale 1, bias 0), which would
  hide a wrongly mapped statistic or a swapped scale and bias.
  """
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.BatchNorm2d):
        n = module.num_features
        module.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
        module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
        module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
        module.bias.copy_(torch.rand(n, generator=gen) - 0.5)
  return model


def numpy_state_dict(model: torch.nn.Module) -> dict[str, np.ndarray]:
  return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def images(batch: int, size: int, seed: int = 0) -> np.ndarray:
  """Random NCHW images on roughly the ImageNet-normalised scale."""
  return np.random.RandomState(seed).randn(batch, 3, size, size).astype(np.float32)


def pooled_and_logits(model: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(global-average-pooled features, fc logits) of a torchvision or timm ResNet."""
  pooled = {}

  def keep_input(module, inputs, output):  # returns None: the output stays
    pooled["x"] = inputs[0]

  hook = model.fc.register_forward_hook(keep_input)
  try:
    logits = model(torch.from_numpy(x))
  finally:
    hook.remove()
  return pooled["x"].detach().numpy(), logits.detach().numpy()


def to_nhwc(x: np.ndarray) -> np.ndarray:
  return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def assert_close(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-4) -> float:
  """Max abs difference <= rel * max |expected|; returns that relative difference."""
  scale = float(np.abs(expected).max())
  diff = float(np.abs(np.asarray(actual) - expected).max())
  assert diff <= rel * scale, f"max abs diff {diff} > {rel} x scale {scale}"
  return diff / scale
