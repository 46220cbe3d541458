"""A run's saved config.json, read back with today's defaults for the fields
added since the run was made."""

import json
import os

import ml_collections

from tldomain import defaults


def with_defaults(base: dict, saved: dict) -> dict:
  """`saved`, with any key it lacks taken from `base` (recursively)."""
  merged = dict(base)
  for key, value in saved.items():
    both = isinstance(value, dict) and isinstance(base.get(key), dict)
    merged[key] = with_defaults(base[key], value) if both else value
  return merged


def load(workdir: str) -> ml_collections.ConfigDict:
  """`<workdir>/config.json` (the caller checks that it exists, saying why it must)."""
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    return ml_collections.ConfigDict(with_defaults(defaults.base_config().to_dict(),
                                                   json.load(f)))
