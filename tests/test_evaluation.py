"""The one evaluation path against NumPy, the best checkpoint's direction, and
a diverging features-mode run inside a suite."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import suites
from tldomain import evaluation, methods
from tldomain.checkpoint import Checkpointer
from tldomain.methods.base import Method
from tldomain.methods.losses import cross_entropy

import helpers


def numpy_metrics(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
  """(accuracy, mean class accuracy, mean cross-entropy), written out by hand."""
  shifted = logits - logits.max(1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
  loss = -np.mean([log_probs[i, y] for i, y in enumerate(labels)])
  predicted = logits.argmax(1)
  per_class = [np.mean(predicted[labels == c] == c) for c in sorted(set(labels))]
  return float(np.mean(predicted == labels)), float(np.mean(per_class)), float(loss)


def test_evaluation_record_equals_numpy_on_imbalanced_labels():
  rng = np.random.default_rng(0)

  def outputs(n, labels):
    return {"features": rng.normal(size=(n, 4)), "logits": rng.normal(size=(n, 3)) * 3,
            "label": np.asarray(labels)}

  # Imbalanced classes make accuracy and mean class accuracy differ; the two
  # domains differ so that swapped keys would show.
  source = outputs(10, [0] * 7 + [1] * 2 + [2])
  target = outputs(8, [2] * 5 + [0] * 3)
  record = evaluation.evaluation_record(
      {"source_val": source, "target_test": target,
       "selection_source": outputs(12, [0] * 12), "selection_target": outputs(12, [-1] * 12)},
      snd_temperature=0.05)
  for name, out in (("source_val", source), ("target_test", target)):
    accuracy, class_mean, loss = numpy_metrics(out["logits"], out["label"])
    assert record[f"{name}_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert record[f"{name}_class_mean_accuracy"] == pytest.approx(class_mean, abs=1e-12)
    assert record[f"{name}_loss"] == pytest.approx(loss, rel=1e-10)
  assert record["source_val_accuracy"] != record["source_val_class_mean_accuracy"]
  assert {"target_entropy", "snd", "dev"} <= set(record)


def test_array_batches_cover_every_example_once_in_order():
  x, y = np.arange(10.0)[:, None], np.arange(10)
  batches = list(evaluation.array_batches(x, y, 4))
  assert [len(b["label"]) for b in batches] == [4, 4, 4]
  kept = np.concatenate([b["label"][b["mask"]] for b in batches])
  np.testing.assert_array_equal(kept, y)


@pytest.mark.parametrize("mode,expected", [("max", 2), ("min", 3)])
def test_best_checkpoint_is_the_best_by_best_mode(tmp_path, mode, expected):
  checkpointer = Checkpointer(str(tmp_path / "ckpt"), "score", mode)
  state = {"w": np.zeros(2, np.float32)}
  for step, score in ((1, 0.5), (2, 0.9), (3, 0.1), (4, 0.6)):
    checkpointer.save(step, state, {"score": score})
  checkpointer.wait()
  assert checkpointer.best_step() == expected
  assert expected in checkpointer.all_steps() and 4 in checkpointer.all_steps()
  checkpointer.close()


def nan_loss(inputs, hparams):
  del hparams
  loss = cross_entropy(inputs.source.logits, inputs.labels)
  return jnp.where(inputs.progress >= 0.5, jnp.nan, loss), {}


def test_a_diverging_features_run_is_recorded_and_the_suite_goes_on(tmp_path, data_dir):
  methods.register(Method(name="nan_late", loss=nan_loss, uses_target=False), overwrite=True)
  config_file = tmp_path / "features_config.py"
  config_file.write_text(helpers.TINY_SUITE_CONFIG)
  cache = str(tmp_path / "features_cache")
  task = suites.Task("uci_digits", "uci_digits_m",
                     (("data.data_dir", data_dir), ("train.features_cache", cache),
                      ("train.mode", "features"), ("model.bottleneck_dim", 16),
                      ("selection.num_examples", 64)))
  suite = suites.Suite("tiny_features", str(config_file), (task,), ("nan_late", "source_only"),
                       seeds=(0,))
  workdir = str(tmp_path / "suite")
  results = suites.execute(suites.runs(suite), workdir)
  assert [r["method"] for r in results] == ["source_only"]  # the suite went on
  failed = os.path.join(workdir, "uci_digits_to_uci_digits_m", "nan_late", "seed0", "failed.json")
  with open(failed, encoding="utf-8") as f:
    assert "loss is nan at step 3" in json.load(f)["error"]
  # Both runs read one shared feature cache: each split extracted once.
  assert len(os.listdir(cache)) == 4
  finished = results[0]
  assert finished["mode"] == "features" and [e["step"] for e in finished["evaluations"]] == [2, 4]
  assert {"snd", "dev", "target_entropy", "target_test_class_mean_accuracy"} <= set(
      finished["evaluations"][-1])
  assert set(finished["selected"]) == {"last", "source_val", "entropy", "snd", "dev", "oracle"}
