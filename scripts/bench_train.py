"""Training-step throughput of tldomain next to the same step in PyTorch, in one run.

  python scripts/bench_train.py --models=resnet50,digits --methods=source_only,dann,mmd,coral \
      --batch=32 --steps=20 --warmup=3 --dtype=float32

For each (model, method) this times one training step on a fixed synthetic
batch of `--batch` source (+ `--batch` target) images:

- tldomain: the trainers' own compiled step (`tldomain.compute.compile_steps`:
  modules, optax optimizer groups, the jitted step over a mesh of all JAX
  devices, the batch sharded on its batch axis, the state donated), with the
  base config's SGD (lr 0.01, momentum 0.9, Nesterov, weight decay 1e-3).
  `--dtype=bfloat16` sets `model.dtype` (bf16 compute, float32 parameters).
- PyTorch: the step as Transfer-Learning-Library (TLL) writes it: torchvision's
  ResNet-50 (or the same digits CNN), a bottleneck Linear-BatchNorm-ReLU of 256,
  a Linear head; DANN's DomainDiscriminator (Linear-BN-ReLU twice, 1024 wide)
  behind a gradient reversal layer; DAN's multi-kernel MMD (five Gaussian
  kernels, linear-time estimator); Deep CORAL on the logits (the layer
  tldomain's default aligns); the same SGD; zero_grad, backward, step and an
  LR-scheduler step. `--dtype=bfloat16` wraps forward and loss in
  `torch.autocast(dtype=torch.bfloat16)`. Same batch, classes and optimizer
  settings as the JAX side; like TLL's ResNet recipes, the backbone's learning
  rate is 0.1x on both sides (ResNet-50 only).

Images/s counts the images a step reads: source + target (2 x batch), or the
source batch alone for source_only, which reads no target images on either
side. Each (framework, model, method) runs in a fresh child process, so that
compile caches, allocators and memory peaks of one case do not leak into the
next. Memory: on GPU, JAX's `peak_bytes_in_use` of device 0 and PyTorch's
`torch.cuda.max_memory_allocated()`; on CPU, the child's peak resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`), shown with its value right after
the framework was imported, since the libraries themselves are part of it.

It needs JAX, PyTorch and torchvision, not TensorFlow: the JAX side imports only
tldomain's compute core (tldomain/compute.py), so it runs on a machine with no
TensorFlow installed (a common GPU image).
"""

import argparse
import json
import os
import subprocess
import sys
import time

MODELS = {  # name -> (tldomain backbone, image size, classes, backbone lr multiplier)
    "resnet50": ("resnet50", 224, 31, 0.1),  # Office-31's 31 classes
    "digits": ("digits_cnn", 28, 10, 1.0),
}
METHODS = ("source_only", "dann", "mmd", "coral")
RESULT_TAG = "BENCH_RESULT "


