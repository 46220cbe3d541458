"""What the dataset builders share: finding a release's files, reading archives
in place, checking images and class sets, and errors that say what to do.

Every builder reads the release in the format users download it in (archive or
extracted folder), so nobody has to unpack or convert anything by hand, and
checks it on the way: a wrong class set, an empty domain or a corrupt image
stops the build with a message that names the problem and the path.
"""

import abc
import collections
import contextlib
import io
import os
import sys
import tarfile
import zipfile
import zlib
from typing import Any, Iterable, Iterator, Mapping, Sequence

from absl import logging
import numpy as np
from PIL import Image, ImageFile
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from tldomain.data.core import DatasetNotFoundError

# Set to 1 to skip (and log) images that do not decode instead of failing.
SKIP_CORRUPT_ENV = "TLDOMAIN_SKIP_CORRUPT_IMAGES"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MANUAL_DIR_HINT = ("Set config.data.manual_dir (or $TLDOMAIN_MANUAL_DIR) to use "
                   "another folder.")


class DatasetContentError(ValueError):
  """The release is there but its content is wrong: missing or extra classes, an
  empty domain, a label that disagrees with its folder, a truncated archive."""


class CorruptImageError(DatasetContentError):
  """An image that does not decode; the message names it and the skip flag."""


def skip_corrupt_images() -> bool:
  return os.environ.get(SKIP_CORRUPT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def search_folders(manual_dir: str, subdir: str) -> list[str]:
  """Where a builder looks for its files: the manual folder, and its subfolder
  named after the dataset, so one manual folder can hold every dataset."""
  return [os.fspath(manual_dir), os.path.join(os.fspath(manual_dir), subdir)]


def find(folders: Sequence[str], *names: str) -> str | None:
  """The first `folder/name` that exists, trying names in order in each folder."""
  for folder in folders:
    for name in names:
      path = os.path.join(folder, name)
      if os.path.exists(path):
        return path
  return None


def missing_files_error(dataset: str, files: Sequence[str], folders: Sequence[str],
                        source: str, note: str = "") -> DatasetNotFoundError:
  them = "it" if len(files) == 1 else "them"
  return DatasetNotFoundError(
      f"{dataset}: {', '.join(files)} not found in {' or '.join(folders)}. "
      f"Get {them} from {source} and put {them} in {folders[0]}. "
      f"{note + ' ' if note else ''}{MANUAL_DIR_HINT}")


def is_image_name(name: str) -> bool:
  return name.lower().endswith(IMAGE_EXTENSIONS)


def _ignored(name: str) -> bool:
  """Archive and OS clutter: macOS resource forks, hidden files, thumbnails."""
  parts = name.split("/")
  return (parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)
          or parts[-1] == "Thumbs.db")


class Release(abc.ABC):
  """The files of a release, from an extracted folder or read in place from a
  .zip or .tar(.gz) archive, named by their posix paths inside it."""

  def __init__(self, path: str):
    self.path = os.fspath(path)
    self._names: list[str] | None = None

  @staticmethod
  def open(path: str) -> "Release":
    path = os.fspath(path)
    if os.path.isdir(path):
      return FolderRelease(path)
    if zipfile.is_zipfile(path):
      return ZipRelease(path)
    if path.endswith((".tar", ".tar.gz", ".tgz")):
      return TarRelease(path)
    raise DatasetContentError(f"{path} is neither a folder nor a readable zip or tar "
                              "archive; download it again.")

  def where(self, name: str) -> str:
    """How messages name a file of the release."""
    return f"{self.path}:{name}"

  def names(self) -> list[str]:
    if self._names is None:
      self._names = [n for n in self._list() if not _ignored(n)]
    return self._names

  @abc.abstractmethod
  def read(self, wanted: Iterable[str]) -> Iterator[tuple[str, bytes | Exception]]:
    """(name, bytes) for each wanted file in storage order (archives are read
    once, front to back); an unreadable file gives its exception instead."""

  @abc.abstractmethod
  def _list(self) -> list[str]:
    """Every file's name, directories left out."""


