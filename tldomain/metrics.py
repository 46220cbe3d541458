"""Metric writers: JSON lines and TensorBoard event files in the workdir."""

import json
import math
import os
from typing import Any, Mapping


def strict(value: Any) -> Any:
  """`value` with every NaN or infinite float replaced by None, so that it
  encodes as strict JSON (no bare NaN or Infinity tokens, which most JSON
  readers reject)."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: strict(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [strict(v) for v in value]
  return value


def dumps(value: Any, **kwargs) -> str:
  """Strict JSON of `value` (see `strict`)."""
  return json.dumps(strict(value), allow_nan=False, **kwargs)


class MetricWriter:
  """Writes scalars to `<workdir>/metrics.jsonl` and TensorBoard events.

  Only the first process writes; on the others every call is a no-op.
  """

  def __init__(self, workdir: str, enabled: bool = True):
    self.enabled = enabled
    if not enabled:
      return
    # TensorBoard writing is the one part of this module that needs TensorFlow.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self._tf = tf
    self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", encoding="utf-8")
    self._summary = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    # A non-finite value is written as null (strict JSON).
    self._jsonl.write(dumps({"step": int(step), **scalars}) + "\n")
    self._jsonl.flush()
    with self._summary.as_default(step=int(step)):
      for name, value in scalars.items():
        self._tf.summary.scalar(name, value)
    self._summary.flush()

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._summary.close()


def read_jsonl(path: str) -> list[dict]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]
