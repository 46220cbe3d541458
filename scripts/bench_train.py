"""Training-step throughput of tldomain next to the same step in PyTorch, eager and compiled.

  python scripts/bench_train.py --models=resnet50,digits --methods=source_only,dann \
      --batch=32 --steps=20 --rounds=5 --torch=eager,compile --dtype=float32

For each (model, method) this times one training step on a fixed synthetic
batch of `--batch` source (+ `--batch` target) images:

- tldomain: the trainers' own compiled step (`tldomain.compute.compile_steps`:
  modules, optax optimizer groups, the jitted step over a mesh of all JAX
  devices, the batch sharded on its batch axis, the state donated), with the
  base config's SGD (lr 0.01, momentum 0.9, Nesterov, weight decay 1e-3).
  `--dtype=bfloat16` sets `model.dtype` (bf16 compute, float32 parameters).
- PyTorch eager (`--torch=eager`): the step as Transfer-Learning-Library (TLL)
  writes it: torchvision's ResNet-50 (or the same digits CNN), a bottleneck
  Linear-BatchNorm-ReLU of 256, a Linear head; DANN's DomainDiscriminator
  (Linear-BN-ReLU twice, 1024 wide) behind a gradient reversal layer; DAN's
  multi-kernel MMD (five Gaussian kernels, linear-time estimator); Deep CORAL
  on the logits (the layer tldomain's default aligns); the same SGD;
  zero_grad, backward, step and an LR-scheduler step.
- PyTorch compiled (`--torch=compile`): the same modules and losses as a
  careful engineer would run them: conv backbones and images in channels-last
  memory format; the forward pass and the loss compiled as ONE graph with
  `torch.compile(fullgraph=True)` (AOTAutograd compiles its backward as a
  second graph), the optimizer step compiled separately with tensor learning
  rates so the LR scheduler and the gradient-reversal coefficient (a tensor
  too) cause no recompilation: PyTorch's documented recipe for compiled
  training. `loss.backward()` itself stays a Python call: compiling it into the
  same graph needs compiled autograd, which is still experimental. Mode
  `--torch-compile-mode` (default "default"): "max-autotune" autotunes each
  convolution and matmul shape for minutes, "reduce-overhead" adds CUDA graphs
  (GPU only). Warm-up runs until a step takes under twice the fastest step
  seen (compilation, recompilation for the second step's state, done); the
  warm-up time minus that many steady steps is printed as its compile time.
  Inductor's caches are off (TORCHINDUCTOR_FORCE_DISABLE_CACHES=1), as JAX's
  compilation cache is, so both compile times are cold.
- `--dtype=bfloat16`: `model.dtype=bfloat16` in JAX, `torch.autocast(bfloat16)`
  around forward and loss in both PyTorch variants. Same batch, classes and
  optimizer settings everywhere; like TLL's ResNet recipes, the backbone's
  learning rate is 0.1x (ResNet-50 only).

**Alternating rounds.** Each (framework, model, method) case is set up
(built, compiled, warmed up) in its own child process, which then waits. The
parent runs `--rounds` rounds; in each, every framework times `--steps` steps
in turn (the order reversed every other round), so a change in the machine's
load hits all of them alike. Figures are medians over rounds, with the
slowest and fastest round beside them; the 1-minute load average is read
before and after each round and printed with it. On a shared machine quote
the load with the figures.

Images/s counts the images a step reads: source + target (2 x batch), or the
source batch alone for source_only. Memory: on GPU, JAX's
`peak_bytes_in_use` of device 0 and PyTorch's `torch.cuda.max_memory_allocated()`;
on CPU, the child's peak resident set size (`ru_maxrss`), with its value right
after the framework was imported.

It needs JAX, PyTorch and torchvision (timm for the rows that name it), not
TensorFlow: the JAX side imports only tldomain's compute core
(tldomain/compute.py), so it runs on a machine with no TensorFlow installed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple


class Model(NamedTuple):
  backbone: str  # tldomain backbone name (tldomain.models.BACKBONES)
  size: int  # image side
  classes: int
  backbone_lr: float  # backbone learning-rate multiplier, as the recipes set it
  torch: str  # the PyTorch backbone: "torchvision:NAME", "timm:NAME" or "digits"
  conv: bool = True  # channels-last pays for the compiled PyTorch step


# One row per model: a new backbone needs only its line here.
MODELS = {
    "resnet50": Model("resnet50", 224, 31, 0.1, "torchvision:resnet50"),  # Office-31's classes
    "digits": Model("digits_cnn", 28, 10, 1.0, "digits"),
    # Depthwise convolutions: where XLA and cuDNN/oneDNN differ most.
    "lite0": Model("efficientnet_lite0", 224, 31, 0.1, "timm:efficientnet_lite0"),
}
METHODS = ("source_only", "dann", "mmd", "coral")
FRAMEWORKS = {"jax": "JAX", "torch": "torch eager", "torch_compile": "torch compiled"}
TAGS = ("READY ", "ROUND ", "DONE ")


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


def setup_jax(case: dict):
  """(step, done, info): `step()` runs one step, `done()` waits for it and gives a loss."""
  import jax  # pylint: disable=g-import-not-at-top
  # Compile time is measured: no persistent cache may answer for the compiler.
  jax.config.update("jax_enable_compilation_cache", False)
  from tldomain import compute, defaults, sharding  # pylint: disable=g-import-not-at-top
  from tldomain.methods import get_method  # pylint: disable=g-import-not-at-top
  import_rss = peak_rss_mib()

  model = MODELS[case["model"]]
  config = defaults.set_method(defaults.base_config(), case["method"])
  config.model.backbone = model.backbone
  config.model.dtype = case["dtype"]
  config.data.image_size = model.size
  config.data.batch_size = case["batch"]
  config.optim.groups.backbone.lr_mult = model.backbone_lr
  config.train.steps = 1000
  method = get_method(case["method"])
  mesh = sharding.make_mesh()
  sharding.check_batch_size(case["batch"], mesh)

  source, labels, target = synthetic_batch(case["batch"], model.size, model.classes)
  batch = {"source": {"image": source, "label": labels}}
  if method.uses_target:
    batch["target"] = {"image": target}
  batch = sharding.global_batch(batch, mesh)
  compiled = compute.compile_steps(config, method, model.classes, mesh)
  box = {"state": compiled.initial_state, "metrics": None}

  start = time.perf_counter()
  train_step = compiled.train_step.lower(box["state"], batch).compile()
  compile_s = time.perf_counter() - start

  def step():
    box["state"], box["metrics"] = train_step(box["state"], batch)

  def done() -> float:
    jax.block_until_ready(box)
    return float(box["metrics"]["loss"])

  start = time.perf_counter()
  for _ in range(case["warmup"]):
    step()
  done()
  device = jax.devices()[0]
  info = {"compile_s": compile_s, "warmup_s": time.perf_counter() - start,
          "platform": device.platform, "devices": mesh.size, "device_kind": device.device_kind,
          "version": jax.__version__, "import_mib": import_rss,
          "hlo_text": train_step.as_text()}  # for scripts/profile_step.py; not sent back

  def memory() -> dict:
    if device.platform == "cpu":
      return {"peak_mib": peak_rss_mib(), "memory_kind": "rss"}
    stats = device.memory_stats() or {}
    return {"peak_mib": stats.get("peak_bytes_in_use", float("nan")) / 2**20,
            "memory_kind": "device"}

  return step, done, info, memory


# ------------------------------------------------------------------------- PyTorch


def torch_modules(torch, model: Model, method: str):
  """backbone, bottleneck, head (and DANN's discriminator) as TLL builds them."""
  nn = torch.nn
  kind, _, name = model.torch.partition(":")
  if kind == "torchvision":
    import torchvision  # pylint: disable=g-import-not-at-top
    backbone = getattr(torchvision.models, name)()
    dim = backbone.fc.in_features
    backbone.fc = nn.Identity()  # pooled features, as TLL's backbone + pool layer
  elif kind == "timm":
    import timm  # pylint: disable=g-import-not-at-top
    backbone = timm.create_model(name, num_classes=0)  # pooled features
    dim = backbone.num_features
  elif kind == "digits":  # tldomain's digits CNN: conv5-BN-ReLU-maxpool2 (32, 48 channels)
    backbone = nn.Sequential(
        nn.Conv2d(3, 32, 5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 48, 5), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    dim = 48 * ((model.size - 4) // 2 - 4) // 2 * ((model.size - 4) // 2 - 4) // 2
  else:
    raise ValueError(f"Unknown PyTorch backbone {model.torch!r}: use torchvision:NAME, "
                     "timm:NAME or digits.")
  modules = {
      "backbone": backbone,
      "bottleneck": nn.Sequential(nn.Linear(dim, 256), nn.BatchNorm1d(256), nn.ReLU()),
      "head": nn.Linear(256, model.classes),
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


def dann_coefficient(progress: float) -> float:
  """The gradient-reversal coefficient 2 / (1 + exp(-10 p)) - 1 (Ganin et al.)."""
  import math  # pylint: disable=g-import-not-at-top
  return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def setup_torch(case: dict):
  """(step, done, info, memory) of the eager or the compiled PyTorch step."""
  compiled = case["framework"] == "torch_compile"
  if compiled:  # cold compile, as JAX's (its compilation cache is off)
    os.environ["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"
  # This process never imports TensorFlow (nor JAX), so torch imports as usual
  # (tldomain/models/torch_guard.py is for processes that did).
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import_rss = peak_rss_mib()
  torch.set_num_threads(case["threads"])
  cuda = torch.cuda.is_available()
  device = "cuda" if cuda else "cpu"
  if cuda:
    torch.backends.cudnn.benchmark = True  # as TLL's scripts set it
  torch.manual_seed(0)

  model, method = MODELS[case["model"]], case["method"]
  modules = torch_modules(torch, model, method)
  layout = torch.channels_last if compiled and model.conv else torch.contiguous_format
  for m in modules.values():
    m.to(device).train()
  modules["backbone"].to(memory_format=layout)
  domain_adversarial, mk_mmd, coral = torch_losses(torch)
  lr = 0.01

  def group_lr(name):  # a tensor in the compiled step: changing it recompiles nothing
    value = lr * (model.backbone_lr if name == "backbone" else 1.0)
    return torch.tensor(value) if compiled else value

  groups = [{"params": m.parameters(), "lr": group_lr(name)} for name, m in modules.items()]
  optimizer = torch.optim.SGD(groups, lr, momentum=0.9, weight_decay=1e-3, nesterov=True)
  # lr (1 + 10 p)^-0.75, as tldomain's inverse_decay schedule over 1000 steps.
  scheduler = torch.optim.lr_scheduler.LambdaLR(
      optimizer, lambda step: (1 + 10 * step / 1000) ** -0.75)

  source, labels, target = (torch.from_numpy(np.ascontiguousarray(a)) for a in
                            synthetic_batch(case["batch"], model.size, model.classes))
  # NCHW as torchvision takes it (strides channels-last in the compiled step).
  source = source.permute(0, 3, 1, 2).contiguous(memory_format=layout).to(device)
  target = target.permute(0, 3, 1, 2).contiguous(memory_format=layout).to(device)
  labels = labels.long().to(device)
  bf16 = case["dtype"] == "bfloat16"
  F = torch.nn.functional
  state = {"iteration": 0, "loss": None}

  def forward_loss(source, target, labels, coeff):
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
      def classify(x):
        f = modules["bottleneck"](modules["backbone"](x))
        return modules["head"](f), f
      if method == "source_only":
        y_s, _ = classify(source)
        return F.cross_entropy(y_s.float(), labels)
      y, f = classify(torch.cat([source, target]))
      y_s, y_t = y.chunk(2)
      f_s, f_t = f.chunk(2)
      loss = F.cross_entropy(y_s.float(), labels)
      if method == "dann":
        return loss + domain_adversarial(modules["discriminator"], f_s, f_t, coeff)
      if method == "mmd":
        return loss + mk_mmd(f_s, f_t)
      if method == "coral":
        return loss + coral(y_s, y_t)
      raise ValueError(f"No PyTorch step for method {method!r}; valid: {', '.join(METHODS)}.")

  optimizer_step = optimizer.step
  if compiled:
    forward_loss = torch.compile(forward_loss, fullgraph=True, mode=case["compile_mode"])
    optimizer_step = torch.compile(optimizer.step, mode=case["compile_mode"])

  def step():
    coeff = dann_coefficient(state["iteration"] / 1000)
    if compiled:
      coeff = torch.tensor(coeff, device=device)
    loss = forward_loss(source, target, labels, coeff)
    optimizer.zero_grad()
    loss.backward()
    optimizer_step()
    scheduler.step()
    state["iteration"] += 1
    state["loss"] = loss

  def done() -> float:
    if cuda:
      torch.cuda.synchronize()
    return float(state["loss"])

  # Warm-up: at least `warmup` steps, and on until compilation is over (a step
  # under twice the fastest one so far). Compile time = warm-up minus that many
  # steady steps.
  times = []
  start = time.perf_counter()
  while (len(times) < max(case["warmup"], 3 if compiled else 1)
         or (compiled and times[-1] > 2 * min(times) and len(times) < 30)):
    t = time.perf_counter()
    step()
    done()
    times.append(time.perf_counter() - t)
  warmup_s = time.perf_counter() - start
  info = {"warmup_s": warmup_s, "warmup_steps": len(times), "platform": device,
          "device_kind": torch.cuda.get_device_name() if cuda else "cpu",
          "version": torch.__version__, "import_mib": import_rss}
  if compiled:
    info["compile_s"] = warmup_s - len(times) * min(times)
    info["compile_mode"] = case["compile_mode"]

  def memory() -> dict:
    if cuda:
      return {"peak_mib": torch.cuda.max_memory_allocated() / 2**20, "memory_kind": "device"}
    return {"peak_mib": peak_rss_mib(), "memory_kind": "rss"}

  return step, done, info, memory


# ------------------------------------------------------------------ child process


def serve(case: dict) -> None:
  """A child: set the case up, then time `steps` steps per "round" line on stdin."""
  setup = setup_jax if case["framework"] == "jax" else setup_torch
  step, done, info, memory = setup(case)
  info.pop("hlo_text", None)
  print("READY " + json.dumps(info), flush=True)
  for line in sys.stdin:
    if line.strip() != "round":
      break
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(case["steps"]):
      step()
    loss = done()
    seconds = (time.perf_counter() - start) / case["steps"]
    cpu_seconds = (time.process_time() - cpu) / case["steps"]  # all its threads
    print("ROUND " + json.dumps({"seconds_per_step": seconds, "cpu_seconds_per_step": cpu_seconds,
                                 "loss": loss}), flush=True)
  print("DONE " + json.dumps(memory()), flush=True)


class Child:
  """One case's process, driven round by round over its stdin and stdout."""

  def __init__(self, case: dict):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # stderr to a file: a pipe nobody reads would stall a chatty child (compiler logs).
    self.stderr = tempfile.TemporaryFile(mode="w+")  # pylint: disable=consider-using-with
    self.process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--case=" + json.dumps(case)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
    self.error = None

  def read(self, tag: str) -> dict | None:
    """The JSON after the next line starting with `tag`; None (and .error) if it died."""
    for line in self.process.stdout:
      if line.startswith(tag):
        return json.loads(line[len(tag):])
    self.process.wait()
    self.stderr.seek(0)
    lines = [l for l in self.stderr.read().strip().splitlines() if l.strip()]
    self.error = f"exit {self.process.returncode}: {lines[-1] if lines else 'no output'}"
    return None

  def send(self, command: str) -> None:
    self.process.stdin.write(command + "\n")
    self.process.stdin.flush()

  def close(self) -> dict:
    if self.error:
      return {}
    self.send("end")
    memory = self.read("DONE ") or {}
    self.process.stdin.close()
    self.process.wait()
    return memory


def load() -> float:
  return os.getloadavg()[0]


def run_model_method(model: str, method: str, frameworks: list[str], args) -> dict:
  """Sets up each framework's child, runs the alternating rounds, returns the row."""
  images = args.batch * (1 if method == "source_only" else 2)
  case = {"model": model, "method": method, "batch": args.batch, "steps": args.steps,
          "warmup": args.warmup, "dtype": args.dtype, "threads": args.threads,
          "compile_mode": args.torch_compile_mode}
  row = {"model": model, "method": method, "images": images}
  children = {}
  for framework in frameworks:  # one at a time: set-up (compiling) is not timed together
    child = Child({**case, "framework": framework})
    info = child.read("READY ")
    row[framework] = info if info is not None else {"error": child.error}
    children[framework] = child
    print(f"  {model} {method} {FRAMEWORKS[framework]} ready", file=sys.stderr, flush=True)
  for framework in frameworks:
    row[framework].setdefault("rates", [])
    row[framework].setdefault("cpu_ms", [])
  row["loads"] = []
  for r in range(args.rounds):
    order = frameworks if r % 2 == 0 else frameworks[::-1]
    for framework in order:
      child = children[framework]
      if child.error:
        continue
      before = load()
      child.send("round")
      result = child.read("ROUND ")
      after = load()
      if result is None:
        row[framework] = {"error": child.error}
        continue
      rate = images / result["seconds_per_step"]
      row[framework]["rates"].append(rate)
      row[framework]["cpu_ms"].append(result["cpu_seconds_per_step"] * 1e3)
      row[framework]["loss"] = result["loss"]
      row["loads"] += [before, after]
      print(f"round {r + 1} {model:8s} {method:11s} {FRAMEWORKS[framework]:15s} "
            f"{rate:9.2f} images/s  {result['cpu_seconds_per_step'] * 1e3:8.1f} CPU ms/step  "
            f"load {before:.2f} -> {after:.2f}", flush=True)
  for framework, child in children.items():
    row[framework].update(child.close())
    result = row[framework]
    if "error" in result:
      result.pop("rates", None)
    elif result["rates"]:
      result["images_per_second"] = statistics.median(result["rates"])
      result["seconds_per_step"] = images / result["images_per_second"]
      result["cpu_ms_per_step"] = statistics.median(result["cpu_ms"])
  return row


# -------------------------------------------------------------------------- report


def rate_text(result: dict) -> str:
  if "error" in result or not result.get("rates"):
    return "failed"
  fmt = lambda r: f"{r:.1f}" if r >= 10 else f"{r:.2f}"  # CPU ResNet-50: under 1 image/s
  rates = result["rates"]
  if len(rates) == 1:
    return fmt(rates[0])
  return f"{fmt(result['images_per_second'])} [{fmt(min(rates))}-{fmt(max(rates))}]"


def memory_text(result: dict) -> str:
  if "peak_mib" not in result:
    return "-"
  if result.get("memory_kind") == "rss":
    return f"{result['peak_mib']:.0f} ({result['import_mib']:.0f})"
  return f"{result['peak_mib']:.0f}"


def ratio_text(row: dict, framework: str) -> str:
  j, t = row["jax"], row.get(framework, {})
  if "images_per_second" not in j or "images_per_second" not in t:
    return "-"
  return f"{j['images_per_second'] / t['images_per_second']:.2f}"


def print_table(rows: list[dict], frameworks: list[str]) -> None:
  torches = [f for f in frameworks if f != "jax"]
  header = ["model", "method", "img/step"]
  header += [f"{FRAMEWORKS[f]} img/s" for f in frameworks]
  header += [f"JAX/{FRAMEWORKS[f].split()[1]}" for f in torches]
  header += ["compile s JAX" + (" / torch" if "torch_compile" in frameworks else "")]
  header += [f"{FRAMEWORKS[f].split()[-1] if f != 'jax' else 'JAX'} mem MiB" for f in frameworks]
  header += ["load 1-min"]
  table = [header]
  for row in rows:
    compile_s = f"{row['jax']['compile_s']:.1f}" if "compile_s" in row["jax"] else "-"
    if "torch_compile" in frameworks:
      t = row["torch_compile"]
      compile_s += " / " + (f"{t['compile_s']:.1f}" if "compile_s" in t else "-")
    loads = row["loads"]
    table.append(
        [row["model"], row["method"], str(row["images"])]
        + [rate_text(row[f]) for f in frameworks]
        + [ratio_text(row, f) for f in torches] + [compile_s]
        + [memory_text(row[f]) for f in frameworks]
        + [f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"])
  widths = [max(len(r[i]) for r in table) for i in range(len(header))]
  for r in table:
    print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                    enumerate(zip(r, widths))))
  for row in rows:
    for framework in frameworks:
      if "error" in row[framework]:
        print(f"{row['model']} {row['method']} {FRAMEWORKS[framework]} failed: "
              f"{row[framework]['error']}")
  for row in rows:
    print(f"CPU ms/step (all threads, median over rounds), {row['model']} {row['method']}: " +
          ", ".join(f"{FRAMEWORKS[f]} {row[f]['cpu_ms_per_step']:.1f}" for f in frameworks
                    if "cpu_ms_per_step" in row[f]))
  print("img/s: median over rounds [slowest-fastest round]; JAX/x: ratio of medians; "
        "load 1-min: the range of the 1-minute load average read before and after each "
        "round.")
  kinds = {r[f].get("memory_kind") for r in rows for f in frameworks}
  if "rss" in kinds:
    print("mem on CPU: peak resident set size of the case's own process (ru_maxrss), in "
          "parentheses its value right after importing the framework.")
  if "device" in kinds:
    print("mem on GPU: JAX peak_bytes_in_use of device 0 / torch.cuda.max_memory_allocated, "
          "each in its own process (JAX's preallocated pool is not counted, only what is in use).")
  print("compile s: JAX lowering and compiling the train step (no persistent cache)"
        + ("; torch compiled: warm-up time minus as many steady steps (Inductor caches off)."
           if "torch_compile" in frameworks else "."))


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--models", default="resnet50,digits",
                      help=f"comma-separated: {', '.join(MODELS)}")
  parser.add_argument("--methods", default=",".join(METHODS),
                      help=f"comma-separated: {', '.join(METHODS)}")
  parser.add_argument("--batch", type=int, default=32, help="images per domain per step")
  parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
  parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
  parser.add_argument("--warmup", type=int, default=2, help="untimed steps before the rounds")
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
  parser.add_argument("--torch", default="eager,compile",
                      help="PyTorch variants, comma-separated: eager, compile (or none)")
  parser.add_argument("--torch-compile-mode", default="default",
                      help="torch.compile mode: default, max-autotune, reduce-overhead, ...")
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU cores for all frameworks (the process is pinned to them)")
  parser.add_argument("--case", default="", help=argparse.SUPPRESS)  # a child's one case
  args = parser.parse_args(argv)
  for name, valid in (("models", MODELS), ("methods", METHODS)):
    bad = [v for v in getattr(args, name).split(",") if v not in valid]
    if bad:
      parser.error(f"unknown {name} {', '.join(bad)}; valid: {', '.join(valid)}")
  variants = [v for v in args.torch.split(",") if v and v != "none"]
  bad = [v for v in variants if v not in ("eager", "compile")]
  if bad:
    parser.error(f"unknown --torch {', '.join(bad)}; valid: eager, compile, none")
  args.frameworks = ["jax"] + [{"eager": "torch", "compile": "torch_compile"}[v]
                               for v in variants]
  if args.steps < 1 or args.rounds < 1 or args.warmup < 0 or args.batch < 2 or args.batch % 2:
    parser.error("need --steps >= 1, --rounds >= 1, --warmup >= 0 and an even --batch >= 2 "
                 "(the linear-time MMD pairs examples)")
  return args


def main(argv=None) -> list[dict]:
  """Runs the benchmark, prints the table and returns its rows."""
  args = parse_args(argv)
  if args.case:  # a child process: one case, driven over stdin
    serve(json.loads(args.case))
    return []
  # XLA sizes its CPU thread pool from the cores this process may use; the
  # children inherit the affinity, so all frameworks get the same cores.
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  rows = []
  for model in args.models.split(","):
    for method in args.methods.split(","):
      rows.append(run_model_method(model, method, args.frameworks, args))
  first = lambda f: next((r[f] for r in rows if f in r and "error" not in r[f]), {})
  j, t = first("jax"), first(args.frameworks[-1])
  mode = (f", torch.compile mode {args.torch_compile_mode!r}"
          if "torch_compile" in args.frameworks else "")
  print(f"\nTraining step, {args.dtype}, batch {args.batch} per domain, {args.rounds} "
        f"alternating rounds of {args.steps} steps after warm-up, {args.threads} threads"
        f"{mode}. JAX {j.get('version', '?')} on {j.get('devices', '?')} "
        f"{j.get('platform', '?')} device(s) ({j.get('device_kind', '?')}); "
        f"torch {t.get('version', '?')} on {t.get('device_kind', '?')}. "
        f"Load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
  print_table(rows, args.frameworks)
  return rows


if __name__ == "__main__":
  main()