class FolderRelease(Release):
  """An extracted folder; `prefix` names its files as they are named inside the
  archive it was extracted from (e.g. "amazon/images/" for .../amazon/images)."""

  def __init__(self, path: str, prefix: str = ""):
    super().__init__(path)
    self.prefix = prefix

  def where(self, name: str) -> str:
    return os.path.join(self.path, *name[len(self.prefix):].split("/"))

  def _list(self) -> list[str]:
    names = []
    for folder, dirs, files in os.walk(self.path, followlinks=True):
      dirs.sort()
      rel = os.path.relpath(folder, self.path)
      prefix = self.prefix + ("" if rel == "." else rel.replace(os.sep, "/") + "/")
      names.extend(prefix + f for f in sorted(files))
    return names

  def read(self, wanted):
    for name in wanted:
      try:
        with open(self.where(name), "rb") as f:
          yield name, f.read()
      except OSError as e:
        yield name, e


class ZipRelease(Release):

  def _list(self) -> list[str]:
    with zipfile.ZipFile(self.path) as z:
      return [i.filename for i in z.infolist() if not i.is_dir()]

  def read(self, wanted):
    with zipfile.ZipFile(self.path) as z:
      for name in wanted:
        try:
          yield name, z.read(name)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as e:
          yield name, e


class TarRelease(Release):

  @contextlib.contextmanager
  def _tar(self):
    try:
      with tarfile.open(self.path) as tar:
        yield tar
    except (tarfile.TarError, EOFError, OSError) as e:
      raise DatasetContentError(f"{self.path} is truncated or not a tar archive ({e}); "
                                "download it again.") from e

  def _list(self) -> list[str]:
    with self._tar() as tar:
      return [_strip_dot(m.name) for m in tar if m.isfile()]

  def read(self, wanted):
    wanted = set(wanted)
    with self._tar() as tar:
      for member in tar:
        name = _strip_dot(member.name)
        if member.isfile() and name in wanted:
          yield name, tar.extractfile(member).read()
          wanted.discard(name)
          if not wanted:
            return


def read_text(release: Release, name: str) -> str:
  """A text file of the release (a label list), decoded as UTF-8."""
  for _, data in release.read([name]):
    if isinstance(data, Exception):
      raise DatasetContentError(f"Cannot read {release.where(name)}: {data}.")
    return data.decode("utf-8")
  raise DatasetContentError(f"{release.where(name)} is missing.")


def parse_image_list(text: str, where: str) -> list[tuple[str, int]]:
  """Lines `<relative path> <integer label>` (blank lines skipped)."""
  entries, seen = [], set()
  for number, line in enumerate(text.splitlines(), 1):
    if not line.strip():
      continue
    parts = line.rsplit(None, 1)
    if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
      raise DatasetContentError(
          f"{where}, line {number}: {line!r} is not '<image path> <integer label>'.")
    path = parts[0].strip()
    if path in seen:
      raise DatasetContentError(f"{where}, line {number}: {path} is listed twice.")
    seen.add(path)
    entries.append((path, int(parts[1])))
  return entries


def _strip_dot(name: str) -> str:
  return name[2:] if name.startswith("./") else name


@contextlib.contextmanager
def _strict_pil():
  """PIL pads truncated images when LOAD_TRUNCATED_IMAGES is set (some code sets
  it globally); checking an image must not."""
  saved = ImageFile.LOAD_TRUNCATED_IMAGES
  ImageFile.LOAD_TRUNCATED_IMAGES = False
  try:
    yield
  finally:
    ImageFile.LOAD_TRUNCATED_IMAGES = saved


def encoded_image(data: bytes | Exception, where: str) -> bytes:
  """`data` as JPEG or PNG bytes that TensorFlow decodes to grey or RGB.

  Every image is decoded once here, so a corrupt or truncated file fails the
  build naming `where` instead of failing a training run later. JPEG and PNG
  files in grey or RGB are kept byte for byte; others (palette, alpha, CMYK,
  other formats) are converted to RGB.
  """
  if isinstance(data, Exception):
    raise CorruptImageError(f"Cannot read {where}: {data}. {skip_hint()}")
  try:
    with _strict_pil(), Image.open(io.BytesIO(data)) as image:
      image.load()
      if image.format in ("JPEG", "PNG") and image.mode in ("RGB", "L"):
        return data
      fmt = "JPEG" if image.format == "JPEG" else "PNG"
      rgb = image.convert("RGB")
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise CorruptImageError(f"Corrupt or truncated image {where}: {e}. {skip_hint()}") from e
  out = io.BytesIO()
  rgb.save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
  return out.getvalue()


