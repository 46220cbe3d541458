"""Office-31 with an ImageNet ResNet-50: every method's Transfer-Learning-Library recipe.

  --config=configs/office31.py:dann,amazon,webcam   (method, source, target; A/D/W work)
  ... --config.train.mode=features   # a head on frozen ResNet-50 features, in minutes

Checkpoints are ranked on source data (here the source domain itself, Office-31
having one split per domain), never on target labels; evaluation runs once per
TLL epoch. What all recipes share, and how TLL's gamma and gradient-reversal
warm start map onto our config, is in tldomain/recipes.py.

Per method (TLL's argparse defaults in examples/domain_adaptation/
image_classification/<method>.py, with the Office-31 lines of its <method>.sh;
steps = epochs x iterations per epoch):

| method      | lr    | gamma  | wd   | steps        | bottleneck | other                          |
|-------------|-------|--------|------|--------------|------------|--------------------------------|
| source_only | 0.001 | 0.0003 | 5e-4 | 5 x 500      | none       | (erm.sh: --epochs 5)           |
| dann        | 0.01  | 0.001  | 1e-3 | 20 x 1000    | 256        | trade-off 1                    |
| cdan(_e)    | 0.01  | 0.001  | 1e-3 | 20 x 1000    | 256        | trade-off 1                    |
| mmd (DAN)   | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | tllib_linear estimator         |
| jan         | 0.003 | 0.0003 | 5e-4 | 20 x 500     | 256        | tllib_quadratic, sigma .92     |
| mcc         | 0.005 | 0.001  | 1e-3 | 20 x 500     | 1024       | batch 36, T 2.5 (mcc.py)       |
| mdd         | 0.004 | 0.0002 | 5e-4 | 20 x 1000    | 1024       | margin 4, reversal up to 0.1   |

CORAL, entropy minimisation and importance weighting have no TLL Office-31
recipe; they use DANN's optimisation settings here (our choice). So does
cdan_e: TLL's cdan.sh runs CDAN without --entropy.

The differences from TLL that every recipe here shares are listed in
tldomain/recipes.py.
"""

from tldomain import recipes
from tldomain.recipes import Recipe

BENCHMARK = recipes.Benchmark(
    "Office-31", "office31", {"amazon": "A", "dslr": "D", "webcam": "W"})

RECIPES = {
    "source_only": Recipe(0.001, 0.0003, 5e-4, 5, 500, 0),
    "dann": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "cdan": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "cdan_e": Recipe(0.01, 0.001, 1e-3, 20, 1000, 256),
    "mmd": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_linear"),)),
    "jan": Recipe(0.003, 0.0003, 5e-4, 20, 500, 256, method=(("estimator", "tllib_quadratic"),)),
    "mcc": Recipe(0.005, 0.001, 1e-3, 20, 500, 1024, batch_size=36),
    "mdd": Recipe(0.004, 0.0002, 5e-4, 20, 1000, 1024),
}


def domain(name: str) -> str:
  return BENCHMARK.domain(name)


def get_config(arg: str = "dann,amazon,webcam"):
  return recipes.benchmark_config(arg, BENCHMARK, RECIPES, "amazon", "webcam")
