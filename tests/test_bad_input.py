"""Bad input stops with a message naming the problem, never with a silent wrong result
(issue 12): class alignment, image modes, symlink loops, a workdir's identity and lock,
damaged checkpoints, impossible config values, strict JSON, the CLI's errors."""

import contextlib
import io
import itertools
import json
import logging
import os
import signal
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from tldomain import data, defaults, evaluation, loop, metrics, results, run_data, trainers
from tldomain import workdir as workdir_lib
from tldomain.data import domains
from tldomain.data.builders import common, folder

import release_fixtures as fx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def split(domain: str, names) -> data.Split:
  empty = np.zeros((1, 2, 2, 3), np.uint8)
  return data.Split(domain, "train", empty, np.zeros(1, np.int64), 3, len(names), False,
                    tuple(names))


def tiny_folder(root, classes, per_class=2, seed=0) -> str:
  rng = np.random.default_rng(seed)
  files = {}
  for c in classes:
    for i in range(per_class):
      out = io.BytesIO()
      Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(out, "PNG")
      files[f"{c}/{i}.png"] = out.getvalue()
  return fx.write_files(str(root), files)


def strict_loads(text: str):
  """json.loads that refuses the NaN / Infinity tokens strict JSON has no place for."""
  def refuse(token):
    raise ValueError(f"non-standard JSON token {token}")
  return json.loads(text, parse_constant=refuse)


@contextlib.contextmanager
def deadline(seconds: float):
  """Fails the test if the block runs longer (a hang), interrupting it."""
  def expire(signum, frame):
    raise TimeoutError(f"still running after {seconds} s")
  previous = signal.signal(signal.SIGALRM, expire)
  signal.setitimer(signal.ITIMER_REAL, seconds)
  try:
    yield
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


# 1. Classes line up or the run stops.

def test_integer_class_folders_sort_numerically(tmp_path):
  for name in ["10", "2", "1", "9"]:
    os.makedirs(tmp_path / name)
  assert folder.class_names(str(tmp_path)) == ["1", "2", "9", "10"]
  assert folder.class_order(["b", "10", "a"]) == ["10", "a", "b"]  # not all integers


def test_digit_class_names_are_matched_by_name():
  words = ["eight", "five", "four", "nine", "one", "seven", "six", "three", "two", "zero"]
  digits = [str(i) for i in range(10)]
  with pytest.raises(ValueError, match=r"only in the source: 'eight', 'five'.*only in the "
                     r"target: '0', '1'"):
    run_data.check_same_classes(split("words", words), split("digits", digits))
  one_to_ten = [str(i) for i in range(1, 11)]
  with pytest.raises(ValueError, match=r"only in the source: '10'; only in the target: '0'"):
    run_data.check_same_classes(split("a", one_to_ten), split("b", digits))
  run_data.check_same_classes(split("a", digits), split("b", digits))


def test_a_class_on_one_side_only_is_named():
  with pytest.raises(ValueError, match=r"only in the source: 'emu'\."):
    run_data.check_same_classes(split("a", ["cat", "dog", "emu"]), split("b", ["cat", "dog"]))
  with pytest.raises(ValueError, match=r"same class names in a different order.*0: 'dog' vs "
                     r"'cat'"):
    run_data.check_same_classes(split("a", ["dog", "cat"]), split("b", ["cat", "dog"]))


def test_folder_run_with_mismatched_classes_stops_before_training(small_config, tmp_path):
  source = tiny_folder(tmp_path / "src", ["zero", "one", "two"])
  target = tiny_folder(tmp_path / "tgt", ["0", "1", "2"])
  config = small_config("source_only", steps=2)
  config.data.source, config.data.target = f"folder:{source}", f"folder:{target}"
  config.data.data_dir = str(tmp_path / "tfds")
  work = tmp_path / "run"
  with pytest.raises(ValueError, match=r"only in the source: 'one', 'two', 'zero'; only in "
                     r"the target: '0', '1', '2'"):
    trainers.run(config, str(work))
  assert not os.path.exists(work / "checkpoints")


# 2. Images keep their values.

def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
  out = io.BytesIO()
  image.save(out, fmt)
  return out.getvalue()


def decoded(data_bytes: bytes) -> np.ndarray:
  with Image.open(io.BytesIO(common.encoded_image(data_bytes, "x"))) as image:
    return np.asarray(image.convert("RGB"))


