"""Office-31 and Office-Home from fixtures in the official archive layouts."""

import os

import pytest

from tldomain import data
from tldomain.data import domains
from tldomain.data.builders import common, office31, office_home

import release_fixtures as fx

OFFICE31_FEW = ("back_pack", "bike", "mug")
HOME_FEW = ("Alarm_Clock", "Backpack", "TV")


def office31_builder(tmp_path, domain="amazon", classes=OFFICE31_FEW):
  config = office31.Office31Config(name=f"{domain}_fixture", domain=domain, classes=classes)
  return office31.Office31(config=config, data_dir=str(tmp_path / "tfds"))


def test_canonical_class_lists():
  assert len(office31.CLASSES) == 31 and list(office31.CLASSES) == sorted(office31.CLASSES)
  assert len(office_home.CLASSES) == 65 and len(set(office_home.CLASSES)) == 65
  assert list(office_home.CLASSES) == sorted(office_home.CLASSES)
  for name in ("office31/amazon", "office31/dslr", "office31/webcam"):
    domain = data.DOMAINS.get(name)
    assert (domain.train_split, domain.test_split) == ("train", "train")
    assert "both train and test" in domain.description
  assert data.DOMAINS.get("office_home/real_world").builder is office_home.OfficeHome


def test_office31_registered_domain_builds_from_the_archive(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_office31(manual, {"amazon": office31.CLASSES, "webcam": OFFICE31_FEW})
  split = data.load_split("office31/amazon", "train", str(tmp_path / "tfds"), manual)
  assert len(split) == 62 and split.num_classes == 31 and split.encoded
  assert sorted(set(split.labels)) == list(range(31))
  builder = domains.prepared_builder("office31/amazon", str(tmp_path / "tfds"), manual)
  examples = fx.read_split(builder, "train")
  names = builder.info.features["label"].names
  for filename, label in fx.by_filename(examples).items():
    assert filename.split("/")[0] == names[label], filename  # label from its class folder
  assert examples["image"][0].shape == (10, 12, 3)


def test_office31_extracted_folder_in_subfolder(tmp_path):
  manual = tmp_path / "manual"
  fx.make_office31(str(manual / "office31"), {"dslr": OFFICE31_FEW}, per_class=3, extracted=True)
  builder = domains.prepare(office31_builder(tmp_path, "dslr"), str(manual))
  examples = fx.read_split(builder, "train")
  assert sorted(fx.by_filename(examples)) == sorted(
      f"{c}/frame_{i:04d}.jpg" for c in OFFICE31_FEW for i in (1, 2, 3))


def test_missing_office31_archive_names_file_folder_and_page(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("office31/webcam", "train", str(tmp_path / "tfds"), str(manual))
  message = str(error.value)
  assert "domain_adaptation_images.tar.gz" in message and str(manual) in message
  assert office31.HOMEPAGE in message and "manual_dir" in message


def test_missing_and_extra_classes_are_named(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_office31(manual, {"amazon": ("back_pack", "bike", "calculator")})
  with pytest.raises(common.DatasetContentError,
                     match=r"missing classes \(no images\): mug; extra classes: calculator"):
    domains.prepare(office31_builder(tmp_path), manual)


def test_empty_domain_is_an_error(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_office31(manual, {"webcam": OFFICE31_FEW})  # amazon missing from the archive
  with pytest.raises(common.DatasetContentError,
                     match="amazon/images/ folder; the domain is empty"):
    domains.prepare(office31_builder(tmp_path), manual)
  os.makedirs(os.path.join(manual, "ex", "dslr", "images"))
  with pytest.raises(common.DatasetContentError, match="no images in .*the domain is empty"):
    domains.prepare(office31_builder(tmp_path, "dslr"), os.path.join(manual, "ex"))


def test_corrupt_image_is_reported_with_its_path_and_skipped_with_the_flag(tmp_path, monkeypatch):
  manual = tmp_path / "manual"
  fx.make_office31(str(manual), {"amazon": OFFICE31_FEW}, per_class=2, extracted=True)
  bad = manual / "amazon" / "images" / "bike" / "frame_0002.jpg"
  bad.write_bytes(fx.truncated(bad.read_bytes()))
  with pytest.raises(common.CorruptImageError) as error:
    domains.prepare(office31_builder(tmp_path), str(manual))
  assert str(bad) in str(error.value) and common.SKIP_CORRUPT_ENV in str(error.value)
  monkeypatch.setenv(common.SKIP_CORRUPT_ENV, "1")
  examples = fx.read_split(domains.prepare(office31_builder(tmp_path), str(manual)), "train")
  assert len(examples["label"]) == 5 and "bike/frame_0002.jpg" not in fx.by_filename(examples)


def test_office_home_zip_with_real_world_spelled_with_a_space(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_office_home(manual, {"Art": HOME_FEW, "Real World": HOME_FEW}, per_class=2)
  for domain, folder in (("real_world", "Real World"), ("art", "Art")):
    config = office_home.OfficeHomeConfig(name=f"{domain}_fixture", domain=domain,
                                          classes=HOME_FEW)
    builder = domains.prepare(office_home.OfficeHome(config=config, data_dir=str(tmp_path)),
                              manual)
    examples = fx.read_split(builder, "train")
    labels = fx.by_filename(examples)
    assert len(labels) == 6, folder
    assert labels["TV/00002.jpg"] == HOME_FEW.index("TV")


def test_office_home_registered_domain_checks_the_full_class_list(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_office_home(manual, {"Clipart": HOME_FEW}, per_class=1)
  with pytest.raises(common.DatasetContentError, match="the benchmark's 65 classes: missing"):
    data.load_split("office_home/clipart", "train", str(tmp_path / "tfds"), manual)