def skip_hint() -> str:
  return (f"Replace the file, or set {SKIP_CORRUPT_ENV}=1 to skip such images "
          "(each one skipped is logged).")


class ImageChecker:
  """Checks images one by one; with the skip flag, logs and counts bad ones."""

  def __init__(self, dataset: str):
    self.dataset = dataset
    self.skip = skip_corrupt_images()
    self.skipped: list[str] = []

  def __call__(self, data: bytes | Exception, where: str) -> bytes | None:
    try:
      return encoded_image(data, where)
    except CorruptImageError as e:
      if not self.skip:
        raise
      logging.warning("%s: skipping an image (%s=1): %s", self.dataset, SKIP_CORRUPT_ENV, e)
      self.skipped.append(where)
      return None

  def skipped_missing(self, names: Sequence[str], describe: str) -> None:
    """Listed images that are absent: an error, or skipped with the flag."""
    if not names:
      return
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    message = f"{self.dataset}: {len(names)} images listed in {describe} are missing: {shown}."
    if not self.skip:
      raise CorruptImageError(f"{message} {skip_hint()}")
    logging.warning("%s Skipping them (%s=1).", message, SKIP_CORRUPT_ENV)
    self.skipped.extend(names)


def check_classes(dataset: str, found: Iterable[str], classes: Sequence[str],
                  where: str) -> None:
  """The domain's classes must be exactly the benchmark's, which all its domains
  share, so that label i means the same class in every domain."""
  found = set(found)
  if not found:
    raise DatasetContentError(f"{dataset}: no images in {where}; the domain is empty.")
  missing = sorted(set(classes) - found)
  extra = sorted(found - set(classes))
  if missing or extra:
    parts = ([f"missing classes (no images): {', '.join(missing)}"] if missing else []) + \
            ([f"extra classes: {', '.join(extra)}"] if extra else [])
    raise DatasetContentError(
        f"{dataset}: {where} does not hold the benchmark's {len(classes)} classes: "
        f"{'; '.join(parts)}. Every domain of a benchmark must have the same classes.")


def class_folder_items(release: Release, prefix: str) -> list[tuple[str, str]]:
  """(name, class) of the images at `<prefix><class>/<image>` in the release.
  Other files (notes, lists, deeper folders) are not images of a class."""
  items = []
  for name in release.names():
    if name.startswith(prefix):
      parts = name[len(prefix):].split("/")
      if len(parts) == 2 and is_image_name(parts[1]):
        items.append((name, parts[0]))
  return items


def check_listed_labels(dataset: str, entries: Sequence[tuple[str, int]],
                        canonical: Sequence[str], where: str) -> list[tuple[str, str]]:
  """(path, class) for list entries `<...>/<class>/<image> <label>`, checking that
  each label is its class folder's index in the benchmark's official order."""
  items, wrong = [], []
  for path, label in entries:
    folder = path.split("/")[-2] if "/" in path else ""
    if not 0 <= label < len(canonical) or canonical[label] != folder:
      wrong.append(f"{path} {label}")
    items.append((path, folder))
  if wrong:
    shown = "; ".join(wrong[:5]) + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else "")
    raise DatasetContentError(
        f"{dataset}: {len(wrong)} labels in {where} are not the official index of their "
        f"class folder: {shown}.")
  return items


