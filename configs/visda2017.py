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

Remaining differences from TLL (everything else in these recipes is TLL's):
- Bottleneck: ours is Dense-BN-ReLU for every method; TLL's DAN uses
  Linear-ReLU-Dropout(0.5), its JAN Linear-BN-ReLU-Dropout(0.5), its MDD
  Linear-BN-ReLU-Dropout(0.5) initialised N(0, 0.005) with bias 0.1.
- MDD heads: ours are one Dense layer each; TLL's main and adversarial heads
  are Linear-ReLU-Dropout(0.5)-Linear, as wide as the bottleneck.
- New layers (bottleneck, head, discriminator) start from Flax's default
  initialisation (LeCun-normal kernels, zero biases), not PyTorch's.
- CDAN switches to the randomised multilinear map above 4096 dimensions as the
  paper does (TLL keeps the full map unless --randomized).
- CDAN+E: TLL's entropy adds 1e-5 inside the log; ours is exact.
- Checkpoints: TLL's scripts keep the epoch with the best accuracy on their
  validation set, which here is the target domain itself (target labels);
  ours ranks on source data and reports the final model.
- Input: a different random order and augmentation stream; the ImageNet
  transforms resample once instead of twice (tldomain/data/transforms.py).
The losses themselves match TLL's code (tests/test_losses_reference.py): DAN
and JAN use TLL's estimators (estimator "tllib_linear" and "tllib_quadratic",
tldomain/methods/kernels.py), not the unbiased ones tldomain defaults to.
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
  arg, options = recipes.split_options(arg)
  method, source, target = recipes.parse_arg(arg, "synthetic", "real")
  config = recipes.imagenet_resnet_config(
      method, domain(source), domain(target), recipes.recipe_for(RECIPES, method),
      backbone="resnet101", train_transform="imagenet_center_train")
  recipes.apply_options(config, options)
  return config