def synthetic_batch(batch: int, size: int, classes: int, seed: int = 0):
  """Source images, labels and target images as NHWC float32 numpy arrays."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  images = lambda: rng.randn(batch, size, size, 3).astype(np.float32)
  return images(), rng.randint(0, classes, batch).astype(np.int32), images()


def peak_rss_mib() -> float:
  import resource  # pylint: disable=g-import-not-at-top
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ----------------------------------------------------------------------------- JAX


def bench_jax(case: dict) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  # Compile time is measured: no persistent cache may answer for the compiler.
  jax.config.update("jax_enable_compilation_cache", False)
  from tldomain import compute, defaults, sharding  # pylint: disable=g-import-not-at-top
  from tldomain.methods import get_method  # pylint: disable=g-import-not-at-top
  import_rss = peak_rss_mib()

  backbone, size, classes, backbone_lr = MODELS[case["model"]]
  config = defaults.set_method(defaults.base_config(), case["method"])
  config.model.backbone = backbone
  config.model.dtype = case["dtype"]
  config.data.image_size = size
  config.data.batch_size = case["batch"]
  config.optim.groups.backbone.lr_mult = backbone_lr
  config.train.steps = 1000
  method = get_method(case["method"])
  mesh = sharding.make_mesh()
  sharding.check_batch_size(case["batch"], mesh)

  source, labels, target = synthetic_batch(case["batch"], size, classes)
  batch = {"source": {"image": source, "label": labels}}
  if method.uses_target:
    batch["target"] = {"image": target}
  batch = sharding.global_batch(batch, mesh)
  compiled = compute.compile_steps(config, method, classes, mesh)
  state = compiled.initial_state

  start = time.perf_counter()
  step = compiled.train_step.lower(state, batch).compile()
  compile_s = time.perf_counter() - start
  for _ in range(case["warmup"]):
    state, metrics = step(state, batch)
  jax.block_until_ready((state, metrics))
  start = time.perf_counter()
  for _ in range(case["steps"]):
    state, metrics = step(state, batch)
  jax.block_until_ready((state, metrics))
  seconds = (time.perf_counter() - start) / case["steps"]
  loss = float(metrics["loss"])

  device = jax.devices()[0]
  if device.platform == "cpu":
    memory = {"peak_mib": peak_rss_mib(), "import_mib": import_rss, "memory_kind": "rss"}
  else:
    stats = device.memory_stats() or {}
    memory = {"peak_mib": stats.get("peak_bytes_in_use", float("nan")) / 2**20,
              "memory_kind": "device"}
  return {"seconds_per_step": seconds, "compile_s": compile_s, "loss": loss,
          "platform": device.platform, "devices": mesh.size,
          "device_kind": device.device_kind, "version": jax.__version__, **memory}


# ------------------------------------------------------------------------- PyTorch


def torch_modules(torch, torchvision, model: str, classes: int, method: str):
  """backbone, bottleneck, head (and DANN's discriminator) as TLL builds them."""
  nn = torch.nn
  if model == "resnet50":
    backbone = torchvision.models.resnet50()
    backbone.fc = nn.Identity()  # pooled 2048-d features, as TLL's backbone + pool layer
    dim = 2048
  else:  # tldomain's digits CNN: conv5-BN-ReLU-maxpool2 (32, 48 channels), flatten
    backbone = nn.Sequential(
        nn.Conv2d(3, 32, 5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 48, 5), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    dim = 48 * 4 * 4
  modules = {
      "backbone": backbone,
      "bottleneck": nn.Sequential(nn.Linear(dim, 256), nn.BatchNorm1d(256), nn.ReLU()),
      "head": nn.Linear(256, classes),
  }
  if method == "dann":  # DomainDiscriminator(256, hidden_size=1024), batch_norm=True
    modules["discriminator"] = nn.Sequential(
        nn.Linear(256, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 1))
  return modules


def torch_losses(torch):
  """The methods' transfer losses, written out from the papers' formulas."""
  F = torch.nn.functional

  class ReverseGradient(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, coeff):
      ctx.coeff = coeff
      return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
      return -ctx.coeff * grad, None

  def domain_adversarial(discriminator, f_s, f_t, coeff):
    d = discriminator(ReverseGradient.apply(torch.cat([f_s, f_t]), coeff)).squeeze(1)
    d_s, d_t = d.chunk(2)
    # On logits (TLL's sigmoid + binary_cross_entropy is the same loss, but is
    # refused under CUDA autocast).
    return 0.5 * (F.binary_cross_entropy_with_logits(d_s.float(), torch.ones_like(d_s.float())) +
                  F.binary_cross_entropy_with_logits(d_t.float(), torch.zeros_like(d_t.float())))

  def mk_mmd(f_s, f_t):
    """Five Gaussian kernels, bandwidth 2^k x mean squared distance, linear-time estimator."""
    n = f_s.shape[0]
    z = torch.cat([f_s, f_t]).float()
    d2 = ((z.unsqueeze(0) - z.unsqueeze(1)) ** 2).sum(2)
    mean_d2 = d2.detach().mean()
    kernel = sum(torch.exp(-d2 / (2 * 2.0 ** k * mean_d2)) for k in (-3, -2, -1, 0, 1))
    # Pairs (i, i+1 mod n): +k(s,s') + k(t,t') - k(s,t') - k(s',t), averaged.
    index = torch.zeros(2 * n, 2 * n, device=z.device)
    i = torch.arange(n, device=z.device)
    j = (i + 1) % n
    index[i, j] += 1.0 / n
    index[i + n, j + n] += 1.0 / n
    index[i, j + n] -= 1.0 / n
    index[j, i + n] -= 1.0 / n
    return (kernel * index).sum()

  def coral(x_s, x_t):
    def covariance(x):
      x = x.float()
      centred = x - x.mean(0, keepdim=True)
      return centred.T @ centred / (x.shape[0] - 1)
    d = x_s.shape[1]
    return ((covariance(x_s) - covariance(x_t)) ** 2).sum() / (4.0 * d * d)

  return domain_adversarial, mk_mmd, coral


def bench_torch(case: dict) -> dict:
  # This process never imports TensorFlow (nor JAX), so torch imports as usual
  # (tldomain/models/torch_guard.py is for processes that did) and its memory
  # is its own.
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  import_rss = peak_rss_mib()
  torch.set_num_threads(case["threads"])
  cuda = torch.cuda.is_available()
  device = "cuda" if cuda else "cpu"
  if cuda:
    torch.backends.cudnn.benchmark = True  # as TLL's scripts set it
  torch.manual_seed(0)

  model, method = case["model"], case["method"]
  _, size, classes, backbone_lr = MODELS[model]
  modules = torch_modules(torch, torchvision, model, classes, method)
  for m in modules.values():
    m.to(device).train()
  domain_adversarial, mk_mmd, coral = torch_losses(torch)
  lr = 0.01
  groups = [{"params": m.parameters(), "lr": lr * (backbone_lr if name == "backbone" else 1.0)}
            for name, m in modules.items()]
  optimizer = torch.optim.SGD(groups, lr, momentum=0.9, weight_decay=1e-3, nesterov=True)
  # lr (1 + 10 p)^-0.75, as tldomain's inverse_decay schedule over 1000 steps.
  scheduler = torch.optim.lr_scheduler.LambdaLR(
      optimizer, lambda step: (1 + 10 * step / 1000) ** -0.75)

  source, labels, target = (torch.from_numpy(np.ascontiguousarray(a)) for a in
                            synthetic_batch(case["batch"], size, classes))
  source = source.permute(0, 3, 1, 2).contiguous().to(device)  # NCHW, as torchvision takes
  target = target.permute(0, 3, 1, 2).contiguous().to(device)
  labels = labels.long().to(device)
  autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=case["dtype"] == "bfloat16")
  F = torch.nn.functional
  state = {"iteration": 0}

  def classify(x):
    f = modules["bottleneck"](modules["backbone"](x))
    return modules["head"](f), f

  def step():
    with autocast:
      if method == "source_only":
        y_s, _ = classify(source)
        loss = F.cross_entropy(y_s.float(), labels)
      else:
        y, f = classify(torch.cat([source, target]))
        y_s, y_t = y.chunk(2)
        f_s, f_t = f.chunk(2)
        loss = F.cross_entropy(y_s.float(), labels)
        if method == "dann":
          p = state["iteration"] / 1000
          coeff = float(2.0 / (1.0 + np.exp(-10.0 * p)) - 1.0)
          loss = loss + domain_adversarial(modules["discriminator"], f_s, f_t, coeff)
        elif method == "mmd":
          loss = loss + mk_mmd(f_s, f_t)
        elif method == "coral":
          loss = loss + coral(y_s, y_t)
        else:
          raise ValueError(f"No PyTorch step for method {method!r}; valid: {', '.join(METHODS)}.")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    state["iteration"] += 1
    return loss

  start = time.perf_counter()
  for _ in range(case["warmup"]):
    loss = step()
  if cuda:
    torch.cuda.synchronize()
  first_s = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(case["steps"]):
    loss = step()
  if cuda:
    torch.cuda.synchronize()
  seconds = (time.perf_counter() - start) / case["steps"]
  if cuda:
    memory = {"peak_mib": torch.cuda.max_memory_allocated() / 2**20, "memory_kind": "device"}
    kind = torch.cuda.get_device_name()
  else:
    memory = {"peak_mib": peak_rss_mib(), "import_mib": import_rss, "memory_kind": "rss"}
    kind = "cpu"
  return {"seconds_per_step": seconds, "warmup_s": first_s, "loss": float(loss),
          "platform": device, "device_kind": kind, "version": torch.__version__, **memory}


# -------------------------------------------------------------------------- driver


def run_case(case: dict) -> dict:
  """Runs one case in a fresh Python process; its result, or {"error": ...}."""
  cmd = [sys.executable, os.path.abspath(__file__), "--case=" + json.dumps(case)]
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
  for line in out.stdout.splitlines():
    if line.startswith(RESULT_TAG):
      return json.loads(line[len(RESULT_TAG):])
  lines = [l for l in (out.stderr or out.stdout).strip().splitlines() if l.strip()]
  return {"error": f"exit {out.returncode}: {lines[-1] if lines else 'no output'}"}


def rate_text(images: int, result: dict) -> str:
  if "error" in result:
    return "failed"
  rate = images / result["seconds_per_step"]
  return f"{rate:.1f}" if rate >= 10 else f"{rate:.2f}"  # CPU ResNet-50: under 1 image/s


def memory_text(result: dict) -> str:
  if "peak_mib" not in result:
    return "-"
  if result.get("memory_kind") == "rss":
    return f"{result['peak_mib']:.0f} ({result['import_mib']:.0f})"
  return f"{result['peak_mib']:.0f}"


def print_table(rows: list[dict], args) -> None:
  header = ("model", "method", "img/step", "JAX img/s", "torch img/s", "JAX/torch",
            "JAX compile s", "JAX mem MiB", "torch mem MiB")
  table = [header]
  for row in rows:
    j, t = row["jax"], row["torch"]
    ok = "error" not in j and "error" not in t
    table.append((
        row["model"], row["method"], str(row["images"]),
        rate_text(row["images"], j), rate_text(row["images"], t),
        f"{t['seconds_per_step'] / j['seconds_per_step']:.2f}" if ok else "-",
        f"{j['compile_s']:.1f}" if "error" not in j else "-",
        memory_text(j), memory_text(t)))
  widths = [max(len(r[i]) for r in table) for i in range(len(header))]
  for r in table:
    print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                    enumerate(zip(r, widths))))
  for row in rows:
    for framework in ("jax", "torch"):
      if "error" in row[framework]:
        print(f"{row['model']} {row['method']} {framework} failed: {row[framework]['error']}")
  kinds = {r[f].get("memory_kind") for r in rows for f in ("jax", "torch")}
  if "rss" in kinds:
    print("mem on CPU: peak resident set size of the case's own process (getrusage "
          "ru_maxrss), in parentheses its value right after importing the framework; "
          "both include the libraries' code and the process's Python objects.")
  if "device" in kinds:
    print("mem on GPU: JAX peak_bytes_in_use of device 0 / torch.cuda.max_memory_allocated, "
          "each in its own process (JAX's preallocated pool is not counted, only what is in use).")
  print("JAX compile s: lowering and compiling the train step (no persistent cache). "
        "PyTorch runs eagerly: nothing to compile.")


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--models", default="resnet50,digits",
                      help=f"comma-separated: {', '.join(MODELS)}")
  parser.add_argument("--methods", default=",".join(METHODS),
                      help=f"comma-separated: {', '.join(METHODS)}")
  parser.add_argument("--batch", type=int, default=32, help="images per domain per step")
  parser.add_argument("--steps", type=int, default=10, help="timed steps")
  parser.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU cores for both frameworks (the process is pinned to them)")
  parser.add_argument("--case", default="", help=argparse.SUPPRESS)  # a child's one case
  args = parser.parse_args(argv)
  for name, valid in (("models", MODELS), ("methods", METHODS)):
    bad = [v for v in getattr(args, name).split(",") if v not in valid]
    if bad:
      parser.error(f"unknown {name} {', '.join(bad)}; valid: {', '.join(valid)}")
  if args.steps < 1 or args.warmup < 0 or args.batch < 2 or args.batch % 2:
    parser.error("need --steps >= 1, --warmup >= 0 and an even --batch >= 2 "
                 "(the linear-time MMD pairs examples)")
  return args


