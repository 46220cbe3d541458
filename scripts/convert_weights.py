"""Converts PyTorch ResNet or EfficientNet-Lite weights to a tldomain (Orbax) weights folder.

  python scripts/convert_weights.py resnet50:torchvision-imagenet1k-v1
  python scripts/convert_weights.py resnet50.pth --arch=resnet50 --out=weights/r50
  python scripts/convert_weights.py --list

A name downloads the official file (SHA-256 checked) into the cache and
converts it there; a file converts to --out, or into the cache without it. The
result is what `model.pretrained` accepts, by name, file or folder.
"""

import argparse
import sys

from tldomain.models import convert, pretrained
from tldomain.registry import UnknownNameError

# Failures whose message says what to do: no traceback needed.
EXPECTED = (convert.WeightsMismatchError, pretrained.ChecksumError, ConnectionError,
            FileNotFoundError, UnknownNameError, ImportError)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("source", nargs="?", help="a weights name, or a .pth/.safetensors file")
  parser.add_argument("--arch", help="architecture of a file (resnet18 ... resnet152, "
                      "efficientnet_lite0 ... efficientnet_lite4, ...)")
  parser.add_argument("--out", help="output folder for a file (default: the cache)")
  parser.add_argument("--list", action="store_true", help="list the weights names")
  args = parser.parse_args(argv)
  if args.list or not args.source:
    print("\n".join(pretrained.PRETRAINED.names()))
    return 0
  if args.source not in pretrained.PRETRAINED and not args.arch:
    parser.error(f"{args.source} is not a weights name: pass --arch for a file "
                 "(--list shows the names).")
  try:
    if args.source in pretrained.PRETRAINED:
      folder = pretrained.resolve(args.source, pretrained.PRETRAINED.get(args.source).arch)
    elif args.out:
      folder = args.out
      convert.convert_file(args.source, args.arch, folder)
    else:
      folder = pretrained.resolve(args.source, args.arch)
  except EXPECTED as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  weights = convert.load_weights(folder)
  classes = weights.meta.get("num_classes") or "no"
  print(f"{weights.arch} weights with {classes} fc classes in {folder}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
