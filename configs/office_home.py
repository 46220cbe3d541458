"""Office-Home with an ImageNet ResNet-50: every method's Transfer-Learning-Library recipe.

  --config=configs/office_home.py:dann,Art,Clipart   (method, source, target)
  --config=configs/office_home.py:mme,Real_World,Clipart,shots=3   (semi-supervised DA, 3-shot)

Domains: Art, Clipart, Product, Real_World, or TLL's short names Ar, Cl, Pr,
Rw (any case). Office-Home has one split per domain: the source's images rank
checkpoints (no target labels), the target's are its unlabelled training data
and its test set. Evaluation runs once per TLL epoch. What all recipes share
is in tldomain/recipes.py.

Per method (TLL's argparse defaults in examples/domain_adaptation/
image_classification/<method>.py, with the Office-Home lines of its <method>.sh,
all "-a resnet50"; steps = epochs x iterations per epoch, where -i is the
script's default unless the .sh line sets it):

| method      | lr    | gamma  | wd   | steps        | bottleneck | other                            |
|-------------|-------|--------|------|--------------|------------|----------------------------------|
| source_only | 0.001 | 0.0003 | 5e-4 | 5 x 500      | none       | erm.sh: --epochs 5 -i 500        |
| dann        | 0.01  | 0.001  | 1e-3 | 30 x 1000    | 256        | dann.sh: --epochs 30             |
| cdan(_e)    | 0.01  | 0.001  | 1e-3 | 30 x 1000    | 256        | cdan.sh: --epochs 30             |
| mmd (DAN)   | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | dan.sh: --epochs 20 -i 500; tllib_linear estimator |
| jan         | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | jan.sh: --epochs 20; tllib_quadratic estimator     |
| mcc         | 0.005 | 0.001  | 1e-3 | 30 x 1000    | 2048       | mcc.sh: --epochs 30 --bottleneck-dim 2048; batch 36, T 2.5 |
| mdd         | 0.004 | 0.0002 | 5e-4 | 30 x 1000    | 2048       | mdd.sh: --epochs 30 --bottleneck-dim 2048; margin 4 |

Methods trade off their transfer loss at 1 (TLL's default everywhere here).
CORAL, entropy minimisation and importance weighting have no TLL recipe; they
use DANN's settings here (our choice), as does cdan_e (TLL's cdan.sh runs
without --entropy).

The differences from TLL that every recipe here shares are listed in
tldomain/recipes.py.
"""

from tldomain import recipes
from tldomain.recipes import Recipe

BENCHMARK = recipes.Benchmark("Office-Home", "office_home", {
    "art": "Ar", "clipart": "Cl", "product": "Pr", "real_world": "Rw"})

RECIPES = {
    "source_only": Recipe(0.001, 0.0003, 5e-4, 5, 500, 0),
    "dann": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "cdan": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "cdan_e": Recipe(0.01, 0.001, 1e-3, 30, 1000, 256),
    "mmd": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_linear"),)),
    "jan": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_quadratic"),)),
    "mcc": Recipe(0.005, 0.001, 1e-3, 30, 1000, 2048, batch_size=36,
                  method=(("temperature", 2.5),)),
    "mdd": Recipe(0.004, 0.0002, 5e-4, 30, 1000, 2048, method=(("margin", 4.0),)),
}


def domain(name: str) -> str:
  return BENCHMARK.domain(name)


def get_config(arg: str = "dann,art,clipart"):
  return recipes.benchmark_config(arg, BENCHMARK, RECIPES, "art", "clipart")
