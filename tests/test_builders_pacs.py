"""PACS from fixtures in both layouts (official kfold lists, class folders), and
on the real folder in $TLDOMAIN_TEST_DATA, whichever domains it holds."""

import os

import numpy as np
import pytest

from tldomain import data
from tldomain.data import domains
from tldomain.data.builders import common, pacs

import release_fixtures as fx
from real_data import REAL_DATA as REAL, REAL_DATA_UNSET

FEW = ("dog", "guitar", "person")


def builder(tmp_path, domain="art_painting", classes=FEW):
  config = pacs.PacsConfig(name=f"{domain}_fixture", domain=domain, classes=classes)
  return pacs.Pacs(config=config, data_dir=str(tmp_path / "tfds"))


def prepare(b, manual):
  return domains.prepare(b, str(manual))


def make_kfold(manual, domain="art_painting", classes=FEW, per_class=3, lists_in="",
               label=lambda cls: pacs.CLASSES.index(cls) + 1):
  """The official layout: kfold/<domain>/<class>/<image> and three 1-based lists,
  the first image of each class in crossval, the rest in train, all in test."""
  files = fx.class_images(f"kfold/{domain}/", classes, per_class, name=lambda c, i: f"pic_{i:03d}")
  fx.write_files(str(manual), files)
  names = [n[len("kfold/"):] for n in files]
  crossval = [n for n in names if n.endswith("pic_000.jpg")]
  lists = {"train": [n for n in names if n not in crossval], "crossval": crossval, "test": names}
  folder = os.path.join(str(manual), lists_in)
  os.makedirs(folder, exist_ok=True)
  for split, entries in lists.items():
    with open(os.path.join(folder, pacs.list_name(domain, split)), "w") as f:
      f.writelines(f"{n} {label(n.split('/')[1])}\n" for n in entries)
  return lists


def test_registered_domains_share_one_class_index():
  assert pacs.CLASSES == tuple(sorted(pacs.CLASSES)) and len(pacs.CLASSES) == 7
  for name in ("photo", "art_painting", "cartoon", "sketch"):
    domain = data.DOMAINS.get(f"pacs/{name}")
    assert domain.builder is pacs.Pacs and domain.test_split == "train"


@pytest.mark.parametrize("lists_in", ["", "kfold", "splits"])
def test_official_kfold_lists_with_one_based_labels(tmp_path, lists_in):
  lists = make_kfold(tmp_path / "manual", lists_in=lists_in)
  b = prepare(builder(tmp_path), tmp_path / "manual")
  for split, names in (("kfold_train", lists["train"]), ("kfold_crossval", lists["crossval"]),
                       ("kfold_test", lists["test"]), ("train", lists["test"])):
    examples = fx.by_filename(fx.read_split(b, split))
    assert examples == {n: FEW.index(n.split("/")[1]) for n in names}, split


def test_a_list_label_that_disagrees_with_its_folder_is_named(tmp_path):
  make_kfold(tmp_path / "manual", label=lambda cls: pacs.CLASSES.index(cls))  # 0-based: wrong
  with pytest.raises(common.DatasetContentError, match="not the official index"):
    prepare(builder(tmp_path), tmp_path / "manual")


def test_class_folders_in_the_pacs_subfolder(tmp_path):
  manual = tmp_path / "manual"
  fx.write_files(str(manual), fx.class_images("pacs/cartoon/", FEW, 2))
  b = prepare(builder(tmp_path, "cartoon"), manual)
  examples = fx.read_split(b, "train")
  assert np.bincount(examples["label"]).tolist() == [2, 2, 2]


def test_a_missing_class_is_named(tmp_path):
  fx.write_files(str(tmp_path / "m"), fx.class_images("photo/", FEW[:2], 2))
  with pytest.raises(common.DatasetContentError, match="missing classes.*person"):
    prepare(builder(tmp_path, "photo"), tmp_path / "m")


def test_an_absent_domain_names_the_files_it_expected(tmp_path):
  fx.write_files(str(tmp_path / "m"), fx.class_images("photo/", FEW, 1))
  with pytest.raises(data.DatasetNotFoundError) as error:
    prepare(builder(tmp_path, "sketch"), tmp_path / "m")
  for text in ("kfold/sketch/<class>/<image>", "sketch_train_kfold.txt",
               "sketch_crossval_kfold.txt", "sketch_test_kfold.txt", "sketch/<class>/<image>",
               os.path.join(str(tmp_path / "m"), "pacs")):
    assert text in str(error.value)


def test_a_corrupt_image_is_named_or_skipped(tmp_path, monkeypatch):
  files = fx.class_images("photo/", FEW, 2)
  bad = "photo/guitar/frame_0002.jpg"
  files[bad] = fx.truncated(files[bad])
  fx.write_files(str(tmp_path / "m"), files)
  with pytest.raises(common.CorruptImageError, match="frame_0002.jpg"):
    prepare(builder(tmp_path, "photo"), tmp_path / "m")
  monkeypatch.setenv(common.SKIP_CORRUPT_ENV, "1")
  b = prepare(builder(tmp_path / "again", "photo"), tmp_path / "m")
  assert len(fx.read_split(b, "train")["label"]) == 5


# Per-class counts in ../shared/data/README.md, in the class order of pacs.CLASSES.
REAL_COUNTS = {"photo": [189, 202, 182, 186, 199, 280, 432],
               "art_painting": [379, 255, 285, 184, 201, 295, 449],
               "cartoon": [389, 457, 346, 135, 324, 288, 405]}


@pytest.mark.skipif(not REAL, reason=REAL_DATA_UNSET)
def test_real_pacs_domains_that_are_present(tmp_path):
  present = [d for d in pacs.DOMAIN_NAMES if os.path.isdir(os.path.join(REAL, "pacs", d))]
  if not present:
    pytest.skip(f"no PACS domain in {os.path.join(REAL, 'pacs')}")
  for domain in present[:1]:  # one is enough to check the layout; each costs seconds
    split = data.load_split(f"pacs/{domain}", "train", str(tmp_path), REAL)
    assert split.num_classes == 7
    counts = np.bincount(split.labels, minlength=7).tolist()
    assert counts == REAL_COUNTS.get(domain, counts) and min(counts) > 0
