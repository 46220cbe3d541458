"""`train.mode = "finetune"`: the whole network trains end to end on images.

Any registered method runs here: the method supplies the loss and any extra
modules; this trainer builds them (tldomain/compute.py), streams the run's
data (tldomain/run_data.py) and runs the shared loop (tldomain/loop.py).
"""

import time

import jax
import ml_collections

from tldomain import compute, evaluation, loop, results, run_data, sharding, workdir
from tldomain.methods import get_method
from tldomain.metrics import MetricWriter


def run(config: ml_collections.ConfigDict, workdir_path: str) -> dict | None:
  """Trains, evaluates and checkpoints in `workdir_path`; resumes if it holds a checkpoint.

  Returns the results (also written to `<workdir>/results.json`), or None when
  the run stopped early (`train.stop_at_step`, or SIGTERM: a preemption notice)
  after saving a checkpoint of the step it had reached.
  """
  wall_start = time.time()
  is_main = jax.process_index() == 0
  method = get_method(config.method.name)
  splits = run_data.RunData(config.data, method.uses_target, config.selection.num_examples,
                            seed=config.seed)
  mesh = sharding.mesh_for(config.data)

  compiled = compute.compile_steps(config, method, splits.num_classes, mesh)
  opened = workdir.open_run(workdir_path, config, compiled.initial_state, write=is_main)
  if is_main:
    splits.write_labeled(workdir_path, config.seed)
  d = config.data

  def evaluate(state) -> dict[str, float]:
    return run_data.evaluate(compiled.predict_step, state, splits, d,
                             config.selection.snd_temperature, mesh)

  evaluations = evaluation.EvaluationLog(workdir_path, opened.start_step, enabled=is_main)
  outcome = loop.train_loop(
      opened.state, opened.start_step, compiled.train_step,
      run_data.train_batches(d, splits, config.seed, opened.start_step, mesh), evaluate,
      opened.checkpointer, MetricWriter(workdir_path, enabled=is_main), evaluations,
      loop.LoopSchedule.from_config(config.train),
      images_per_step=d.batch_size * (1 + method.uses_target + (splits.target_labeled is not None)),
      name=method.name, show_progress=is_main)
  return results.finish(config, workdir_path, outcome, opened.checkpointer, evaluations,
                        opened.start_step, mesh.size, wall_start, write=is_main)
