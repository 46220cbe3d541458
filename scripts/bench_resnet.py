"""Forward-pass throughput of a Flax backbone next to its PyTorch original, in one run.

  python scripts/bench_resnet.py --arch=resnet50 --batch=8 --size=224
  python scripts/bench_resnet.py --arch=efficientnet_lite0 --batch=8 --size=224

ResNets are compared with torchvision's, EfficientNet-Lite with the model of
`efficientnet-lite-pytorch` (the one its ImageNet weights were made for, built
for --size). Same architecture, batch, image size and thread count on both
sides (eval mode, float32, random weights: speed does not depend on them).
`--torch=eager,compile` (default both): PyTorch as is, and the model in
channels-last memory format under `torch.compile` (mode `--torch-compile-mode`,
whole model), warmed up until compilation is over (its time is printed). The
variants alternate, round after round, so that load from other processes hits
all alike; each round times --iters calls, and the medians over rounds are
reported, with the load average before and after. On a GPU machine all run on
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
  parser.add_argument("--torch", default="eager,compile", help="eager, compile, or both")
  parser.add_argument("--torch-compile-mode", default="default")
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
  calls = {"flax": lambda: forward(variables, images).block_until_ready()}
  first_call = {}

  reference = torch_model(args.arch, args.size).eval().to(device)
  torch_images = torch.from_numpy(x).to(device)
  for variant in args.torch.split(","):
    model_fn, inputs = reference, torch_images
    if variant == "compile":
      model_fn = torch.compile(reference.to(memory_format=torch.channels_last),
                               mode=args.torch_compile_mode)
      inputs = torch_images.contiguous(memory_format=torch.channels_last)
    elif variant != "eager":
      raise SystemExit(f"--torch takes eager and/or compile, not {variant!r}.")

    def torch_call(model_fn=model_fn, inputs=inputs):
      with torch.inference_mode():
        model_fn(inputs)
      if device == "cuda":
        torch.cuda.synchronize()

    start = time.perf_counter()
    torch_call()  # compiles, for the compiled variant
    first_call[variant] = time.perf_counter() - start
    calls[f"torch {variant}"] = torch_call

  for _ in range(args.warmup):  # compilation, allocator and oneDNN warm-up
    for call in calls.values():
      call()
  seconds = {name: [] for name in calls}
  for _ in range(args.rounds):
    for name, call in calls.items():
      seconds[name].append(timed(call, args.iters))
  print(f"{args.arch}, batch {args.batch}, {args.size}x{args.size}, threads {args.threads}, "
        f"JAX on {jax.devices()[0].platform}, torch on {device} (torch {torch.__version__}, "
        f"jax {jax.__version__}); {args.rounds} alternating rounds of {args.iters} calls")
  print("load average (1, 5, 15 min) before: " + " ".join(f"{v:.2f}" for v in load_before)
        + ", after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
  rate = {name: args.batch / statistics.median(s) for name, s in seconds.items()}
  for name, s in seconds.items():
    spread = f"rounds {args.batch / max(s):.1f}..{args.batch / min(s):.1f}"
    ratio = "" if name == "flax" else f"  ratio flax/{name} {rate['flax'] / rate[name]:.2f}"
    variant = name.split(" ")[-1]
    note = (f"  (first call {first_call[variant]:.1f} s: compilation)"
            if name == "torch compile" else "")
    print(f"{name:14s} {rate[name]:10.1f} images/s (median; {spread}){ratio}{note}")


if __name__ == "__main__":
  main()
