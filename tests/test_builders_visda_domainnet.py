"""VisDA-2017 and DomainNet from fixtures in the official layouts; DomainNet's
download goes through TFDS's real download path with the network replaced."""

import hashlib
import os

import pytest
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from tldomain import data
from tldomain.data import domains
from tldomain.data.builders import common, domainnet, visda2017

import release_fixtures as fx

DN_FEW = ("cello", "cell_phone", "The_Eiffel_Tower", "zigzag")


def test_canonical_class_lists_and_splits():
  assert len(visda2017.CLASSES) == 12 and len(domainnet.CLASSES) == 345
  assert len(set(domainnet.CLASSES)) == 345
  assert domainnet.CLASSES[0] == "aircraft_carrier" and domainnet.CLASSES[-1] == "zigzag"
  synthetic, real = data.DOMAINS.get("visda2017/synthetic"), data.DOMAINS.get("visda2017/real")
  assert (synthetic.train_split, synthetic.test_split) == ("train", "train")
  assert (real.train_split, real.test_split) == ("validation", "validation")
  for name in ("clipart", "infograph", "painting", "quickdraw", "real", "sketch"):
    domain = data.DOMAINS.get(f"domainnet/{name}")
    assert (domain.train_split, domain.test_split) == ("train", "test")
    # Every file the builder may download has a registered size and sha256.
    urls = [domainnet.ZIP_URLS[name]] + [domainnet.split_url(name, s) for s in ("train", "test")]
    assert all(len(domainnet.DomainNet.url_infos[u].checksum) == 64 for u in urls)


def test_visda_registered_domains_from_tar_and_extracted_folder(tmp_path):
  manual = str(tmp_path / "manual")
  fx.make_visda(manual, "train", visda2017.CLASSES, visda2017.CLASSES, per_class=2)
  fx.make_visda(os.path.join(manual, "visda2017"), "validation", visda2017.CLASSES,
                visda2017.CLASSES, per_class=1, extracted=True)
  tfds_dir = str(tmp_path / "tfds")
  synthetic = data.load_split("visda2017/synthetic", "train", tfds_dir, manual)
  real = data.load_split("visda2017/real", "validation", tfds_dir, manual)
  assert (len(synthetic), len(real)) == (24, 12)
  assert synthetic.num_classes == real.num_classes == 12
  builder = domains.prepared_builder("visda2017/real", tfds_dir, manual)
  labels = fx.by_filename(fx.read_split(builder, "validation"))
  assert labels["truck/truck_00001.jpg"] == 11 and labels["aeroplane/aeroplane_00001.jpg"] == 0


def visda_builder(tmp_path, part="train", classes=("bus", "car", "truck")):
  name = "synthetic" if part == "train" else "real"
  config = visda2017.Visda2017Config(name=f"{name}_fixture", part=part, classes=classes)
  return visda2017.Visda2017(config=config, data_dir=str(tmp_path / "tfds"))


def test_visda_label_that_disagrees_with_its_folder_is_an_error(tmp_path):
  def relabel(files):
    lines = files["train/image_list.txt"].decode().splitlines()
    lines[0] = lines[0].rsplit(" ", 1)[0] + " 4"  # bus/... labelled horse
    files["train/image_list.txt"] = ("\n".join(lines) + "\n").encode()
  fx.make_visda(str(tmp_path), "train", ("bus", "car", "truck"), visda2017.CLASSES, edit=relabel)
  with pytest.raises(common.DatasetContentError, match=r"1 labels in .*image_list.txt are not "
                     r"the official index of their class folder: bus/src_1_\S+ 4"):
    domains.prepare(visda_builder(tmp_path), str(tmp_path))


def test_visda_listed_image_missing_fails_or_is_skipped(tmp_path, monkeypatch):
  def drop(files):
    del files["train/car/src_1_02691156_00000000000000000000000000000001__1_1_001.png"]
  fx.make_visda(str(tmp_path), "train", ("bus", "car", "truck"), visda2017.CLASSES, edit=drop)
  with pytest.raises(common.CorruptImageError, match="1 images listed in .* are missing: "
                     "train/car/src_1_"):
    domains.prepare(visda_builder(tmp_path), str(tmp_path))
  monkeypatch.setenv(common.SKIP_CORRUPT_ENV, "1")
  examples = fx.read_split(domains.prepare(visda_builder(tmp_path), str(tmp_path)), "train")
  assert len(examples["label"]) == 5


