"""The base config every `configs/*.py` file starts from, and method merging."""

import ml_collections

from tldomain import methods


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.source = "uci_digits"  # domain names: see tldomain.data.DOMAINS
  c.data.target = "uci_digits_m"
  # Splits; "" takes the domain's own (its train and test splits). Set
  # target_train_split = target_test_split for a transductive run, as on a
  # machine holding only a domain's test split.
  c.data.source_train_split = ""
  c.data.source_val_split = ""  # ranks checkpoints; no target labels involved
  c.data.target_train_split = ""  # read without labels
  c.data.target_test_split = ""
  c.data.data_dir = ""  # TFDS data dir; "" = $TLDOMAIN_DATA_DIR or ~/tensorflow_datasets
  c.data.manual_dir = ""  # where manually downloaded archives live
  c.data.batch_size = 32  # global, per domain: a DANN step sees 32 source + 32 target
  c.data.eval_batch_size = 256
  c.data.image_size = 28
  # Semi-supervised DA / few-shot transfer: k labelled examples per class of the
  # target train split (drawn by `seed`, listed in <workdir>/target_labeled.json),
  # their cross-entropy added to any method's loss; the target test set never
  # includes them. 0 = none (unsupervised DA).
  c.data.target_labeled_per_class = 0
  c.data.train_transform = "digits"
  c.data.eval_transform = "digits"
  # FDA (Yang & Soatto 2020): > 0 swaps the low-frequency amplitude of each source
  # training image with a random unlabelled target image's (half-size of the
  # square: fda_beta x the shorter side), before train_transform. In [0, 0.5].
  c.data.fda_beta = 0.0

  c.model = ml_collections.ConfigDict()
  c.model.backbone = "digits_cnn"  # or resnet18 ... resnet152: see tldomain.models.BACKBONES
  c.model.bottleneck_dim = 256  # 0: no bottleneck
  # Backbone weights: a name ("resnet50:torchvision-imagenet1k-v1"), a .pth /
  # .safetensors file or a converted folder; "" = random init. The head is always new.
  c.model.pretrained = ""
  c.model.width = 1.0  # digits_cnn: channel multiplier (0.5: a smaller student)
  c.model.freeze_bn = False  # ResNets: BatchNorm stays on its running statistics
  # Compute dtype: "float32" or "bfloat16" (mixed precision: modules compute in
  # bfloat16; parameters, optimizer state, BatchNorm statistics and losses stay float32).
  c.model.dtype = "float32"
  # Classifier head: "linear", or "cosine" (L2-normalised features, bias-free
  # weights, logits / head_temperature: MME's classifier, set by method mme).
  c.model.head = "linear"
  c.model.head_temperature = 0.05

  c.method = method_config("source_only")

  c.optim = ml_collections.ConfigDict()
  c.optim.name = "sgd"  # sgd | adam | adamw
  c.optim.lr = 0.01
  c.optim.momentum = 0.9
  c.optim.nesterov = True
  c.optim.weight_decay = 1e-3
  c.optim.schedule = "inverse_decay"  # lr (1 + alpha p)^-beta; or cosine, constant
  c.optim.lr_alpha = 10.0
  c.optim.lr_beta = 0.75
  # (regex, group) pairs tried in order on paths like "backbone/conv0/kernel";
  # unmatched parameters take their top-level module's name as group.
  c.optim.group_rules = ()
  c.optim.groups = ml_collections.ConfigDict()
  for group in ("backbone", "bottleneck", "head"):
    c.optim.groups[group] = group_settings()

  c.train = ml_collections.ConfigDict()
  # "finetune": train everything end to end; "features": the frozen backbone's
  # features are computed once and cached, then only the
  # bottleneck and head train on them (tldomain/trainers/).
  c.train.mode = "finetune"
  # Features mode: the folder of cached backbone features; "" = <workdir>/features.
  # Runs that share one folder (a suite's seeds and methods) extract each split once.
  c.train.features_cache = ""
  # train.mode=distill (tldomain/trainers/distill.py): the finished run whose
  # predictions on unlabelled target images the student learns (Hinton et al. 2015),
  # at temperature distill_temperature, its loss weighted by distill_weight
  # against the source labels' cross-entropy.
  c.train.teacher = ""
  c.train.teacher_checkpoint = "latest"  # or "best"
  c.train.distill_temperature = 2.0
  c.train.distill_weight = 1.0

  # "source_free" (SHOT, SHOT-IM) and "test_time" (AdaBN, TENT) start from a
  # finished run: init_from is its workdir. They read no source data.
  c.train.init_from = ""
  c.train.steps = 2000
  c.train.log_every = 50
  c.train.eval_every = 500  # evaluation and checkpoint interval, in steps
  c.train.stop_at_step = -1  # > 0: save and exit after this step (time-sliced jobs)
  c.train.progress_bar = True
  # Resume a workdir whose checkpoints come from a config that trains differently
  # (tldomain/workdir.py lists what counts); without it such a restart stops.
  c.train.force_config = False

  # Multi-process runs: see tldomain.sharding.initialize_distributed.
  c.distributed = ml_collections.ConfigDict()
  c.distributed.auto = False  # True on TPU pod slices, SLURM, Open MPI
  c.distributed.coordinator_address = ""  # "host:port" for an explicit set-up
  c.distributed.num_processes = 1
  c.distributed.process_id = 0

  # Label-free model selection (tldomain/selection.py): every evaluation records
  # target entropy, SND and DEV, computed on fixed subsets of this many source
  # train and unlabelled target train examples.
  c.selection = ml_collections.ConfigDict()
  c.selection.num_examples = 1000
  c.selection.snd_temperature = 0.05  # Saito et al. 2021

  c.checkpoint = ml_collections.ConfigDict()
  # Which evaluated checkpoint to keep besides the latest: any key of an
  # evaluation record (source_val_accuracy, target_entropy, snd, dev), with
  # "max" or "min". The default reads no target labels.
  c.checkpoint.best_metric = "source_val_accuracy"
  c.checkpoint.best_mode = "max"
  return c


def group_settings(lr_mult: float = 1.0, frozen: bool = False) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({"lr_mult": lr_mult, "frozen": frozen})


def method_config(name: str) -> ml_collections.ConfigDict:
  """`config.method` for a registered method: its name and default hyperparameters."""
  method = methods.get_method(name)
  return ml_collections.ConfigDict({"name": name, **method.defaults})


def set_method(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
  """Selects a method: its hyperparameters, and a parameter group per extra module."""
  config.method = method_config(name)
  for key, value in methods.get_method(name).config.items():  # e.g. MME's cosine head
    parent, _, leaf = key.rpartition(".")
    node = config
    for part in parent.split(".") if parent else []:
      node = node[part]
    node[leaf] = value
  for module_name in methods.get_method(name).modules(config.method):
    if module_name not in config.optim.groups:
      config.optim.groups[module_name] = group_settings()
  return config


def starts_from_a_finished_run(name: str) -> bool:
  """Source-free and test-time methods adapt the model of `train.init_from`."""
  return methods.get_method(name).config.get("train.mode") in ("source_free", "test_time")