def generate_images(dataset: str, release: Release, items: Sequence[tuple[str, Any]],
                    where: str, classes: Sequence[str] | None = None, strip: str = ""):
  """TFDS examples {image, label, filename} for items [(name in release, label)],
  read in storage order. Images that are listed but absent or do not decode
  fail the build (or are skipped with the flag); with `classes`, every class
  must keep at least one image."""
  checker = ImageChecker(dataset)
  present = set(release.names())
  checker.skipped_missing([n for n, _ in items if n not in present], where)
  label_of = dict(items)
  counts: collections.Counter = collections.Counter()
  for name, data in release.read([n for n, _ in items if n in present]):
    image = checker(data, release.where(name))
    if image is None:
      continue
    counts[label_of[name]] += 1
    filename = name[len(strip):] if name.startswith(strip) else name
    yield name, {"image": image, "label": label_of[name], "filename": filename}
  if classes is not None:
    check_classes(dataset, [c for c, n in counts.items() if n], classes, where)
  elif not counts:
    raise DatasetContentError(f"{dataset}: no images in {where}; the split is empty.")


def image_features(classes: Sequence[str] | None = None, num_classes: int | None = None,
                   shape=(None, None, 3), filename: bool = True) -> tfds.features.FeaturesDict:
  """{image, label[, filename]}: encoded images, labels with their class names,
  and the image's path inside the release where there is one."""
  label = (tfds.features.ClassLabel(names=list(classes)) if classes is not None
           else tfds.features.ClassLabel(num_classes=num_classes))
  features = {"image": tfds.features.Image(shape=shape), "label": label}
  if filename:
    features["filename"] = tfds.features.Text()
  return tfds.features.FeaturesDict(features)


class SplitsWithReasons(tfds.core.SplitDict):
  """A SplitDict that answers a question about a split that could not be built
  (its files are missing) with that reason, instead of "no such split"."""

  def __init__(self, split_infos, unavailable: dict[str, str]):
    super().__init__(split_infos)
    self.unavailable = dict(unavailable)

  def __contains__(self, key) -> bool:
    if str(key) in self.unavailable and not super().__contains__(str(key)):
      raise DatasetNotFoundError(self.unavailable[str(key)])
    return super().__contains__(key)

  def __getitem__(self, key):
    if str(key) in self.unavailable and not super().__contains__(str(key)):
      raise DatasetNotFoundError(self.unavailable[str(key)])
    return super().__getitem__(key)


class PartialDatasetInfo(tfds.core.DatasetInfo):
  """DatasetInfo of a dataset whose splits come from separate files, any of which
  may be missing: the reasons a split is missing travel with `splits`."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.unavailable: dict[str, str] = {}

  @property
  def splits(self) -> tfds.core.SplitDict:
    splits = super().splits
    if not self.unavailable:
      return splits
    return SplitsWithReasons(splits.values(), self.unavailable)


def png_bytes(image: np.ndarray) -> bytes:
  """PNG bytes of a uint8 (H, W) or (H, W, C) array; PIL does this ~30x faster
  than TFDS's own encoder, which matters for 60000 digits."""
  out = io.BytesIO()
  Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(
      out, format="PNG")
  return out.getvalue()


