"""Forward-pass throughput of a Flax backbone next to its PyTorch original, in one run.

  python scripts/bench_resnet.py --arch=resnet50 --batch=8 --size=224
  python scripts/bench_resnet.py --arch=efficientnet_lite0 --batch=8 --size=224

ResNets are compared with torchvision's, EfficientNet-Lite with the model of
`efficientnet-lite-pytorch` (the one its ImageNet weights were made for, built
for --size). Same architecture, batch, image size and thread count on both
sides (eval mode, float32, random weights: speed does not depend on them). The
two alternate, round after round, so that load from other processes hits both
alike; each round times --iters calls, and the medians over rounds are
reported, with the load average before and after. On a GPU machine both run on
the GPU.
"""

import argparse
import os
import statistics
import time


def timed(fn, iters: int) -> float:
  """Seconds per call over `iters` calls."""
  start = time.perf_counter()
  for _ in range(iters):
    fn()
  return (time.perf_counter() - start) / iters


def flax_model(arch: str):
  from tldomain.models import efficientnet_lite, resnet  # pylint: disable=g-import-not-at-top
  if arch in efficientnet_lite.VARIANTS:
    return efficientnet_lite.build_efficientnet_lite(arch)
  return resnet.build_resnet(arch)


def torch_model(arch: str, size: int):
  from tldomain.models import efficientnet_lite  # pylint: disable=g-import-not-at-top
  if arch in efficientnet_lite.VARIANTS:
    from efficientnet_lite_pytorch import EfficientNet  # pylint: disable=g-import-not-at-top
    return EfficientNet.from_name(arch.replace("_", "-"), image_size=size)
  import torchvision  # pylint: disable=g-import-not-at-top
  return getattr(torchvision.models, arch)()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--arch", default="resnet50")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--size", type=int, default=224)
  parser.add_argument("--iters", type=int, default=3, help="calls timed per round")
  parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU cores for both: XLA and torch each use one thread a core")
  args = parser.parse_args()
  # XLA sizes its CPU thread pool from the cores this process may use; pin both
  # libraries to the same cores before either starts.
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  load_before = os.getloadavg()
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tldomain.models.torch_guard import block_triton  # pylint: disable=g-import-not-at-top
  block_triton()
  import torch  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(args.threads)
  device = "cuda" if torch.cuda.is_available() else "cpu"
  x = np.random.RandomState(0).randn(args.batch, 3, args.size, args.size).astype(np.float32)

  model = flax_model(args.arch)
  variables = jax.jit(lambda: model.init(jax.random.key(0), x[:1].transpose(0, 2, 3, 1),
                                         train=False))()
  forward = jax.jit(lambda v, images: model.apply(v, images, train=False))
  images = jax.device_put(x.transpose(0, 2, 3, 1))
  flax_call = lambda: forward(variables, images).block_until_ready()

  reference = torch_model(args.arch, args.size).eval().to(device)
  torch_images = torch.from_numpy(x).to(device)

  def torch_call():
    with torch.inference_mode():
      reference(torch_images)
    if device == "cuda":
      torch.cuda.synchronize()

  for _ in range(args.warmup):  # compilation, allocator and oneDNN warm-up
    flax_call()
    torch_call()
  flax_s, torch_s = [], []
  for _ in range(args.rounds):
    flax_s.append(timed(flax_call, args.iters))
    torch_s.append(timed(torch_call, args.iters))
  print(f"{args.arch}, batch {args.batch}, {args.size}x{args.size}, threads {args.threads}, "
        f"JAX on {jax.devices()[0].platform}, torch on {device} (torch {torch.__version__}, "
        f"jax {jax.__version__}); {args.rounds} alternating rounds of {args.iters} calls")
  print("load average (1, 5, 15 min) before: " + " ".join(f"{v:.2f}" for v in load_before)
        + ", after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
  flax_ips = args.batch / statistics.median(flax_s)
  torch_ips = args.batch / statistics.median(torch_s)
  spread = lambda s: f"rounds {args.batch / max(s):.1f}..{args.batch / min(s):.1f}"
  print(f"flax  {flax_ips:10.1f} images/s (median; {spread(flax_s)})")
  print(f"torch {torch_ips:10.1f} images/s (median; {spread(torch_s)})")
  print(f"ratio flax/torch {flax_ips / torch_ips:.2f}")


if __name__ == "__main__":
  main()
