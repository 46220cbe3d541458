"""Shared fixtures: the embedded dataset built once per session, small configs."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Many tests compile the same small programs, some in subprocesses (which
# inherit these variables): a session-wide persistent XLA cache compiles each
# once. Set before JAX is imported.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="tldomain-xla-"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

from tldomain.models.torch_guard import block_triton  # noqa: E402

block_triton()  # before any test module imports torch: see torch_guard.py

import pytest  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

tfds.disable_progress_bar()

from tldomain import defaults  # noqa: E402

from real_data import REAL_DATA, REAL_DATA_UNSET  # noqa: E402


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
  """A TFDS data dir holding the embedded digits domains, generated once."""
  from tldomain import data  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp("tfds"))
  for domain in ("uci_digits", "uci_digits_m"):
    data.domains.prepared_builder(domain, path)
  return path


@pytest.fixture
def small_config(data_dir):
  """A config that trains the embedded task for a few steps in seconds."""

  def make(method: str = "dann", steps: int = 12):
    return tiny_config(method, data_dir, steps, log_every=4, eval_every=6)

  return make


def tiny_config(method: str, data_dir: str, steps: int, log_every: int, eval_every: int):
  """The embedded task with small batches and heads: a run of a few steps in seconds."""
  config = defaults.set_method(defaults.base_config(), method)
  config.data.data_dir = data_dir
  config.data.batch_size = 8
  config.data.eval_batch_size = 128
  config.model.bottleneck_dim = 32
  if "discriminator_hidden" in config.method:
    config.method.discriminator_hidden = (32, 32)
  config.train.steps = steps
  config.train.log_every = log_every
  config.train.eval_every = eval_every
  config.train.progress_bar = False
  config.selection.num_examples = 64  # small evaluations: these runs test the trainer
  return config


@pytest.fixture(scope="session")
def real_data() -> str:
  """The real data folder, the manual folder of its datasets."""
  if not REAL_DATA:
    pytest.skip(REAL_DATA_UNSET)
  return REAL_DATA


@pytest.fixture(scope="session")
def real_tfds(real_data, tmp_path_factory) -> str:
  """A TFDS data dir holding USPS and MNIST built once from the real files."""
  from tldomain.data import domains  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp("real_tfds"))
  for name in ("usps", "mnist"):
    domains.prepared_builder(name, path, real_data)
  return path


@pytest.fixture
def usps_to_mnist_config(small_config, real_tfds, real_data):
  """A small real task: USPS -> MNIST's test split (the only MNIST split on these
  machines, so a transductive run), on slices so that evaluation stays cheap."""

  def make(method: str = "dann", steps: int = 12):
    config = small_config(method, steps)
    config.data.source, config.data.target = "usps", "mnist"
    config.data.data_dir, config.data.manual_dir = real_tfds, real_data
    config.data.source_train_split = "train[:1000]"
    config.data.source_val_split = "test[:500]"
    config.data.target_train_split = "test"
    config.data.target_test_split = "test[:500]"
    config.data.eval_batch_size = 100
    config.selection.num_examples = 64
    return config

  return make


@pytest.fixture(scope="session")
def resnet18_file(tmp_path_factory) -> str:
  """torchvision's ResNet-18 (random weights, random BatchNorm statistics) as a .pth file."""
  import torch  # pylint: disable=g-import-not-at-top
  import torchvision  # pylint: disable=g-import-not-at-top
  from torch_reference import randomised  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  path = str(tmp_path_factory.mktemp("torch") / "resnet18.pth")
  torch.save(randomised(torchvision.models.resnet18()).state_dict(), path)
  return path


@pytest.fixture(scope="session")
def lite_cache(tmp_path_factory) -> str:
  """A TLDOMAIN_CACHE for the session with the packaged ImageNet Lite0 and Lite2
  weights converted once (the `lite` extra installs them); later lookups by name
  reuse the conversion."""
  from tldomain.models import pretrained  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp("lite_cache"))
  saved = os.environ.get("TLDOMAIN_CACHE")
  os.environ["TLDOMAIN_CACHE"] = path
  for n in (0, 2):
    pretrained.resolve(f"efficientnet_lite{n}:imagenet", f"efficientnet_lite{n}")
  yield path
  if saved is None:
    del os.environ["TLDOMAIN_CACHE"]
  else:
    os.environ["TLDOMAIN_CACHE"] = saved


def tiny_finished_run(method: str, data_dir: str, workdir: str) -> str:
  """Trains a 6-step run of `method` on the embedded task into `workdir`."""
  from tldomain import trainers  # pylint: disable=g-import-not-at-top
  trainers.run(tiny_config(method, data_dir, steps=6, log_every=3, eval_every=6), workdir)
  return workdir


@pytest.fixture(scope="session")
def finished_run(data_dir, tmp_path_factory) -> str:
  """A finished tiny DANN run (export, predict, distill: an adapted model with a
  method module the classifier must leave out)."""
  return tiny_finished_run("dann", data_dir, str(tmp_path_factory.mktemp("finished_run")))


@pytest.fixture(scope="session")
def finished_source_only(data_dir, tmp_path_factory) -> str:
  """A finished tiny source-only run (train.init_from of the source-free and
  test-time tests)."""
  return tiny_finished_run("source_only", data_dir, str(tmp_path_factory.mktemp("source_only")))
