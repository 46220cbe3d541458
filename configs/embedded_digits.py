"""UCI digits -> UCI digits over photographs (the embedded, offline default task).

  python -m tldomain.main --config=configs/embedded_digits.py:dann --workdir=/tmp/run
  python -m tldomain.main --config=configs/embedded_digits.py:source_only ...

Digits CNN (Ganin et al. 2016's MNIST network) at 28x28, 256-d bottleneck, SGD
with Nesterov momentum 0.9, lr 0.01 annealed as lr (1 + 10 p)^-0.75 (Ganin et
al. 2016, Sec. 5.2.2), weight decay 1e-3, 32 source + 32 target images a step,
2000 steps. Sized to train both methods in a few minutes on two CPU cores:
evaluation (source val, target test and the label-free selection subsets)
every 1000 steps instead of the base config's 500, since the main job reports
the final model (each evaluation runs ~2900 images through the network and
the selection criteria on them).
"""

from tldomain import defaults


def get_config(arg: str = "dann"):
  """`method`, or `method,source,target` as the suites name runs (the domains default)."""
  method, source, target = (arg.split(",") + ["uci_digits", "uci_digits_m"])[:3]
  config = defaults.base_config()
  config.data.source = source
  config.data.target = target
  config.data.image_size = 28
  config.data.batch_size = 32
  config.train.steps = 2000
  config.train.eval_every = 1000
  defaults.set_method(config, method)
  return config
