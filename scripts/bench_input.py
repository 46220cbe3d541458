"""Training-input throughput: tldomain's tf.data pipeline next to a torchvision DataLoader.

  python scripts/bench_input.py --threads=2 --images=256 --batches=15

Both read the same JPEG files (photographs from scikit-image's wheel, cut to
Office-31-like sizes, in a root/<class>/ tree) and apply the same training
transforms: resize to 256x256, RandomResizedCrop 224 (scale 0.08-1, ratio
3/4-4/3), horizontal flip, ImageNet mean/std. tldomain reads them as a
`folder:` domain through its TFDS builder and `train_stream`; PyTorch through
`ImageFolder` + `DataLoader(num_workers=threads)` with PIL, as
Transfer-Learning-Library does. The process (and so the DataLoader's workers)
is pinned to `threads` cores. Both yield float32 batches of normalised
224x224x3 crops (tldomain's HWC, PyTorch's CHW).

The machine may be shared, so the two are measured in alternating rounds
(`--rounds`), each after a pause that lets the other pipeline refill its
prefetch buffers, and each figure is the median of its rounds. Prints images/s
of each and the ratio, and the CPU time each spends per image (all its threads
and worker processes), which other jobs on the machine disturb less.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

# Measure the checkout this script is in, not whichever tldomain is installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def tldomain_stream(root: str, data_dir: str, batch: int):
  from tldomain import data  # pylint: disable=g-import-not-at-top
  split = data.load_split(f"folder:{root}", "train", data_dir)
  stream = data.train_stream(split, batch, seed=0, transform="imagenet_train", image_size=224)
  return stream, time.process_time  # its threads are all in this process


def torchvision_stream(root: str, batch: int, workers: int):
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
      for images, labels in loader:
        yield {"image": images, "label": labels}

  def cpu_seconds():  # this process (collation arrives here) and the worker processes
    pids = [w.pid for w in getattr(loader._iterator, "_workers", [])]  # pylint: disable=protected-access
    return time.process_time() + sum(process_cpu_seconds(pid) for pid in pids)

  return forever(), cpu_seconds


def process_cpu_seconds(pid: int) -> float:
  with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(stream, cpu_seconds, batch: int, batches: int) -> tuple[float, float]:
  """(images per second, CPU seconds per image) over `batches` batches."""
  start, cpu = time.perf_counter(), cpu_seconds()
  for _ in range(batches):
    out = next(stream)
  assert out["image"].shape[0] == batch and out["image"].dtype.itemsize == 4  # float32
  count = batches * batch
  return count / (time.perf_counter() - start), (cpu_seconds() - cpu) / count


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
  parser.add_argument("--images", type=int, default=512)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--batches", type=int, default=30, help="per round")
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  with tempfile.TemporaryDirectory() as tmp:
    root = os.path.join(tmp, "images")
    make_images(root, args.images)
    streams = {"tldomain": tldomain_stream(root, os.path.join(tmp, "tfds"), args.batch),
               "torch": torchvision_stream(root, args.batch, args.threads)}
    for stream, _ in streams.values():
      for _ in range(3):  # warm-up: graph building, thread pools, worker processes
        next(stream)
    rates = {name: [] for name in streams}
    cpus = {name: [] for name in streams}
    for _ in range(args.rounds):
      for name, (stream, cpu_seconds) in streams.items():
        time.sleep(1.0)  # the other one refills its prefetch buffers now, not while timed
        rate, cpu = measure(stream, cpu_seconds, args.batch, args.batches)
        rates[name].append(rate)
        cpus[name].append(cpu)
  (ours, theirs), (our_cpu, their_cpu) = ([statistics.median(v[name]) for name in streams]
                                          for v in (rates, cpus))
  print(f"{args.threads} cores, batch {args.batch}, {args.rounds} rounds of {args.batches} "
        f"batches of 224x224 training crops from {args.images} JPEGs (median of rounds)")
  print(f"tldomain tf.data     : {ours:8.1f} images/s  {our_cpu * 1e3:5.2f} ms CPU/image")
  print(f"torchvision+PIL      : {theirs:8.1f} images/s  {their_cpu * 1e3:5.2f} ms CPU/image  "
        f"(DataLoader, {args.threads} workers)")
  print(f"ratio tldomain/torch : {ours / theirs:8.2f}  (CPU per image, torch/tldomain: "
        f"{their_cpu / our_cpu:.2f})")
  print("rounds, images/s: " + "; ".join(
      f"{name} " + " ".join(f"{r:.0f}" for r in rates[name]) for name in streams))

if __name__ == "__main__":
  main()
