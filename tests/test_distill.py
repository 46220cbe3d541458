"""Distillation: the soft-target loss, and a student trained from a finished teacher."""

import json
import os

import jax
import numpy as np
import pytest
from scipy import special

from tldomain import classifier, trainers
from tldomain.trainers.distill import soft_target_loss


def test_soft_target_loss_is_scaled_kl():
  rng = np.random.default_rng(0)
  student, teacher = rng.normal(size=(2, 5, 4)) * 3
  for t in (1.0, 4.0):
    p = special.softmax(teacher / t, -1)
    kl = (p * (np.log(p) - special.log_softmax(student / t, -1))).sum(-1).mean()
    np.testing.assert_allclose(soft_target_loss(student, teacher, t), t * t * kl, rtol=1e-5)
  assert abs(float(soft_target_loss(teacher, teacher, 2.0))) < 1e-6


def student_config(small_config, teacher: str, steps: int = 4):
  config = small_config("source_only", steps)
  config.train.mode = "distill"
  config.train.teacher = teacher
  config.train.eval_every = steps
  config.model.width = 0.5
  config.model.bottleneck_dim = 16
  return config


def test_student_distils_and_exports(small_config, finished_run, tmp_path):
  workdir = str(tmp_path / "student")
  results = trainers.run(student_config(small_config, finished_run), workdir)
  teacher = classifier.restore(finished_run)
  assert results["teacher"]["num_parameters"] == teacher.num_parameters
  assert results["num_parameters"] < teacher.num_parameters / 3
  with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
    logged = [json.loads(line) for line in f]
  assert all(np.isfinite(m["train/distill_loss"]) for m in logged if "train/distill_loss" in m)
  student = classifier.restore(workdir)  # exportable like any run
  assert student.num_parameters == results["num_parameters"]
  assert jax.tree.leaves(student.variables["params"]["backbone"])[0].shape[-1] == 16


def test_bad_teacher_settings(small_config, finished_run, tmp_path):
  config = student_config(small_config, "")
  with pytest.raises(ValueError, match="needs train.teacher"):
    trainers.run(config, str(tmp_path / "a"))
  config = student_config(small_config, str(tmp_path))
  with pytest.raises(classifier.NotExportableError, match="no config.json"):
    trainers.run(config, str(tmp_path / "b"))
  config = student_config(small_config, finished_run)
  config.data.image_size = 32
  with pytest.raises(ValueError, match="data.image_size=28"):
    trainers.run(config, str(tmp_path / "c"))
  config = small_config("dann", 4)
  config.train.mode, config.train.teacher = "distill", finished_run
  with pytest.raises(ValueError, match="Method 'dann' runs in train.mode finetune or features, "
                     "not 'distill'"):
    trainers.run(config, str(tmp_path / "d"))