def main(argv=None) -> list[dict]:
  """Runs the benchmark, prints the table and returns its rows."""
  args = parse_args(argv)
  if args.case:  # a child process: one case, one result line
    case = json.loads(args.case)
    result = (bench_jax if case["framework"] == "jax" else bench_torch)(case)
    print(RESULT_TAG + json.dumps(result), flush=True)
    return [result]
  # XLA sizes its CPU thread pool from the cores this process may use; the
  # children inherit the affinity, so both frameworks get the same cores.
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  rows = []
  for model in args.models.split(","):
    for method in args.methods.split(","):
      case = {"model": model, "method": method, "batch": args.batch, "steps": args.steps,
              "warmup": args.warmup, "dtype": args.dtype, "threads": args.threads}
      row = {"model": model, "method": method,
             "images": args.batch * (1 if method == "source_only" else 2)}
      for framework in ("jax", "torch"):
        row[framework] = run_case({**case, "framework": framework})
      rows.append(row)
      print(f"done {model} {method}", file=sys.stderr, flush=True)
  first = lambda f: next((r[f] for r in rows if "error" not in r[f]), {})
  j, t = first("jax"), first("torch")
  print(f"Training step, {args.dtype}, batch {args.batch} per domain, {args.steps} timed steps "
        f"after {args.warmup} warm-up, {args.threads} threads. JAX {j.get('version', '?')} on "
        f"{j.get('devices', '?')} {j.get('platform', '?')} device(s) ({j.get('device_kind', '?')}); "
        f"torch {t.get('version', '?')} on {t.get('device_kind', '?')}.")
  print_table(rows, args)
  return rows


if __name__ == "__main__":
  main()
