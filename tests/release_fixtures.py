"""Tiny copies of the public releases, in their exact formats: folder and file
names, label-file formats, and archive types (tar, tar.gz, zip, bz2, HDF5,
gzipped IDX, MATLAB .mat). Images are a few pixels, a handful per class."""

import bz2
import contextlib
import gzip
import io
import os
import tarfile
import zipfile

import numpy as np
from PIL import Image
from tensorflow_datasets.core.download import downloader


def image_bytes(seed: int, fmt: str = "JPEG", size=(12, 10), mode: str = "RGB") -> bytes:
  rng = np.random.RandomState(seed)
  channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
  pixels = rng.randint(0, 256, (size[1], size[0], channels), dtype=np.uint8)
  out = io.BytesIO()
  Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(out, format=fmt)
  return out.getvalue()


def truncated(data: bytes) -> bytes:
  return data[:len(data) // 2]


def write_files(root: str, files: dict[str, bytes]) -> str:
  for name, data in files.items():
    path = os.path.join(root, *name.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
      f.write(data)
  return root


def write_tar(path: str, files: dict[str, bytes], gz: bool) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tarfile.open(path, "w:gz" if gz else "w") as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return path


def write_zip(path: str, files: dict[str, bytes]) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with zipfile.ZipFile(path, "w") as z:
    for name, data in files.items():
      z.writestr(name, data)
  return path


def class_images(prefix: str, classes, per_class, fmt: str = "JPEG", ext: str = ".jpg",
                 seed: int = 0, name=lambda cls, i: f"frame_{i + 1:04d}") -> dict[str, bytes]:
  """{prefix<class>/<image>: bytes}; per_class is a count or {class: count}."""
  files = {}
  for c, cls in enumerate(classes):
    count = per_class[cls] if isinstance(per_class, dict) else per_class
    for i in range(count):
      files[f"{prefix}{cls}/{name(cls, i)}{ext}"] = image_bytes(seed + 100 * c + i, fmt)
  return files


# Office-31: domain_adaptation_images.tar.gz holds amazon/images/<class>/frame_0001.jpg, ...
def office31_files(classes_by_domain: dict, per_class=2) -> dict[str, bytes]:
  files = {}
  for d, (domain, classes) in enumerate(classes_by_domain.items()):
    files.update(class_images(f"{domain}/images/", classes, per_class, seed=1000 * d))
  return files


def make_office31(folder: str, classes_by_domain: dict, per_class=2, extracted=False) -> str:
  files = office31_files(classes_by_domain, per_class)
  if extracted:
    return write_files(folder, files)
  return write_tar(os.path.join(folder, "domain_adaptation_images.tar.gz"), files, gz=True)


# Office-Home: OfficeHomeDataset_10072016.zip holds
# OfficeHomeDataset_10072016/<Domain>/<class>/00001.jpg, with "Real World" spelled
# with a space, plus ImageInfo.csv and imagelist.txt.
def make_office_home(folder: str, classes_by_domain: dict, per_class=2) -> str:
  top = "OfficeHomeDataset_10072016/"
  files = {top + "ImageInfo.csv": b"image,source\n", top + "imagelist.txt": b"Art/x.jpg\n"}
  for d, (domain, classes) in enumerate(classes_by_domain.items()):
    files.update(class_images(f"{top}{domain}/", classes, per_class, seed=1000 * d,
                              name=lambda cls, i: f"{i + 1:05d}"))
  return write_zip(os.path.join(folder, "OfficeHomeDataset_10072016.zip"), files)


# VisDA-2017: train.tar holds train/image_list.txt ("aeroplane/src_1_..._001.png 0") and
# train/<class>/*.png; validation.tar the same with validation/ and .jpg photos.
def visda_files(part: str, classes, canonical, per_class=2) -> dict[str, bytes]:
  fmt, ext = ("PNG", ".png") if part == "train" else ("JPEG", ".jpg")
  name = ((lambda cls, i: f"src_1_02691156_{i:032x}__1_1_00{i}") if part == "train"
          else (lambda cls, i: f"{cls}_{i + 1:05d}"))
  images = class_images("", classes, per_class, fmt, ext, seed=7, name=name)
  lines = "".join(f"{path} {canonical.index(path.split('/')[0])}\n" for path in images)
  files = {f"{part}/image_list.txt": lines.encode()}
  files.update({f"{part}/{path}": data for path, data in images.items()})
  return files


def make_visda(folder: str, part: str, classes, canonical, per_class=2, extracted=False,
               edit=None) -> str:
  files = visda_files(part, classes, canonical, per_class)
  if edit:
    edit(files)
  if extracted:
    return write_files(folder, files)
  return write_tar(os.path.join(folder, f"{part}.tar"), files, gz=False)


# DomainNet: <domain>.zip holds <domain>/<class>/<domain>_<nnn>_<nnnnnn>.jpg; <domain>_train.txt
# and <domain>_test.txt list "<domain>/<class>/<image> <label>" with the official label.
def domainnet_files(domain: str, classes, canonical, train=2, test=1):
  images = class_images(f"{domain}/", classes, train + test, seed=3,
                        name=lambda cls, i: f"{domain}_{canonical.index(cls) + 1:03d}_{i:06d}")
  lists = {"train": [], "test": []}
  for path in images:
    index = int(path.rsplit("_", 1)[1].split(".")[0])
    label = canonical.index(path.split("/")[1])
    lists["train" if index < train else "test"].append(f"{path} {label}\n")
  return images, {split: "".join(lines).encode() for split, lines in lists.items()}


def make_domainnet(folder: str, domain: str, classes, canonical, train=2, test=1) -> dict:
  images, lists = domainnet_files(domain, classes, canonical, train, test)
  paths = {"images": write_zip(os.path.join(folder, f"{domain}.zip"), images)}
  for split, text in lists.items():
    paths[split] = write_files(folder, {f"{domain}_{split}.txt": text})
  return paths


# MNIST-M: mnist_m.tar.gz holds mnist_m/mnist_m_train/00000000.png ... and
# mnist_m/mnist_m_train_labels.txt ("00000000.png 5"), and the same for test.
def mnist_m_files(counts=None, prefix: str = "mnist_m/") -> tuple[dict[str, bytes], dict]:
  counts = counts or {"train": 12, "test": 6}
  files, labels = {}, {}
  for split, count in counts.items():
    rng = np.random.RandomState(len(split))
    split_labels = {f"{i:08d}.png": int(rng.randint(10)) for i in range(count)}
    labels[split] = split_labels
    for i, name in enumerate(split_labels):
      files[f"{prefix}mnist_m_{split}/{name}"] = image_bytes(i, "PNG", (32, 32))
    files[f"{prefix}mnist_m_{split}_labels.txt"] = "".join(
        f"{n} {label}\n" for n, label in split_labels.items()).encode()
  return files, labels


def make_mnist_m(folder: str, counts=None, extracted=False) -> dict:
  files, labels = mnist_m_files(counts)
  if extracted:
    write_files(folder, files)
  else:
    write_tar(os.path.join(folder, "mnist_m.tar.gz"), files, gz=True)
  return labels


# USPS, HDF5 release: usps.h5 with train/data (N, 256) float in [0, 1], train/target, test/...
def usps_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.RandomState(seed)
  return rng.randint(0, 256, (n, 256)).astype(np.float32) / 255.0, rng.randint(0, 10, n)


def make_usps_h5(folder: str, counts=(14, 6)) -> dict:
  import h5py  # pylint: disable=g-import-not-at-top
  os.makedirs(folder, exist_ok=True)
  arrays = {}
  with h5py.File(os.path.join(folder, "usps.h5"), "w") as f:
    for split, n in zip(("train", "test"), counts):
      data, target = usps_arrays(n, len(split))
      f.create_dataset(f"{split}/data", data=data)
      f.create_dataset(f"{split}/target", data=target)
      arrays[split] = (data, target)
  return arrays


# USPS, LIBSVM release: usps.bz2 / usps.t.bz2, lines "label 1:v1 2:v2 ... 256:v256",
# labels 1..10 for digits 0..9, values in [-1, 1].
def libsvm_bytes(values: np.ndarray, digits: np.ndarray) -> bytes:
  lines = []
  for row, digit in zip(values, digits):
    feats = " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(row) if v != 0)
    lines.append(f"{digit + 1} {feats}\n")
  return bz2.compress("".join(lines).encode())


def usps_libsvm_files(counts=(14, 6)) -> tuple[dict[str, bytes], dict]:
  files, arrays = {}, {}
  for name, split, n in zip(("usps.bz2", "usps.t.bz2"), ("train", "test"), counts):
    data, target = usps_arrays(n, len(split) + 10)
    files[name] = libsvm_bytes(data * 2 - 1, target)
    arrays[split] = (data, target)
  return files, arrays


# MNIST: gzipped IDX files (magic 0x0803 images, 0x0801 labels, big-endian dims).
def idx_bytes(array: np.ndarray) -> bytes:
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
  return gzip.compress(header + array.astype(np.uint8).tobytes())


def mnist_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.RandomState(seed)
  return rng.randint(0, 256, (n, 28, 28)).astype(np.uint8), rng.randint(0, 10, n).astype(np.uint8)


def mnist_files(counts=None) -> tuple[dict[str, bytes], dict]:
  counts = counts or {"train": 12, "t10k": 6}
  files, arrays = {}, {}
  for prefix, n in counts.items():
    images, labels = mnist_arrays(n, len(prefix))
    files[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(images)
    files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(labels)
    arrays["train" if prefix == "train" else "test"] = (images, labels)
  return files, arrays


# SVHN: train_32x32.mat / test_32x32.mat with X (32, 32, 3, N) uint8 and y (N, 1), 10 for 0.
def make_svhn(folder: str, counts=None) -> dict:
  import scipy.io  # pylint: disable=g-import-not-at-top
  counts = counts or {"train": 10, "test": 5}
  os.makedirs(folder, exist_ok=True)
  arrays = {}
  for split, n in counts.items():
    rng = np.random.RandomState(len(split))
    images = rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8)
    digits = np.arange(n) % 10
    scipy.io.savemat(os.path.join(folder, f"{split}_32x32.mat"),
                     {"X": images.transpose(1, 2, 3, 0),
                      "y": np.where(digits == 0, 10, digits).reshape(-1, 1).astype(np.uint8)})
    arrays[split] = (images, digits)
  return arrays


def read_split(builder, split: str) -> dict:
  """All examples of a prepared builder's split as numpy arrays (images decoded)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))


def by_filename(examples: dict) -> dict:
  """{filename: label} of examples read with read_split."""
  return {f.decode(): int(label) for f, label in zip(examples["filename"], examples["label"])}


def serve(monkeypatch, files: dict[str, bytes]) -> list[str]:
  """Replaces the network under TFDS's downloader: URL -> bytes, else an error.

  Returns the list the requested URLs are appended to.
  """
  requested = []

  @contextlib.contextmanager
  def open_url(url, **kwargs):
    del kwargs
    requested.append(url)
    if url not in files:
      raise OSError(f"no network: {url}")
    yield type("Response", (), {"url": url, "headers": {}})(), iter([files[url]])

  monkeypatch.setattr(downloader, "_open_url", open_url)
  return requested
