"""The data a run reads: its splits, the fixed evaluation subsets and the training stream."""

import json
import os
import types
import zlib
from typing import Iterator

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from tldomain import data, evaluation, sharding


def stream_seed(seed: int, name: str) -> int:
  """A seed per input stream, so source and target are shuffled independently."""
  return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def _listed(names) -> str:
  shown = ", ".join(repr(n) for n in names[:10])
  return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def check_same_classes(source: data.Split, target: data.Split) -> None:
  """Label i must mean the same class on both sides, or the run would train on
  scrambled labels. Classes are matched by name whenever both sides name them
  (digit names such as "0" ... "9" included); only a side without names is
  matched by count alone."""
  a, b = list(source.class_names), list(target.class_names)
  src, tgt = f"Source {source.domain!r}", f"target {target.domain!r}"
  if a and b and a != b:
    only_source = [n for n in a if n not in set(b)]
    only_target = [n for n in b if n not in set(a)]
    if only_source or only_target:
      parts = ([f"only in the source: {_listed(only_source)}"] if only_source else []) + (
          [f"only in the target: {_listed(only_target)}"] if only_target else [])
      raise ValueError(
          f"{src} and {tgt} do not have the same classes, so labels would not line up: "
          f"{'; '.join(parts)}. Give both domains the same class names (for folder "
          "domains, rename or remove class folders).")
    differ = [f"{i}: {x!r} vs {y!r}" for i, (x, y) in enumerate(zip(a, b)) if x != y]
    raise ValueError(
        f"{src} and {tgt} have the same class names in a different order, so labels "
        f"would not line up: {'; '.join(differ[:10])}" + (" ..." if len(differ) > 10 else "")
        + ". Use domains whose labels follow one class order.")
  if source.num_classes != target.num_classes:
    raise ValueError(f"{src} has {source.num_classes} classes but {tgt} has "
                     f"{target.num_classes}.")


def subset_indices(num_examples: int, size: int) -> np.ndarray:
  """A fixed random `size` of range(num_examples), sorted (all of it if smaller)."""
  if num_examples <= size:
    return np.arange(num_examples)
  return np.sort(np.random.default_rng(0).permutation(num_examples)[:size])


def subset(split: data.Split, size: int, unlabelled: bool = False) -> data.Split:
  """`subset_indices` of `split`, labels hidden if asked."""
  if len(split) > size:
    split = split.take(subset_indices(len(split), size))
  return split.hide_labels() if unlabelled else split


def pick_labeled(labels: np.ndarray, per_class: int, seed: int, num_classes: int,
                 where: str) -> np.ndarray:
  """`per_class` indices of each class of `labels`, drawn by `seed`, sorted.

  The draw depends only on (seed, labels), so a run and its repeat pick the
  same examples. Raises, naming the class, if one has fewer than `per_class`.
  """
  counts = np.bincount(labels, minlength=num_classes)
  smallest = int(np.argmin(counts))
  if counts[smallest] < per_class:
    raise ValueError(
        f"data.target_labeled_per_class={per_class} but class {smallest} of {where} has "
        f"only {counts[smallest]} examples; use at most {counts[smallest]} shots per class.")
  rng = np.random.default_rng([seed, zlib.crc32(b"target_labeled")])
  picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in range(num_classes)]
  return np.sort(np.concatenate(picked))


def absolute_positions(spec: str, sizes: dict[str, int]) -> list[tuple[str, int]]:
  """(split name, position) of each example of a TFDS split spec ("test[:500]", "train+test")."""
  infos = {name: types.SimpleNamespace(num_examples=n) for name, n in sizes.items()}
  positions = []
  for part in tfds.core.ReadInstruction.from_spec(spec).to_absolute(infos):
    start = part.from_ or 0
    end = sizes[part.splitname] if part.to is None else part.to
    positions += [(part.splitname, i) for i in range(start, end)]
  return positions


def overlap_in_test(train_spec: str, test_spec: str, picked: np.ndarray,
                    sizes: dict[str, int]) -> np.ndarray:
  """Positions in `test_spec` of the `picked` positions of `train_spec` (same domain)."""
  train = absolute_positions(train_spec, sizes)
  chosen = {train[i] for i in picked.tolist()}
  return np.array([i for i, p in enumerate(absolute_positions(test_spec, sizes))
                   if p in chosen], np.int64)