def test_missing_visda_archive_names_file_folder_and_page(tmp_path):
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("visda2017/real", "validation", str(tmp_path / "tfds"), str(tmp_path))
  message = str(error.value)
  assert "validation.tar" in message and str(tmp_path) in message
  assert visda2017.HOMEPAGE in message
  assert "http://csr.bu.edu/ftp/visda17/clf/validation.tar" in message


def domainnet_builder(tmp_path, domain="sketch", classes=DN_FEW):
  config = domainnet.DomainNetConfig(name=f"{domain}_fixture", domain=domain, classes=classes)
  return domainnet.DomainNet(config=config, data_dir=str(tmp_path / "tfds"))


def test_domainnet_from_manual_zip_and_split_files(tmp_path):
  manual = str(tmp_path / "manual" / "domainnet")
  fx.make_domainnet(manual, "sketch", DN_FEW, domainnet.CLASSES, train=2, test=1)
  builder = domains.prepare(domainnet_builder(tmp_path), str(tmp_path / "manual"))
  train = fx.by_filename(fx.read_split(builder, "train"))
  test = fx.by_filename(fx.read_split(builder, "test"))
  assert (len(train), len(test)) == (8, 4) and not set(train) & set(test)
  names = builder.info.features["label"].names
  assert names == list(DN_FEW)
  assert all(names[label] == path.split("/")[1] for path, label in {**train, **test}.items())


def test_domainnet_extra_class_is_named(tmp_path):
  fx.make_domainnet(str(tmp_path), "sketch", DN_FEW + ("yoga",), domainnet.CLASSES)
  with pytest.raises(common.DatasetContentError, match="extra classes: yoga"):
    domains.prepare(domainnet_builder(tmp_path), str(tmp_path))


def domainnet_release(folder, domain="sketch") -> dict[str, bytes]:
  """The fixture's files by their official URLs."""
  images, lists = fx.domainnet_files(domain, DN_FEW, domainnet.CLASSES)
  with open(fx.write_zip(os.path.join(folder, f"{domain}.zip"), images), "rb") as f:
    files = {domainnet.ZIP_URLS[domain]: f.read()}
  files.update({domainnet.split_url(domain, s): text for s, text in lists.items()})
  return files


def test_domainnet_download_is_checked_against_the_registered_sha256(tmp_path, monkeypatch):
  requested = fx.serve(monkeypatch, domainnet_release(str(tmp_path / "served")))
  with pytest.raises(NonMatchingChecksumError):
    domains.prepare(domainnet_builder(tmp_path), str(tmp_path / "manual"))
  assert domainnet.ZIP_URLS["sketch"] in requested


def test_domainnet_downloads_what_the_manual_folder_lacks(tmp_path, monkeypatch):
  files = domainnet_release(str(tmp_path / "served"))
  checksums = dict(domainnet.CHECKSUMS)
  for url, content in files.items():  # The fixture's own sizes and sha256.
    checksums[url] = (len(content), hashlib.sha256(content).hexdigest())
  monkeypatch.setattr(domainnet, "CHECKSUMS", checksums)
  manual = tmp_path / "manual"
  fx.write_files(str(manual), {"sketch_test.txt": files[domainnet.split_url("sketch", "test")]})
  requested = fx.serve(monkeypatch, files)
  builder = domains.prepare(domainnet_builder(tmp_path), str(manual))
  assert sorted(requested) == sorted([domainnet.ZIP_URLS["sketch"],
                                      domainnet.split_url("sketch", "train")])
  assert builder.info.splits["train"].num_examples == 8
  assert builder.info.splits["test"].num_examples == 4


def test_domainnet_without_network_names_files_urls_and_folder(tmp_path, monkeypatch):
  fx.serve(monkeypatch, {})
  with pytest.raises(data.DatasetNotFoundError) as error:
    domains.prepare(domainnet_builder(tmp_path, "quickdraw"), str(tmp_path / "manual"))
  message = str(error.value)
  for text in ("quickdraw.zip", "quickdraw_train.txt", domainnet.ZIP_URLS["quickdraw"],
               str(tmp_path / "manual"), "no network"):
    assert text in message