def find_split_files(split_files: Mapping[str, Sequence[str]], folders: Sequence[str]
                     ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
  """(found, missing): per split, the paths of its files when all are in one of
  `folders` (a name may also be found without its .gz), else the names missing."""
  found, missing = {}, {}
  for split, names in split_files.items():
    paths = {n: find(folders, n, n[:-3]) if n.endswith(".gz") else find(folders, n)
             for n in names}
    if all(paths.values()):
      found[split] = [paths[n] for n in names]
    else:
      missing[split] = [n for n in names if not paths[n]]
  return found, missing


def download(dl_manager, urls: Mapping[str, str], dataset: str, folders: Sequence[str],
             homepage: str, note: str = "") -> dict[str, str]:
  """Downloads {key: url} through TFDS, which checks each file against the
  builder's registered size and sha256 (`url_infos`) where one is known."""
  try:
    return {k: os.fspath(p) for k, p in dl_manager.download(dict(urls)).items()}
  except NonMatchingChecksumError:
    raise
  except Exception as e:  # Network errors come in many types (requests, OSError, ...).
    names = [u.rsplit("/", 1)[-1] for u in urls.values()]
    raise missing_files_error(
        dataset, names, folders, f"{homepage} ({', '.join(urls.values())})",
        note=f"Downloading them failed: {type(e).__name__}: {e}. {note}".strip()) from e


def url_infos(table: Mapping[str, tuple[int, str]]) -> dict:
  """TFDS `url_infos` from {url: (size in bytes, sha256)}."""
  from tensorflow_datasets.core.download import checksums  # pylint: disable=g-import-not-at-top
  return {url: checksums.UrlInfo(size=tfds.core.utils.Size(size), checksum=sha256,
                                 filename=url.rsplit("/", 1)[-1])
          for url, (size, sha256) in table.items()}


def manual_folder(dl_manager) -> str:
  """The download manager's manual folder. Its `manual_dir` property raises a bare
  AssertionError when the folder is missing or empty; the builders report that
  themselves, naming the files to put there, so read the path it holds."""
  return os.fspath(dl_manager._manual_dir)  # pylint: disable=protected-access


class SplitFilesBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A dataset whose splits come in separate files (MNIST, SVHN, USPS).

  If the manual folder holds every file of some split, only those splits are
  built from them (no network needed), and asking for another split says which
  files it needs, where to put them and where to get them. If it holds none,
  every file is downloaded through TFDS, which checks sizes and sha256 against
  `url_infos`.
  """

  TITLE = ""  # the dataset's name in messages
  MANUAL_SUBDIR = ""  # files may also sit in <manual dir>/<MANUAL_SUBDIR>
  HOMEPAGE = ""
  SPLIT_FILES: dict[str, tuple[str, ...]] = {}  # split -> file names
  URLS: dict[str, str] = {}  # file name -> download URL
  CHECKSUMS: Mapping[str, tuple[int, str]] = {}  # file name -> (size, sha256); see url_infos
  ALTERNATIVE = ""  # how else the manual folder may hold the dataset
  IMAGE_SHAPE: tuple[int, int, int] = (0, 0, 0)  # (H, W, C) of every image
  NUM_CLASSES = 10
  CITATION = ""

  @tfds.core.utils.classproperty
  @classmethod
  def url_infos(cls):
    return url_infos(cls.CHECKSUMS) if cls.CHECKSUMS else None

  def _info(self) -> tfds.core.DatasetInfo:
    return PartialDatasetInfo(
        builder=self, description=sys.modules[type(self).__module__].__doc__,
        features=image_features(num_classes=self.NUM_CLASSES, shape=self.IMAGE_SHAPE,
                                filename=False),
        supervised_keys=("image", "label"), homepage=self.HOMEPAGE, citation=self.CITATION)

  def folders(self, manual_dir: str) -> list[str]:
    return search_folders(manual_dir, self.MANUAL_SUBDIR)

  def locate(self, manual_dir: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(found, missing) split files in the manual folders; see find_split_files."""
    return find_split_files(self.SPLIT_FILES, self.folders(manual_dir))

  def unavailable_splits(self, manual_dir: str) -> dict[str, str]:
    """Split -> why it cannot be built from the manual folder's files."""
    found, missing = self.locate(manual_dir)
    if not found:
      return {}  # Everything will be downloaded.
    folders = self.folders(manual_dir)
    home = os.path.dirname(next(iter(found.values()))[0])
    built = ", ".join(sorted(found))
    reasons = {}
    for split, names in missing.items():
      urls = ", ".join(self.URLS[n] for n in names if n in self.URLS) or self.HOMEPAGE
      reasons[split] = (
          f"{self.TITLE} has no {split!r} split here: its files {', '.join(names)} are "
          f"not in {' or '.join(folders)} (split(s) {built} were built from the files "
          f"in {home}). Put them in {home}; get them from {urls} (see "
          f"{self.HOMEPAGE}). Or take {self.TITLE}'s files out of those folders to "
          f"have all of it downloaded, with checksums. {MANUAL_DIR_HINT}")
    return reasons

  def stale_reason(self, manual_dir: str) -> str | None:
    """Why the prepared data must be rebuilt: files of a split it lacks appeared."""
    found, _ = self.locate(manual_dir)
    new = sorted(set(found) - set(self.info.splits.keys()))
    return f"the files of split(s) {', '.join(new)} are now in the manual folder" if new else None

  def _split_generators(self, dl_manager):
    manual_dir = manual_folder(dl_manager)
    found, _ = self.locate(manual_dir)
    if not found:
      names = [n for names in self.SPLIT_FILES.values() for n in names]
      paths = download(dl_manager, {n: self.URLS[n] for n in names}, self.TITLE,
                       self.folders(manual_dir), self.HOMEPAGE, self.ALTERNATIVE)
      self.after_download(paths)
      found = {split: [paths[n] for n in names] for split, names in self.SPLIT_FILES.items()}
    self.info.unavailable = self.unavailable_splits(manual_dir)
    return {split: self._generate_examples(split, paths) for split, paths in found.items()}

  def after_download(self, paths: dict[str, str]) -> None:
    """Checks downloaded files beyond TFDS's sha256 (USPS has only MD5s)."""
    del paths

  def _generate_examples(self, split: str, paths: list[str]):
    for index, (image, label) in enumerate(zip(*self.read_split(split, paths))):
      yield index, {"image": png_bytes(image), "label": int(label)}

  @abc.abstractmethod
  def read_split(self, split: str, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W, C) uint8, labels (N,)) of a split from its files."""


def image_size(data: bytes) -> tuple[int, int]:
  """(width, height) of encoded image bytes, read from the header."""
  with Image.open(io.BytesIO(data)) as image:
    return image.size


class ImageFilesBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A builder whose examples are the image files of a release."""

  def _generate_examples(self, dataset: str, release: Release,
                         items: Sequence[tuple[str, Any]], where: str,
                         classes: Sequence[str] | None = None, strip: str = ""):
    yield from generate_images(dataset, release, items, where, classes, strip)


