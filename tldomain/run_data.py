"""The data a run reads: its splits, the fixed evaluation subsets and the training stream."""

import zlib
from typing import Iterator

import ml_collections
import numpy as np

from tldomain import data, sharding


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


class RunData:
  """The splits a run reads: source train/val, target train (unlabelled) and test.

  Evaluation also reads fixed subsets of `selection_examples` source train and
  (unlabelled) target train examples, on which the label-free selection
  criteria are computed.
  """

  def __init__(self, data_config: ml_collections.ConfigDict, uses_target: bool,
               selection_examples: int):
    d = data_config
    kw = dict(data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
    source, target = data.DOMAINS.get(d.source), data.DOMAINS.get(d.target)
    loaded: dict[tuple[str, str], data.Split] = {}

    def load(domain: data.Domain, split: str) -> data.Split:
      if (domain.name, split) not in loaded:  # a split used twice is read once
        loaded[domain.name, split] = data.load_split(domain.name, split, **kw)
      return loaded[domain.name, split]

    self.source_train = load(source, d.source_train_split or source.train_split)
    self.source_val = load(source, d.source_val_split or source.test_split)
    self.target_test = load(target, d.target_test_split or target.test_split)
    # Always loaded: the selection criteria read unlabelled target images.
    self.target_train_all = load(target, d.target_train_split or target.train_split)
    self.target_train = self.target_train_all if uses_target else None
    check_same_classes(self.source_train, self.target_test)
    self.num_classes = self.source_train.num_classes
    self.selection_examples = selection_examples
    self.eval_splits = {
        "source_val": self.source_val, "target_test": self.target_test,
        "selection_source": subset(self.source_train, selection_examples),
        "selection_target": subset(self.target_train_all, selection_examples,
                                   unlabelled=True)}


def fda_style(data_config: ml_collections.ConfigDict, run_data: RunData,
              seed: int) -> data.FdaStyle | None:
  """FDA on the source stream when data.fda_beta > 0: low frequencies from the
  unlabelled target train images (their labels are never read)."""
  beta = data_config.get("fda_beta", 0.0)
  if not beta:
    return None
  return data.FdaStyle(run_data.target_train_all.hide_labels(), beta, stream_seed(seed, "fda"))


def train_batches(data_config: ml_collections.ConfigDict, run_data: RunData, seed: int,
                  start_step: int, mesh) -> Iterator[dict]:
  """Global batches {"source": {image, label}, "target": {image}} from `start_step` on."""
  d = data_config
  source = data.train_stream(run_data.source_train, d.batch_size, stream_seed(seed, "source"),
                             start_step, d.train_transform, d.image_size,
                             fda_style(d, run_data, seed))
  target = None
  if run_data.target_train is not None:
    target = data.train_stream(run_data.target_train, d.batch_size,
                               stream_seed(seed, "target"), start_step,
                               d.train_transform, d.image_size)
  while True:
    batch = {"source": next(source)}
    if target is not None:
      # Target labels never reach the step: the target train split is unlabelled.
      batch["target"] = {"image": next(target)["image"]}
    yield sharding.global_batch(batch, mesh)
