"""`folder:/path` domains: any root/<class_name>/<image> tree, and a run on two."""

import json
import os

import numpy as np
import pytest

from tldomain import data, trainers
from tldomain.data import domains
from tldomain.data.builders import common, folder

import release_fixtures as fx

CLASSES = ("cat", "dog", "zebra")


def make_root(path, classes=CLASSES, per_class=3, seed=0) -> str:
  files = fx.class_images("", classes, per_class, seed=seed)
  files["README.txt"] = b"not an image of a class"
  files["cat/notes.txt"] = b"ignored too"
  files[f"{classes[0]}/x.png"] = fx.image_bytes(seed, "PNG", mode="RGBA")  # converted to RGB
  return fx.write_files(str(path), files)


def test_folder_domain_labels_follow_sorted_class_names(tmp_path):
  root = make_root(tmp_path / "animals", classes=("zebra", "cat", "dog"))
  name = f"folder:{root}"
  builder = domains.prepared_builder(name, str(tmp_path / "tfds"))
  assert builder.info.features["label"].names == ["cat", "dog", "zebra"]
  labels = fx.by_filename(fx.read_split(builder, "train"))
  assert len(labels) == 10 and labels["zebra/x.png"] == 2 and labels["cat/frame_0002.jpg"] == 0
  domain = data.DOMAINS.get(name)
  assert (domain.train_split, domain.test_split) == ("train", "train")
  split = data.load_split(name, "train", str(tmp_path / "tfds"))
  assert split.num_classes == 3 and split.channels == 3


def test_two_roots_never_share_data(tmp_path):
  a = make_root(tmp_path / "a" / "photos", per_class=1)
  b = make_root(tmp_path / "b" / "photos", per_class=2)
  tfds_dir = str(tmp_path / "tfds")
  builder_a = domains.prepared_builder(f"folder:{a}", tfds_dir)
  builder_b = domains.prepared_builder(f"folder:{b}", tfds_dir)
  assert builder_a.data_dir != builder_b.data_dir
  assert os.path.basename(os.path.dirname(builder_a.data_dir)).startswith("photos_")
  assert builder_a.info.splits["train"].num_examples == 4
  assert builder_b.info.splits["train"].num_examples == 7
  # A relative name of the same root is the same domain data.
  relative = os.path.relpath(a)
  assert domains.prepared_builder(f"folder:{relative}", tfds_dir).data_dir == builder_a.data_dir


def test_changed_folder_is_rebuilt(tmp_path):
  root = make_root(tmp_path / "root", per_class=1)
  tfds_dir = str(tmp_path / "tfds")
  assert len(data.load_split(f"folder:{root}", "train", tfds_dir)) == 4
  fx.write_files(root, {"dog/new.jpg": fx.image_bytes(99)})
  assert len(data.load_split(f"folder:{root}", "train", tfds_dir)) == 5


def test_class_folder_without_images_and_empty_root_are_errors(tmp_path):
  root = make_root(tmp_path / "root", per_class=1)
  os.makedirs(os.path.join(root, "emu"))
  with pytest.raises(common.DatasetContentError, match=r"missing classes \(no images\): emu"):
    domains.prepared_builder(f"folder:{root}", str(tmp_path / "tfds"))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(common.DatasetContentError, match="the domain is empty"):
    domains.prepared_builder(f"folder:{tmp_path / 'empty'}", str(tmp_path / "tfds"))
  with pytest.raises(data.DatasetNotFoundError, match="is not a folder"):
    data.DOMAINS.get(f"folder:{tmp_path / 'nowhere'}")


def test_corrupt_image_in_a_folder(tmp_path, monkeypatch):
  root = make_root(tmp_path / "root", per_class=2)
  bad = os.path.join(root, "dog", "frame_0001.jpg")
  with open(bad, "wb") as f:
    f.write(b"\xff\xd8\xff\xe0 not really a jpeg")
  with pytest.raises(common.CorruptImageError, match=bad):
    domains.prepared_builder(f"folder:{root}", str(tmp_path / "tfds"))
  monkeypatch.setenv(common.SKIP_CORRUPT_ENV, "1")
  assert len(data.load_split(f"folder:{root}", "train", str(tmp_path / "tfds"))) == 6


def test_run_between_two_folder_domains_writes_results(small_config, tmp_path):
  source = make_root(tmp_path / "source", per_class=4, seed=0)
  target = make_root(tmp_path / "target", per_class=3, seed=50)
  # Source-only compiles fastest; it still streams the source's variable-size
  # JPEGs through training and evaluates on the target's.
  config = small_config("source_only", steps=4)
  config.data.source, config.data.target = f"folder:{source}", f"folder:{target}"
  config.data.data_dir = str(tmp_path / "tfds")
  config.train.log_every = config.train.eval_every = 4
  workdir = str(tmp_path / "run")
  results = trainers.run(config, workdir)
  on_disk = json.load(open(os.path.join(workdir, "results.json")))
  assert on_disk == results and results["steps"] == 4
  assert (results["source"], results["target"]) == (f"folder:{source}", f"folder:{target}")
  assert 0.0 <= results["target_test_accuracy"] <= 1.0


def test_folder_config_name_is_a_readable_key(tmp_path):
  root = make_root(tmp_path / "My Photos (v2)", per_class=1)
  config = folder.folder_config(root)
  assert config.name.startswith("my_photos_v2_") and len(config.name) == len("my_photos_v2_") + 16
  assert config.classes == CLASSES and config.root == os.path.realpath(root)


def test_streamed_jpeg_folder_gives_the_same_training_crops(tmp_path, monkeypatch):
  from tldomain.data import pipeline  # pylint: disable=g-import-not-at-top
  root = fx.write_files(str(tmp_path / "photos"), fx.class_images("", CLASSES, 4))
  name, tfds_dir = f"folder:{root}", str(tmp_path / "tfds")
  in_memory = data.load_split(name, "train", tfds_dir)
  monkeypatch.setattr(pipeline, "IN_MEMORY_BYTES", 0)
  streamed = data.load_split(name, "train", tfds_dir)
  assert in_memory.encoded and not in_memory.streamed and streamed.streamed
  for transform in ("imagenet_train", "imagenet_eval"):
    a = next(data.train_stream(in_memory, 8, seed=2, start_step=3, transform=transform,
                               image_size=32))
    b = next(data.train_stream(streamed, 8, seed=2, start_step=3, transform=transform,
                               image_size=32))
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["label"], b["label"])