class RunData:
  """The splits a run reads: source train/val, target train (unlabelled) and test.

  Evaluation also reads fixed subsets of `selection_examples` source train and
  (unlabelled) target train examples, on which the label-free selection
  criteria are computed.

  With `data.target_labeled_per_class = k > 0`, k labelled examples per class
  of the target train split (drawn by `seed`) form `target_labeled`; the
  unlabelled target stream is the rest, and the target test set drops them
  when it shares their split (a transductive run). `write_labeled` records them.

  `source=False` (source-free and test-time modes) opens no source split:
  `source_train` and `source_val` are None.
  """

  def __init__(self, data_config: ml_collections.ConfigDict, uses_target: bool,
               selection_examples: int, seed: int = 0, source: bool = True):
    d = data_config
    kw = dict(data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
    target = data.DOMAINS.get(d.target)
    loaded: dict[tuple[str, str], data.Split] = {}

    def load(domain: data.Domain, split: str) -> data.Split:
      if (domain.name, split) not in loaded:  # a split used twice is read once
        loaded[domain.name, split] = data.load_split(domain.name, split, **kw)
      return loaded[domain.name, split]

    self.source_train = self.source_val = None
    if source:
      source_domain = data.DOMAINS.get(d.source)
      self.source_train = load(source_domain, d.source_train_split or source_domain.train_split)
      self.source_val = load(source_domain, d.source_val_split or source_domain.test_split)
    target_test_split = d.target_test_split or target.test_split
    target_train_split = d.target_train_split or target.train_split
    self.target_test = load(target, target_test_split)
    # Always loaded: the selection criteria read unlabelled target images.
    self.target_train_all = load(target, target_train_split)
    self.target_labeled, self.labeled_indices = None, None
    # Before the shots are split off: features mode extracts these whole (one
    # cache entry per split, whatever the seed) and indexes the features.
    self.target_train_full, self.target_test_full = self.target_train_all, self.target_test
    self.target_test_kept = None  # positions of target_test in target_test_full, when cut
    per_class = d.get("target_labeled_per_class", 0)
    if per_class > 0:
      self._pick(per_class, seed, target, target_train_split, target_test_split, kw)
    self.target_train = self.target_train_all if uses_target else None
    if self.source_train is not None:
      check_same_classes(self.source_train, self.target_test)
    self.num_classes = self.target_test.num_classes
    self.selection_examples = selection_examples
    self.eval_splits = {
        "target_test": self.target_test,
        "selection_target": subset(self.target_train_all, selection_examples,
                                   unlabelled=True)}
    if source:
      self.eval_splits = {"source_val": self.source_val, **self.eval_splits,
                          "selection_source": subset(self.source_train, selection_examples)}

  def _pick(self, per_class: int, seed: int, target: data.Domain, train_split: str,
            test_split: str, kw: dict) -> None:
    """Splits the labelled shots off the target train split (and the test split)."""
    train = self.target_train_all
    if np.any(train.labels < 0):
      raise ValueError(f"data.target_labeled_per_class needs labels, but split "
                       f"{train_split!r} of {target.name!r} is unlabelled.")
    self.labeled_indices = pick_labeled(train.labels, per_class, seed, train.num_classes,
                                        f"{target.name} {train_split}")
    self.target_labeled = train.take(self.labeled_indices)
    rest = np.setdiff1d(np.arange(len(train)), self.labeled_indices)
    self.target_train_all = train.take(rest)
    builder = data.domains.prepared_builder(target.name, kw["data_dir"], kw["manual_dir"])
    sizes = {name: info.num_examples for name, info in builder.info.splits.items()}
    in_test = overlap_in_test(train_split, test_split, self.labeled_indices, sizes)
    if len(in_test):  # the test set never scores a picked example
      keep = np.setdiff1d(np.arange(len(self.target_test)), in_test)
      self.target_test = self.target_test.take(keep)
      self.target_test_kept = keep
    self.labeled_removed_from_test = int(len(in_test))

  def write_labeled(self, workdir: str, seed: int) -> None:
    """`<workdir>/target_labeled.json`: which target examples were given labels."""
    if self.target_labeled is None:
      return
    t = self.target_labeled
    record = {"domain": t.domain, "split": t.split, "seed": seed,
              "per_class": len(self.labeled_indices) // t.num_classes,
              "indices": self.labeled_indices.tolist(), "labels": t.labels.tolist(),
              "removed_from_target_test": self.labeled_removed_from_test,
              "note": "indices are positions in the split, in TFDS order"}
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "target_labeled.json"), "w", encoding="utf-8") as f:
      json.dump(record, f, indent=1)


def fda_style(data_config: ml_collections.ConfigDict, run_data: RunData,
              seed: int) -> data.FdaStyle | None:
  """FDA on the source stream when data.fda_beta > 0: low frequencies from the
  unlabelled target train images (their labels are never read)."""
  beta = data_config.get("fda_beta", 0.0)
  if not beta:
    return None
  return data.FdaStyle(run_data.target_train_all.hide_labels(), beta, stream_seed(seed, "fda"))


def predict_split(predict_step, state, split: data.Split,
                  data_config: ml_collections.ConfigDict, mesh) -> dict[str, np.ndarray]:
  """{features, logits, label} of every image of `split` (eval transform), in order."""
  d = data_config
  return evaluation.predict(predict_step, state, data.eval_batches(
      split, d.eval_batch_size, d.eval_transform, d.image_size), mesh)


def evaluate(predict_step, state, run_data: RunData, data_config: ml_collections.ConfigDict,
             snd_temperature: float, mesh) -> dict[str, float]:
  """The evaluation record (tldomain/evaluation.py) of `state` on the run's image splits."""
  return evaluation.evaluation_record(
      {name: predict_split(predict_step, state, split, data_config, mesh)
       for name, split in run_data.eval_splits.items()}, snd_temperature)


def train_batches(data_config: ml_collections.ConfigDict, run_data: RunData, seed: int,
                  start_step: int, mesh) -> Iterator[dict]:
  """Global batches {"source": {image, label}, "target": {image}} from `start_step` on,
  with "target_labeled": {image, label} when the run has labelled target shots."""
  d = data_config

  def stream(split: data.Split, name: str, style=None):
    return data.train_stream(split, d.batch_size, stream_seed(seed, name), start_step,
                             d.train_transform, d.image_size, style)

  source = stream(run_data.source_train, "source", fda_style(d, run_data, seed))
  target = stream(run_data.target_train, "target") if run_data.target_train is not None else None
  labeled = (stream(run_data.target_labeled, "target_labeled")
             if run_data.target_labeled is not None else None)
  while True:
    batch = {"source": next(source)}
    if target is not None:
      # Target labels never reach the step: the target train split is unlabelled.
      batch["target"] = {"image": next(target)["image"]}
    if labeled is not None:
      batch["target_labeled"] = next(labeled)
    yield sharding.global_batch(batch, mesh)
