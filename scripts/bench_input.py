"""Training-input throughput: tldomain's tf.data pipeline next to a torchvision DataLoader.

  python scripts/bench_input.py --threads=2 --images=512 --batches=30

Both read the same JPEG files (photographs from scikit-image's wheel, cut to
Office-31-like sizes, in a root/<class>/ tree) and apply the same training
transforms: resize to 256x256, RandomResizedCrop 224 (scale 0.08-1, ratio
3/4-4/3), horizontal flip, ImageNet mean/std. tldomain reads them as a
`folder:` domain through its TFDS builder and `train_stream`; PyTorch through
`ImageFolder` + `DataLoader(num_workers=threads)` with PIL, as
Transfer-Learning-Library does. The process (and so the DataLoader's workers)
is pinned to `threads` cores. Prints images/s of each and the ratio.
"""

import argparse
import os
import tempfile
import time


def make_images(root: str, count: int, classes: int = 4) -> None:
  """`count` JPEGs of 300x300 to 640x480 cut from scikit-image's photographs."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  import skimage.data  # pylint: disable=g-import-not-at-top
  photos = [np.asarray(Image.open(os.path.join(skimage.data.data_dir, name)).convert("RGB"))
            for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")]
  rng = np.random.RandomState(0)
  sizes = [(300, 300), (480, 640), (400, 300)]
  for i in range(count):
    photo = photos[i % len(photos)]
    h, w = sizes[i % len(sizes)]
    image = Image.fromarray(photo).resize((w, h), Image.BILINEAR)
    if rng.rand() < 0.5:
      image = image.transpose(Image.FLIP_LEFT_RIGHT)
    folder = os.path.join(root, f"class{i % classes}")
    os.makedirs(folder, exist_ok=True)
    image.save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def bench_tldomain(root: str, data_dir: str, batch: int, batches: int) -> float:
  from tldomain import data  # pylint: disable=g-import-not-at-top
  split = data.load_split(f"folder:{root}", "train", data_dir)
  stream = data.train_stream(split, batch, seed=0, transform="imagenet_train", image_size=224)
  for _ in range(3):  # warm-up: graph building, thread pools
    next(stream)
  start = time.perf_counter()
  for _ in range(batches):
    next(stream)
  return batches * batch / (time.perf_counter() - start)


def bench_torchvision(root: str, batch: int, batches: int, workers: int) -> float:
  from tldomain.models.torch_guard import block_triton  # pylint: disable=g-import-not-at-top
  block_triton()
  import torch  # pylint: disable=g-import-not-at-top
  from torchvision import datasets, transforms as T  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(1)
  transform = T.Compose([
      T.Resize((256, 256)), T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
      T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
  loader = torch.utils.data.DataLoader(
      datasets.ImageFolder(root, transform=transform), batch_size=batch, shuffle=True,
      num_workers=workers, drop_last=True, persistent_workers=workers > 0)

  def forever():
    while True:
      yield from loader

  stream = forever()
  for _ in range(3):
    next(stream)
  start = time.perf_counter()
  for _ in range(batches):
    next(stream)
  return batches * batch / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
  parser.add_argument("--images", type=int, default=512)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--batches", type=int, default=30)
  args = parser.parse_args()
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  with tempfile.TemporaryDirectory() as tmp:
    root = os.path.join(tmp, "images")
    make_images(root, args.images)
    ours = bench_tldomain(root, os.path.join(tmp, "tfds"), args.batch, args.batches)
    theirs = bench_torchvision(root, args.batch, args.batches, args.threads)
  print(f"{args.threads} cores, batch {args.batch}, {args.batches} batches of 224x224 "
        f"training crops from {args.images} JPEGs")
  print(f"tldomain tf.data     : {ours:8.1f} images/s")
  print(f"torchvision+PIL      : {theirs:8.1f} images/s  (DataLoader, {args.threads} workers)")
  print(f"ratio tldomain/torch : {ours / theirs:8.2f}")


if __name__ == "__main__":
  main()