def test_image_modes_are_scaled_to_8_bits_or_refused(tmp_path):
  sixteen = Image.fromarray(np.array([[0, 51400, 65535, 31354]], np.uint16))
  assert sixteen.mode == "I;16"
  np.testing.assert_array_equal(decoded(encoded(sixteen))[0, :, 0], [0, 200, 255, 122])
  np.testing.assert_array_equal(decoded(encoded(sixteen))[..., 0], decoded(encoded(sixteen))[..., 2])

  palette = Image.new("P", (3, 1))
  palette.putpalette([255, 0, 0, 0, 128, 0, 7, 8, 9] + [0] * 759)
  palette.putdata([0, 1, 2])
  np.testing.assert_array_equal(decoded(encoded(palette))[0], [[255, 0, 0], [0, 128, 0], [7, 8, 9]])

  la = Image.fromarray(np.array([[[10, 0], [200, 255]]], np.uint8), mode="LA")
  np.testing.assert_array_equal(decoded(encoded(la))[0], [[10] * 3, [200] * 3])
  rgba = Image.fromarray(np.array([[[1, 2, 3, 0], [250, 251, 252, 255]]], np.uint8), mode="RGBA")
  np.testing.assert_array_equal(decoded(encoded(rgba))[0], [[1, 2, 3], [250, 251, 252]])

  for mode, array in (("I", np.array([[0, 70000]], np.int32)),
                      ("F", np.array([[0.0, 0.5]], np.float32))):
    image = Image.fromarray(array)
    assert image.mode == mode
    path = str(tmp_path / f"{mode}.tif")
    with pytest.raises(common.CorruptImageError, match=rf"{path} is a mode {mode} .*no fixed "
                       "range"):
      common.encoded_image(encoded(image, "TIFF"), path)


def test_folder_of_16_bit_pngs_keeps_its_values(tmp_path, capsys):
  files = {}
  for c in ("a", "b"):
    files[f"{c}/x.png"] = encoded(Image.fromarray(np.array(
        [[0, 51400, 65535, 31354]] * 2, np.uint16)))
  root = fx.write_files(str(tmp_path / "deep"), files)
  builder = domains.prepared_builder(f"folder:{root}", str(tmp_path / "tfds"))
  images = fx.read_split(builder, "train")["image"]
  np.testing.assert_array_equal(images[:, 0, :, 0], [[0, 200, 255, 122]] * 2)
  # A folder downloads nothing: TFDS's "Downloading and preparing dataset" line is noise.
  assert "Downloading" not in capsys.readouterr().out


# 3. Folder walking that cannot hang.

def test_links_to_parent_folders_do_not_hang(tmp_path, caplog):
  root = tiny_folder(tmp_path / "root", ["cat", "dog"], per_class=1)
  for c in ("cat", "dog"):
    os.symlink("..", os.path.join(root, c, "up"))
    os.symlink("..", os.path.join(root, c, "up2"))
  with deadline(60), caplog.at_level(logging.WARNING):
    builder = domains.prepared_builder(f"folder:{root}", str(tmp_path / "tfds"))
  assert builder.info.splits["train"].num_examples == 2
  assert os.path.join(root, "cat", "up") in caplog.text and "loops or repeats" in caplog.text


def test_links_to_each_other_are_skipped_naming_them(tmp_path, caplog):
  root = tiny_folder(tmp_path / "root", ["cat", "dog"], per_class=1)
  a, b = os.path.join(root, "cat", "a.png"), os.path.join(root, "cat", "b.png")
  os.symlink(b, a)
  os.symlink(a, b)
  with deadline(60), caplog.at_level(logging.WARNING):
    builder = domains.prepared_builder(f"folder:{root}", str(tmp_path / "tfds"))
  assert builder.info.splits["train"].num_examples == 2
  assert f"Skipping {a}: a link that leads nowhere" in caplog.text


def test_unreadable_folder_is_named(tmp_path, monkeypatch):
  root = tiny_folder(tmp_path / "root", ["cat", "dog"], per_class=1)
  locked = os.path.join(root, "dog")
  real_scandir = os.scandir

  def scandir(path="."):  # chmod does not stop root, so refuse as the OS would
    if os.fspath(path) == locked:
      raise PermissionError(13, "Permission denied", locked)
    return real_scandir(path)

  monkeypatch.setattr(os, "scandir", scandir)
  with pytest.raises(common.DatasetContentError, match=f"Cannot list the folder {locked}: "
                     "Permission denied"):
    common.FolderRelease(root).names()


# 4. A workdir has an identity and a lock.

def checkpoints(path) -> list[int]:
  return workdir_lib.checkpoint_steps(str(path))


