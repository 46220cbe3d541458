"""Office-31 with an ImageNet ResNet-50: Transfer-Learning-Library's recipe.

  python -m tldomain.main --config=configs/office31_resnet50.py:dann,amazon,webcam --workdir=DIR
  python -m tldomain.main --config=configs/office31_resnet50.py:source_only,dslr,amazon ...
  ... --config.train.mode=features   # a head on frozen ResNet-50 features, in minutes

The argument is `method,source,target` (domains amazon, dslr, webcam, or A, D,
W). Every number is Transfer-Learning-Library's (TLL,
github.com/thuml/Transfer-Learning-Library, examples/domain_adaptation/
image_classification/dann.py and dann.sh, tllib/modules/classifier.py):

- backbone: torchvision ResNet-50 with ImageNet weights, `models.resnet50(
  pretrained=True)` = IMAGENET1K_V1; BatchNorm not frozen;
- bottleneck: Linear(2048, 256) -> BatchNorm1d -> ReLU (ImageClassifier,
  `--bottleneck-dim 256`); head: Linear(256, 31);
- parameter groups: backbone lr x 0.1, bottleneck and head x 1
  (ImageClassifier.get_parameters, `finetune=True`);
- SGD lr 0.01, momentum 0.9, weight decay 1e-3, Nesterov (`--lr 0.01
  --momentum 0.9 --wd 1e-3`, `SGD(..., nesterov=True)`);
- schedule lr (1 + 0.001 x)^-0.75 at iteration x (`--lr-gamma 0.001
  --lr-decay 0.75`), which over 20000 steps is lr (1 + 20 p)^-0.75 in progress p;
- 20 epochs x 1000 iterations (`--epochs 20 -i 1000`), batch 32 source + 32
  target (`-b 32`);
- images: ResizeImage(256), RandomResizedCrop(224), horizontal flip, ImageNet
  mean/std for training; ResizeImage(256), CenterCrop(224) for evaluation
  (`--train-resizing default --val-resizing default`);
- DANN: trade-off 1, discriminator 1024-1024 with BatchNorm (the method's defaults).

Evaluation and checkpoints every 1000 steps (TLL evaluates each epoch); the best
checkpoint is ranked on the source test split, never on target labels.
"""

from tldomain import defaults

DOMAINS = {"a": "amazon", "d": "dslr", "w": "webcam"}
STEPS = 20 * 1000  # --epochs 20, --iters-per-epoch 1000
LR_GAMMA = 0.001  # --lr-gamma, per iteration


def domain(name: str) -> str:
  name = name.strip().lower()
  name = DOMAINS.get(name, name)
  if name not in DOMAINS.values():
    raise ValueError(f"Unknown Office-31 domain {name!r}; valid: amazon (A), dslr (D), "
                     "webcam (W).")
  return f"office31/{name}"


def get_config(arg: str = "dann,amazon,webcam"):
  parts = arg.split(",") if arg else []
  if len(parts) > 3:
    raise ValueError(f"Expected method,source,target; got {arg!r}.")
  method, source, target = parts + ["dann", "amazon", "webcam"][len(parts):]
  config = defaults.base_config()
  config.data.source = domain(source)
  config.data.target = domain(target)
  config.data.image_size = 224
  config.data.batch_size = 32
  config.data.eval_batch_size = 128
  config.data.train_transform = "imagenet_train"
  config.data.eval_transform = "imagenet_eval"

  config.model.backbone = "resnet50"
  config.model.pretrained = "resnet50:torchvision-imagenet1k-v1"
  config.model.freeze_bn = False
  config.model.bottleneck_dim = 256

  config.optim.name = "sgd"
  config.optim.lr = 0.01
  config.optim.momentum = 0.9
  config.optim.nesterov = True
  config.optim.weight_decay = 1e-3
  config.optim.schedule = "inverse_decay"
  config.optim.lr_alpha = LR_GAMMA * STEPS  # (1 + 0.001 x) = (1 + 20 p) at x = p * 20000
  config.optim.lr_beta = 0.75
  config.optim.groups.backbone.lr_mult = 0.1
  config.optim.groups.bottleneck.lr_mult = 1.0
  config.optim.groups.head.lr_mult = 1.0

  config.train.steps = STEPS
  config.train.eval_every = 1000
  config.train.log_every = 100
  defaults.set_method(config, method.strip())
  return config
