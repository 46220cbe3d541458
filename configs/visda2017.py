"""VisDA-2017 (synthetic -> real) with an ImageNet ResNet-101: Transfer-Learning-Library recipes.

  --config=configs/visda2017.py:dann   (method; source and target default to
                                        synthetic and real: ":dann,synthetic,real")

The synthetic renders (train.tar) are the source, the real photos
(validation.tar) the target: its unlabelled training data and its test set.
Checkpoints are ranked on the source, never on target labels; evaluation runs
once per TLL epoch. What all recipes share is in tldomain/recipes.py.

TLL's VisDA-2017 lines of examples/domain_adaptation/image_classification/
<method>.sh all use "-a resnet101 --train-resizing cen.crop --per-class-eval":

- ResNet-101 from torchvision's ImageNet weights.
- cen.crop: training images are resized to 256x256 and centre-cropped to 224,
  then flipped at random (no random resized crop); here train_transform =
  "imagenet_center_train". Evaluation is the usual resize and centre crop.
- --per-class-eval: TLL prints each class's accuracy and their mean, the number
  VisDA results are reported in (mean class accuracy over the 12 classes). TLL
  still ranks its checkpoints by overall accuracy. Every evaluation here records
  both: target_test_accuracy (overall, TLL's Acc@1) and
  target_test_class_mean_accuracy (compare that one with TLL's VisDA table);
  results.json holds both for the final model.

Per method (TLL's argparse defaults in <method>.py with its .sh line; steps =
epochs x iterations per epoch, -i being the script's default unless set):

| method      | lr    | gamma  | wd   | steps        | bottleneck | other                                  |
|-------------|-------|--------|------|--------------|------------|----------------------------------------|
| source_only | 0.001 | 0.0003 | 5e-4 | 20 x 1000    | none       | erm.sh: --epochs 20 -i 1000            |
| dann        | 0.01  | 0.001  | 1e-3 | 30 x 1000    | 256        | dann.sh: --epochs 30                   |
| cdan(_e)    | 0.01  | 0.001  | 1e-3 | 30 x 1000    | 256        | cdan.sh: --epochs 30                   |
| mmd (DAN)   | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | dan.sh: --epochs 20 -i 500; tllib_linear estimator |
| jan         | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | jan.sh: --epochs 20 -i 500; tllib_quadratic |
| mcc         | 0.002 | 0.001  | 1e-3 | 30 x 1000    | 256        | mcc.sh: --epochs 30 --lr 0.002 --temperature 3.0; batch 36 |
| mdd         | 0.004 | 0.0002 | 5e-4 | 30 x 1000    | 1024       | mdd.sh: --epochs 30 --bottleneck-dim 1024 -b 36; margin 4 |

CORAL, entropy minimisation and importance weighting have no TLL recipe; they
use DANN's settings here (our choice), as does cdan_e (TLL's cdan.sh runs
without --entropy).

The differences from TLL that every recipe here shares are listed in
tldomain/recipes.py.
"""

from tldomain import recipes
from tldomain.recipes import Recipe

BENCHMARK = recipes.Benchmark("VisDA-2017", "visda2017", {"synthetic": "Synthetic", "real": "Real"})

RECIPES = {
    "source_only": Recipe(0.001, 0.0003, 5e-4, 20, 1000, 0),
    "dann": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "cdan": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "cdan_e": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "mmd": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_linear"),)),
    "jan": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_quadratic"),)),
    "mcc": Recipe(0.002, 0.001, 1e-3, 30, 1000, 256, batch_size=36,
                  method=(("temperature", 3.0),)),
    "mdd": Recipe(0.004, 0.0002, 5e-4, 30, 1000, 1024, batch_size=36,
                  method=(("margin", 4.0),)),
}


def domain(name: str) -> str:
  return BENCHMARK.domain(name)


def get_config(arg: str = "dann,synthetic,real"):
  return recipes.benchmark_config(arg, BENCHMARK, RECIPES, "synthetic", "real",
      backbone="resnet101", train_transform="imagenet_center_train")
