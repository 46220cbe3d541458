"""Digit tasks: USPS, MNIST, MNIST-M, SVHN and the embedded UCI digits, any pair.

  --config=configs/digits.py:dann,usps,mnist   (method, source, target)
  --config=configs/digits.py:mme,usps,mnist,shots=3   (3 labelled target images per class)
  --config=configs/digits.py:shot,usps,mnist --config.train.init_from=WORKDIR_OF_SOURCE_ONLY

Semi-supervised DA: `shots=k` sets data.target_labeled_per_class=k (any
method; s_plus_t and mme need it). Source-free (shot, shot_im) and test-time
(adabn, tent) methods set train.mode themselves and start from the finished
run given by train.init_from. SHOT trains 30 epochs of the target in the
paper; here the step budget is train.steps like every method.

Pixel-level recipes: `fda` (cross-entropy on FDA images, data.fda_beta = 0.09, the
largest beta of the FDA paper: a 4x4 low-frequency square at 28x28, 2x2 at
USPS's 16x16), `fda_entropy` (the same plus FDA's entropy term) and `pixelda`
(Adam at a constant lr 1e-3 and weight decay 1e-5, as in the PixelDA paper, for
the generator, discriminator and classifier alike).

Digits CNN at 28x28, 256-d bottleneck, SGD (Nesterov, momentum 0.9) at lr 0.01
annealed as (1 + 10 p)^-0.75 and weight decay 5e-4 (Ganin et al. 2016, Sec.
5.2.2), 32 + 32 images a step. Where only a domain's test split is on disk (the
MNIST training files on this project's machines), set
--config.data.target_train_split=test for a transductive run.
"""

from tldomain import defaults, recipes


def get_config(arg: str = "dann,usps,mnist"):
  arg, options = recipes.split_options(arg)
  method, source, target = recipes.parse_arg(arg, "usps", "mnist")
  config = defaults.base_config()
  config.data.source = source
  config.data.target = target
  config.data.image_size = 28
  config.data.batch_size = 32
  config.data.train_transform = "digits"
  config.data.eval_transform = "digits"
  config.optim.weight_decay = 5e-4
  config.train.steps = 2000
  if method in ("fda", "fda_entropy"):
    config.data.fda_beta = 0.09
  recipes.apply_options(config, options)
  defaults.set_method(config, method)
  if method == "pixelda":
    config.optim.name = "adam"
    config.optim.lr = 1e-3
    config.optim.schedule = "constant"
    config.optim.weight_decay = 1e-5
  return config
