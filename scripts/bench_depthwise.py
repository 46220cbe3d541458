"""Each EfficientNet-Lite depthwise layer: XLA's grouped convolution against models/depthwise.py.

  python scripts/bench_depthwise.py --arch=efficientnet_lite0 --batch=16 --size=224

For every distinct depthwise layer shape of `--arch` at `--size` (input map,
channels, kernel, stride), times three implementations of the same
convolution on a batch of `--batch` random maps (16 = DANN's 8 source + 8
target images):

- grouped: `lax.conv_general_dilated(..., feature_group_count=C)`, what
  `nn.Conv(C, (k, k), feature_group_count=C)` runs, and its autodiff gradients;
- slices: models/depthwise.py's forward (k*k shifted multiply-adds) with the
  gradients autodiff derives from it (the kernel gradient as k*k reductions);
- module: `depthwise.depthwise_conv` as the models run it, with its own
  gradients (custom_vjp: transposed input gradient, one variadic reduction
  for the kernel gradient).

"fwd" is the forward pass alone, "fwd+bwd" the forward pass and both
gradients of a loss sum(y * g). The implementations alternate, round after
round (order reversed every other round), each round timing `--iters` calls;
the table gives medians over rounds in ms per call, with the 1-minute load
average read before and after all rounds. Pin the threads with `--threads`.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def layer_shapes(arch: str, size: int) -> list[tuple[int, int, int, int]]:
  """(map side at the layer's input, channels, kernel, stride), distinct, in network order."""
  from tldomain.models import efficientnet_lite  # pylint: disable=g-import-not-at-top
  variant = efficientnet_lite.VARIANTS.get(arch)
  side, shapes = -(-size // 2), []  # after the stem's stride-2 convolution
  for block in variant.blocks():
    shape = (side, block.hidden, block.kernel, block.stride)
    if shape not in shapes:
      shapes.append(shape)
    side = -(-side // block.stride)
  return shapes


def implementations():
  import jax  # pylint: disable=g-import-not-at-top
  from jax import lax  # pylint: disable=g-import-not-at-top
  from tldomain.models import depthwise  # pylint: disable=g-import-not-at-top

  def grouped(x, kernel, stride):
    return lax.conv_general_dilated(x, kernel, (stride, stride), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    feature_group_count=x.shape[-1])

  return {"grouped": grouped, "slices": depthwise._forward,  # pylint: disable=protected-access
          "module": depthwise.depthwise_conv}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--arch", default="efficientnet_lite0")
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--size", type=int, default=224)
  parser.add_argument("--iters", type=int, default=3, help="calls timed per round")
  parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU cores XLA may use (its thread pool takes one a core)")
  args = parser.parse_args()
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  impls = implementations()
  rng = np.random.RandomState(0)
  loads = [os.getloadavg()[0]]
  rows, totals = [], {(n, p): 0.0 for n in impls for p in ("fwd", "fwd+bwd")}
  for side, channels, kernel, stride in layer_shapes(args.arch, args.size):
    x = jnp.asarray(rng.randn(args.batch, side, side, channels), jnp.float32)
    w = jnp.asarray(rng.randn(kernel, kernel, 1, channels) * 0.1, jnp.float32)
    out_side = -(-side // stride)
    g = jnp.asarray(rng.randn(args.batch, out_side, out_side, channels), jnp.float32)
    calls = {}
    for name, f in impls.items():
      calls[(name, "fwd")] = jax.jit(lambda x, w, g, f=f: f(x, w, stride))
      calls[(name, "fwd+bwd")] = jax.jit(jax.grad(
          lambda x, w, g, f=f: jnp.sum(f(x, w, stride) * g), argnums=(0, 1)))
    for call in calls.values():  # compile and warm up
      jax.block_until_ready(call(x, w, g))
    times = {key: [] for key in calls}
    keys = list(calls)
    for r in range(args.rounds):
      for key in (keys if r % 2 == 0 else keys[::-1]):
        start = time.perf_counter()
        for _ in range(args.iters):
          out = calls[key](x, w, g)
        jax.block_until_ready(out)
        times[key].append((time.perf_counter() - start) / args.iters * 1e3)
    medians = {key: statistics.median(t) for key, t in times.items()}
    for key, value in medians.items():
      totals[key] += value
    rows.append((f"{side}x{side}x{channels} k{kernel} s{stride}", medians))
    loads.append(os.getloadavg()[0])
    print(f"  {rows[-1][0]} done, load {loads[-1]:.2f}", file=sys.stderr, flush=True)
  rows.append(("all layers above (sum)", totals))

  keys = [(n, p) for p in ("fwd", "fwd+bwd") for n in impls]
  header = ["layer (input, kernel, stride)"] + [f"{p} {n}" for n, p in keys]
  header += ["fwd grouped/module", "fwd+bwd grouped/module"]
  table = [header]
  for name, medians in rows:
    table.append([name] + [f"{medians[k]:.2f}" for k in keys]
                 + [f"{medians[('grouped', p)] / medians[('module', p)]:.1f}x"
                    for p in ("fwd", "fwd+bwd")])
  widths = [max(len(r[i]) for r in table) for i in range(len(header))]
  print(f"\n{args.arch} depthwise layers at {args.size}, batch {args.batch}, float32, "
        f"{args.threads} threads, JAX {jax.__version__} ({jax.devices()[0].device_kind}); "
        f"ms per call, median of {args.rounds} alternating rounds of {args.iters} calls; "
        f"load 1-min {min(loads):.2f}-{max(loads):.2f}")
  for r in table:
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                    enumerate(zip(r, widths))))


if __name__ == "__main__":
  main()