class ClassFolderDomainBuilder(ImageFilesBuilder, skip_registration=True):
  """One domain of a benchmark released as `<domain>/<class>/<image>` folders, in
  one archive read in place or extracted (Office-31, Office-Home).

  A subclass sets the class attributes below and `candidates()`, the paths
  (as named inside the archive) where this domain's class folders may start;
  the first one found is used, in the archive or under an extracted folder.
  Each domain is one split, `train`.
  """
  TITLE = ""  # "Office-31"
  ARCHIVE = ""  # the release's archive file name
  SUBFOLDER = ""  # also searched: <manual_dir>/<SUBFOLDER>
  HOMEPAGE = ""
  SOURCE = ""  # where to get the archive, for the missing-files message
  CITATION = ""

  def candidates(self) -> list[str]:
    raise NotImplementedError

  def domain_title(self) -> str:
    return f"{self.TITLE} {self.builder_config.domain}"

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=sys.modules[type(self).__module__].__doc__,
        features=image_features(self.builder_config.classes),
        supervised_keys=("image", "label"), homepage=self.HOMEPAGE, citation=self.CITATION)

  def find_release(self, manual_dir: str) -> tuple[Release, str]:
    """The release holding this domain, and the prefix of its class folders."""
    candidates = self.candidates()
    folders = search_folders(manual_dir, self.SUBFOLDER)
    for folder in folders:
      archive = os.path.join(folder, self.ARCHIVE)
      if os.path.isfile(archive):
        release = Release.open(archive)
        for prefix in candidates:
          if any(n.startswith(prefix) for n in release.names()):
            return release, prefix
        raise DatasetContentError(
            f"{self.TITLE}: {archive} holds no {' or '.join(candidates)} folder; the "
            "domain is empty.")
      for prefix in candidates:
        path = os.path.join(folder, *prefix.rstrip("/").split("/"))
        if os.path.isdir(path):
          return FolderRelease(path, prefix), prefix
    raise missing_files_error(
        self.domain_title(),
        [f"{self.ARCHIVE} (or its extracted {candidates[0]} folder)"], folders, self.SOURCE)

  def _split_generators(self, dl_manager):
    release, prefix = self.find_release(manual_folder(dl_manager))
    title, classes = self.domain_title(), self.builder_config.classes
    where = release.where(prefix)
    items = class_folder_items(release, prefix)
    check_classes(title, {c for _, c in items}, classes, where)
    return {"train": self._generate_examples(title, release, items, where, classes,
                                            strip=prefix)}
