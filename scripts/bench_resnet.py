"""Forward-pass throughput of the Flax ResNet next to torchvision's, in one run.

  python scripts/bench_resnet.py --arch=resnet50 --batch=8 --size=224

Same architecture, batch, image size and thread count on both sides (eval mode,
float32, random weights: speed does not depend on them). Prints images/s of
each and the ratio Flax / PyTorch. On a GPU machine both run on the GPU.
`--torch=eager,compile` (default both): PyTorch as is, and the model in
channels-last memory format under `torch.compile` (mode `--torch-compile-mode`,
whole model), warmed up until compilation is over (its time is printed).
"""

import argparse
import os
import time


def timed(fn, warmup: int, iters: int) -> float:
  """Seconds per call, after `warmup` calls (which include compilation)."""
  for _ in range(warmup):
    fn()
  start = time.perf_counter()
  for _ in range(iters):
    fn()
  return (time.perf_counter() - start) / iters


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--arch", default="resnet50")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--size", type=int, default=224)
  parser.add_argument("--iters", type=int, default=5)
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--torch", default="eager,compile", help="eager, compile, or both")
  parser.add_argument("--torch-compile-mode", default="default")
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU cores for both: XLA and torch each use one thread a core")
  args = parser.parse_args()
  # XLA sizes its CPU thread pool from the cores this process may use; pin both
  # libraries to the same cores before either starts.
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tldomain.models.torch_guard import block_triton  # pylint: disable=g-import-not-at-top
  block_triton()
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from tldomain.models import resnet  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(args.threads)
  device = "cuda" if torch.cuda.is_available() else "cpu"
  x = np.random.RandomState(0).randn(args.batch, 3, args.size, args.size).astype(np.float32)

  model = resnet.build_resnet(args.arch)
  variables = jax.jit(lambda: model.init(jax.random.key(0), x[:1].transpose(0, 2, 3, 1),
                                         train=False))()
  forward = jax.jit(lambda v, images: model.apply(v, images, train=False))
  images = jax.device_put(x.transpose(0, 2, 3, 1))
  flax_s = timed(lambda: forward(variables, images).block_until_ready(), args.warmup, args.iters)

  torch_model = getattr(torchvision.models, args.arch)().eval().to(device)
  torch_images = torch.from_numpy(x).to(device)
  runs = {}
  for variant in args.torch.split(","):
    model_fn, images = torch_model, torch_images
    if variant == "compile":
      model_fn = torch.compile(torch_model.to(memory_format=torch.channels_last),
                               mode=args.torch_compile_mode)
      images = torch_images.contiguous(memory_format=torch.channels_last)

    def torch_forward(model_fn=model_fn, images=images):
      with torch.inference_mode():
        model_fn(images)
      if device == "cuda":
        torch.cuda.synchronize()

    start = time.perf_counter()
    torch_forward()  # compiles, for the compiled variant
    first_s = time.perf_counter() - start
    runs[variant] = (timed(torch_forward, args.warmup, args.iters), first_s)
  print(f"{args.arch}, batch {args.batch}, {args.size}x{args.size}, threads {args.threads}, "
        f"JAX on {jax.devices()[0].platform}, torch on {device} (torch {torch.__version__}, "
        f"jax {jax.__version__})")
  flax_ips = args.batch / flax_s
  print(f"flax  {flax_ips:10.1f} images/s")
  for variant, (torch_s, first_s) in runs.items():
    torch_ips = args.batch / torch_s
    note = f"  (first call {first_s:.1f} s: compilation)" if variant == "compile" else ""
    print(f"torch {variant:7s} {torch_ips:10.1f} images/s  ratio flax/torch {flax_ips / torch_ips:.2f}"
          f"{note}")


if __name__ == "__main__":
  main()
