"""`train.mode = "distill"`: a smaller student learns a finished adapted run (the teacher).

Knowledge distillation (Hinton et al. 2015) for domain adaptation: the teacher,
`train.teacher` (a finished run's workdir, restored at
`train.teacher_checkpoint`), classifies each unlabelled target batch inside the
same compiled step as the student; the student minimises

  CE(source labels) + distill_weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))

on the source and target batches, T = `train.distill_temperature` (T^2 keeps
the soft term's gradients on the scale of the hard one's as T changes). The
student is the configured model (a narrower digits CNN with `model.width`, a
smaller bottleneck, another backbone) and sees source and target images in one
BatchNorm batch, as a method's classifier does. Its method must be
`source_only` (the loss is this file's). Data, loop, evaluation, checkpoints
and results are the shared ones, so the student resumes, evaluates and
exports like any run.
"""

import time

import jax
import jax.numpy as jnp
import ml_collections

from tldomain import (classifier, compute, evaluation, loop, optim, results, run_data, sharding,
                      workdir)
from tldomain.methods import get_method
from tldomain.methods.losses import cross_entropy
from tldomain.metrics import MetricWriter
from tldomain.steps import ModuleRunner, TrainState, classify, gradient_step, split_outputs


def soft_target_loss(student_logits: jax.Array, teacher_logits: jax.Array,
                     temperature: float) -> jax.Array:
  """T^2 * mean over examples of KL(softmax(teacher / T) || softmax(student / T))."""
  teacher = jax.nn.log_softmax(teacher_logits / temperature)
  student = jax.nn.log_softmax(student_logits / temperature)
  kl = (jnp.exp(teacher) * (teacher - student)).sum(-1)
  return temperature ** 2 * kl.mean()


def check_teacher(config: ml_collections.ConfigDict, teacher: classifier.Classifier) -> None:
  """The teacher must have been trained on the student's task, at the same input size."""
  mine, theirs = config.data, teacher.config.data
  for field in ("source", "target", "image_size", "eval_transform"):
    if mine[field] != theirs[field]:
      raise ValueError(f"train.teacher {teacher.workdir} has data.{field}={theirs[field]!r} "
                       f"but this run has {mine[field]!r}; distil a teacher of the same task.")


def make_distill_step(modules, teacher_modules, tx, learning_rate, temperature: float,
                      weight: float):
  """`step(state, teacher_variables, batch) -> (state, metrics)`, the teacher in inference mode."""

  def step(state: TrainState, teacher_variables, batch):
    source_images, target_images = batch["source"]["image"], batch["target"]["image"]
    teacher_run = ModuleRunner(teacher_modules, teacher_variables["params"],
                               teacher_variables["batch_stats"], train=False)
    teacher_logits = jax.lax.stop_gradient(classify(teacher_run, target_images).logits)

    def loss_fn(params):
      run = ModuleRunner(modules, params, state.batch_stats, train=True)
      source, target = split_outputs(
          classify(run, jnp.concatenate([source_images, target_images])),
          source_images.shape[0])
      ce = cross_entropy(source.logits, batch["source"]["label"])
      soft = soft_target_loss(target.logits, teacher_logits, temperature)
      agreement = (target.logits.argmax(-1) == teacher_logits.argmax(-1)).mean()
      metrics = {"source_ce": ce, "distill_loss": soft, "teacher_agreement": agreement}
      return ce + weight * soft, (metrics, run.updated_stats)

    new_state, loss, metrics = gradient_step(state, tx, loss_fn)
    return new_state, {**metrics, "loss": loss, "learning_rate": learning_rate(state.step)}

  return step


def run(config: ml_collections.ConfigDict, workdir_path: str) -> dict | None:
  """Distils `train.teacher` into the configured student in `workdir_path` (resumable).

  Returns the results (also in `<workdir>/results.json`), or None when the run
  stopped early after saving a checkpoint.
  """
  wall_start = time.time()
  t = config.train
  if not t.teacher:
    raise ValueError("train.mode=distill needs train.teacher: the workdir of a finished run "
                     "to distil (e.g. --config.train.teacher=workdirs/mcc).")
  if config.method.name != "source_only":
    raise ValueError(f"train.mode=distill trains with its own loss, not method "
                     f"{config.method.name!r}; use a source_only config "
                     "(configs/digits.py:source_only,usps,mnist).")
  if t.distill_temperature <= 0:
    raise ValueError(f"train.distill_temperature must be > 0, not {t.distill_temperature}.")
  is_main = jax.process_index() == 0
  teacher = classifier.restore(t.teacher, t.teacher_checkpoint)
  check_teacher(config, teacher)
  splits = run_data.RunData(config.data, uses_target=True,
                            selection_examples=config.selection.num_examples)
  mesh = sharding.mesh_for(config.data)
  if splits.num_classes != len(teacher.class_names):
    raise ValueError(f"The teacher {t.teacher} has {len(teacher.class_names)} classes, this "
                     f"task {splits.num_classes}.")

  compiled = compute.compile_steps(config, get_method("source_only"), splits.num_classes, mesh)
  replicated, batch_sharded = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  step = jax.jit(
      make_distill_step(compiled.modules, teacher.modules, compiled.tx,
                        optim.learning_rate_schedule(config.optim, t.steps),
                        t.distill_temperature, t.distill_weight),
      in_shardings=(replicated, replicated, batch_sharded),
      out_shardings=(replicated, replicated), donate_argnums=0)
  teacher_variables = jax.device_put(teacher.variables, replicated)
  train_step = lambda state, batch: step(state, teacher_variables, batch)
  opened = workdir.open_run(workdir_path, config, compiled.initial_state, write=is_main)
  d = config.data

  def evaluate(state) -> dict[str, float]:
    return run_data.evaluate(compiled.predict_step, state, splits, d,
                             config.selection.snd_temperature, mesh)

  evaluations = evaluation.EvaluationLog(workdir_path, opened.start_step, enabled=is_main)
  outcome = loop.train_loop(
      opened.state, opened.start_step, train_step,
      run_data.train_batches(d, splits, config.seed, opened.start_step, mesh), evaluate,
      opened.checkpointer, MetricWriter(workdir_path, enabled=is_main), evaluations,
      loop.LoopSchedule.from_config(t), images_per_step=2 * d.batch_size,
      name="distill", show_progress=is_main)
  student_parameters = sum(x.size for x in jax.tree.leaves(outcome.state.params))
  return results.finish(
      config, workdir_path, outcome, opened.checkpointer, evaluations, opened.start_step,
      mesh.size, wall_start, write=is_main,
      teacher={"workdir": t.teacher, "step": teacher.step, "method": teacher.config.method.name,
               "num_parameters": teacher.num_parameters},
      num_parameters=int(student_parameters),
      distill_temperature=t.distill_temperature, distill_weight=t.distill_weight)