def test_restart_with_another_config_stops_listing_the_fields(small_config, tmp_path,
                                                              caplog):
  work = str(tmp_path / "run")
  config = small_config("source_only", steps=6)
  workdir_lib.check_identity(work, config, write=True)  # what a first run writes
  os.makedirs(os.path.join(work, "checkpoints", "3"))  # ... and a checkpoint to resume

  # Logging and evaluation fields may change between restarts.
  config.train.log_every, config.train.stop_at_step, config.train.eval_every = 2, 4, 2
  config.data.eval_batch_size, config.selection.num_examples = 64, 32
  workdir_lib.check_identity(work, config, write=False)

  other = small_config("mcc", steps=6)
  other.model.bottleneck_dim = 16
  with pytest.raises(workdir_lib.WorkdirError, match=r"(?s)holds a run of another config.*"
                     r"method.name: \"source_only\" -> \"mcc\".*model.bottleneck_dim: 32 -> 16"
                     r".*--config.train.force_config=True"):
    trainers.run(other, work)  # stops before reading any data
  saved = json.load(open(os.path.join(work, "config.json")))
  assert saved["method"]["name"] == "source_only"

  other.train.force_config = True  # the explicit flag resumes it anyway
  with caplog.at_level(logging.WARNING):
    workdir_lib.check_identity(work, other, write=True)
  assert "method.name" in caplog.text
  assert json.load(open(os.path.join(work, "config.json")))["method"]["name"] == "mcc"
  replaced = json.load(open(os.path.join(work, "config.replaced_at_step_3.json")))
  assert replaced["method"]["name"] == "source_only"


def test_a_live_lock_stops_a_second_run_and_a_stale_one_is_taken_over(
    small_config, tmp_path, caplog):
  work = str(tmp_path / "run")
  with workdir_lib.lock(work):
    holder = json.load(open(os.path.join(work, "lock")))
    assert holder["pid"] == os.getpid()
    with pytest.raises(workdir_lib.WorkdirError,
                       match=rf"is in use by another run \(pid {os.getpid()} on host "):
      trainers.run(small_config("source_only", steps=2), work)
  # A lock file left by a process that died (SIGKILL): its flock is gone.
  with open(os.path.join(work, "lock"), "w") as f:
    json.dump({"pid": 999999, "host": "elsewhere", "since": "then"}, f)
  with caplog.at_level(logging.WARNING), workdir_lib.lock(work):
    pass
  assert "stale lock" in caplog.text and "pid 999999 on host elsewhere" in caplog.text


# 5. Clear errors for the rest.

@pytest.mark.parametrize("field,value,message", [
    ("train.steps", 0, r"train.steps=0: the number of training steps must be a positive"),
    ("data.batch_size", -4, r"data.batch_size=-4: the batch size must be a positive"),
    ("optim.lr", -0.1, r"optim.lr=-0.1: the learning rate must be >= 0"),
    ("data.image_size", 8, r"data.image_size=8 is too small for backbone 'digits_cnn'.*"
                           r"image_size >= 16"),
])
def test_config_values_that_cannot_work(small_config, tmp_path, field, value, message):
  config = small_config("source_only", steps=2)
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=message):
    trainers.run(config, str(tmp_path / "run"))
  assert not os.path.exists(tmp_path / "run" / "config.json")  # nothing started


def tiny_state_class():
  """A train state's shape in miniature: a step and some parameters."""
  import flax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  @flax.struct.dataclass
  class State:
    step: jnp.ndarray
    params: jnp.ndarray

  return State


def corrupt(step_folder: str) -> None:
  for folder_path, _, files in os.walk(step_folder):
    for name in files:
      with open(os.path.join(folder_path, name), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(folder_path, name)) // 3)


def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from tldomain.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top
  State = tiny_state_class()
  config = defaults.base_config()
  work = str(tmp_path / "run")
  saver = Checkpointer(os.path.join(work, "checkpoints"), "source_val_accuracy")
  saver.save(6, State(jnp.int32(6), jnp.full(3, 6.0)), {"source_val_accuracy": 0.5})
  saver.save(9, State(jnp.int32(9), jnp.full(3, 9.0)))  # the latest, not evaluated
  saver.wait()
  saver.close()
  corrupt(os.path.join(work, "checkpoints", "9"))
  initial = State(jnp.int32(0), jnp.zeros(3))
  with caplog.at_level(logging.WARNING):
    opened = workdir_lib.open_run(work, config, initial, write=True)
  opened.checkpointer.close()
  assert opened.start_step == 6 and float(opened.state.params[0]) == 6.0
  assert "previous good checkpoint, step 6" in caplog.text
  assert os.path.isdir(os.path.join(work, "corrupt_checkpoints", "9"))
  assert checkpoints(work) == [6]

  corrupt(os.path.join(work, "checkpoints", "6"))
  folder_path = os.path.join(work, "checkpoints")
  with pytest.raises(workdir_lib.WorkdirError, match=f"delete {folder_path} to train again"):
    workdir_lib.open_run(work, config, initial, write=True)
  assert checkpoints(work) == [6]  # nothing restores: the files stay where they were


def test_a_pth_file_that_is_not_a_state_dict_is_named(tmp_path):
  import torch  # pylint: disable=g-import-not-at-top
  from tldomain.models import convert  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / "model.pth")
  torch.save(torch.nn.Linear(2, 2), path)  # the whole module, not its state dict
  with pytest.raises(ValueError, match=rf"{path} is not a PyTorch state dict.*"
                     r"torch.save\(model.state_dict\(\), path\)"):
    convert.read_state_dict(path)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "tldomain.main", *args], cwd=ROOT,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {})),
                        capture_output=True, text=True, timeout=300, check=False)


def test_cli_prints_one_line_for_an_unknown_config_field(tmp_path):
  config = os.path.join(ROOT, "configs", "embedded_digits.py")
  out = cli(f"--config={config}:dann", f"--workdir={tmp_path}", "--config.train.stepz=3")
  assert out.returncode == 1
  assert "Traceback" not in out.stderr
  assert ("tldomain: error: Unknown config field 'train.stepz' (in --config.train.stepz): "
          "did you mean 'train.steps'?") in out.stderr
  # Expected errors are one line; a bug (any other error) keeps its traceback.
  from tldomain import config_checks, main  # pylint: disable=g-import-not-at-top
  error = config_checks.ConfigError("Config values that cannot work: optim.lr=-1.0")
  assert main.error_message(error, []) == str(error)
  assert main.error_message(AttributeError("'NoneType' has no attribute 'x'"), []) is None
  assert main._verbose(["--verbose"]) and not main._verbose([])  # pylint: disable=protected-access


# 6. Tidy runs.

def test_metrics_are_trimmed_on_resume(tmp_path):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from tldomain.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top
  State = tiny_state_class()
  work = str(tmp_path / "run")
  saver = Checkpointer(os.path.join(work, "checkpoints"), "source_val_accuracy")
  saver.save(3, State(jnp.int32(3), jnp.ones(3)))
  saver.wait()
  saver.close()
  path = os.path.join(work, "metrics.jsonl")
  with open(path, "w") as f:  # step 4 was logged after the checkpoint at 3, then killed
    f.writelines(json.dumps({"step": s, "train/loss": 1.0}) + "\n" for s in (2, 3, 4))
  opened = workdir_lib.open_run(work, defaults.base_config(), State(jnp.int32(0), jnp.zeros(3)),
                                write=True)
  opened.checkpointer.close()
  assert opened.start_step == 3
  assert [r["step"] for r in metrics.read_jsonl(path)] == [2, 3]


def test_json_files_are_strict(tmp_path):
  nan, inf = float("nan"), float("inf")
  writer = metrics.MetricWriter(str(tmp_path))
  writer.write(1, {"train/loss": nan, "train/x": 1.0})
  writer.close()
  record = strict_loads(open(tmp_path / "metrics.jsonl").read())
  assert record == {"step": 1, "train/loss": None, "train/x": 1.0}
  results.write_json(str(tmp_path / "r.json"), {"a": [inf, 2.0], "b": {"c": nan}})
  assert strict_loads(open(tmp_path / "r.json").read()) == {"a": [None, 2.0], "b": {"c": None}}
  log = evaluation.EvaluationLog(str(tmp_path), 0, enabled=True)
  log.add(3, {"snd": nan})
  assert strict_loads(open(tmp_path / "evaluations.jsonl").read()) == {"step": 3, "snd": None}


class _Saver:
  directory = "nowhere"

  def __init__(self):
    self.saved = []

  def all_steps(self):
    return self.saved

  def save(self, step, state, metrics_=None):
    self.saved.append(step)

  def wait(self):
    pass


def test_a_non_finite_evaluation_is_not_recorded():
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  recorded, saver = [], _Saver()
  writer = type("W", (), {"write": lambda *a: None, "close": lambda *a: None})()
  log = type("L", (), {"add": lambda self, step, record: recorded.append(step)})()
  with pytest.raises(loop.NonFiniteLossError, match=r"evaluation at step 2 is not finite "
                     r"\(source_val_loss=nan\)"):
    loop.train_loop(0, 0, lambda s, b: (s, {"loss": jnp.float32(1.0)}), itertools.repeat({}),
                    lambda s: {"source_val_loss": float("nan"), "source_val_accuracy": 0.5},
                    saver, writer, log, loop.LoopSchedule(4, 1, 2, progress_bar=False),
                    images_per_step=1, name="x", show_progress=False)
  assert recorded == [] and saver.saved == []


def test_routine_library_warnings_stay_out_of_the_console():
  from tldomain import console  # pylint: disable=g-import-not-at-top
  quiet = console._QuietLibraries()  # pylint: disable=protected-access
  record = lambda msg, *args: logging.LogRecord(
      "absl", logging.WARNING, "/x/tensorflow_datasets/core/dataset_builder.py", 1, msg, args,
      None)
  assert not quiet.filter(record("Using custom data configuration: %s", "FolderConfig(...)"))
  assert not quiet.filter(record("Variant folder %s has no %s", "/d", "dataset_info.json"))
  assert quiet.filter(record("Something is wrong with %s", "/d"))
