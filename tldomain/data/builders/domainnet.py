"""DomainNet (Peng et al., 2019), cleaned release: 345 classes in six domains,
clipart, infograph, painting, quickdraw, real and sketch, each with the
official train/test split.

Per domain it reads `<domain>.zip` (read in place) or its extracted `<domain>/`
folder, and the split files `<domain>_train.txt` and `<domain>_test.txt` (lines
`<domain>/<class>/<image> <label>`), from the manual folder or its domainnet/
subfolder; whatever is not there is downloaded from the official host through
TFDS, which checks each file's size and sha256. Every label is checked against
its class folder and the official class order.
"""

import dataclasses
import os

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "http://ai.bu.edu/M3SDA/"
BASE = "http://csr.bu.edu/ftp/visda/2019/multi-source/"
# The cleaned image zips (groundtruth/ holds the cleaned clipart and painting).
ZIP_URLS = {
    "clipart": BASE + "groundtruth/clipart.zip",
    "infograph": BASE + "infograph.zip",
    "painting": BASE + "groundtruth/painting.zip",
    "quickdraw": BASE + "quickdraw.zip",
    "real": BASE + "real.zip",
    "sketch": BASE + "sketch.zip",
}
SPLITS = ("train", "test")


def split_url(domain: str, split: str) -> str:
  return f"{BASE}domainnet/txt/{domain}_{split}.txt"


# Sizes and sha256 of the official files, as registered by TensorFlow Datasets
# (tensorflow/datasets, tensorflow_datasets/image_classification/domainnet/checksums.tsv).
CHECKSUMS = {
    split_url("clipart", "test"):
        (628917, "62c8e36aaba1c41ad9e249099739707220a44c08f167b37ef420f34a31628a6b"),
    split_url("clipart", "train"):
        (1443819, "affdadf5f95a7583e6b98030a3d35007e2613ee4dd942393c5a705ec2b429312"),
    split_url("infograph", "test"):
        (728028, "413cfa54ac92e7e6b242f4f09fbd9c8ace85c4deaf3cb6c81ff6b68264460136"),
    split_url("infograph", "train"):
        (1683098, "36b44cbd41a2915e0dc73b4f4be8862a6f3c220f93c8d63fb2439beeae3aefda"),
    split_url("painting", "test"):
        (971888, "11472b13b5188e09f06918b12eebb660588c97a20e43e268d9b02e3e37eb8f97"),
    split_url("painting", "train"):
        (2241901, "f1da38d50a702fddf1329f85bc607d7a2abcae7e6aec75e1fd49cc1bd340d47b"),
    split_url("quickdraw", "test"):
        (2213400, "2a00a60650a453c65c356da748fec54084a197272137c440e7d52d08947357bf"),
    split_url("quickdraw", "train"):
        (5164600, "3a5edd3bc215772010eebc87f158707703dd7e48091d13b816af81326a9d1c0f"),
    split_url("real", "test"):
        (1911327, "2b3f75bcde309aeb5931292084b2162e936b5f189e3bb1ad716f0f74c460864c"),
    split_url("real", "train"):
        (4440944, "19d483256d24aef19e581b65eda8333fd918aef3eb733fe499ff384120e3a289"),
    split_url("sketch", "test"):
        (850581, "3fb48fca18c507c4321f007c3f62b308ec232ff6928cbfe2af64e76ec366e840"),
    split_url("sketch", "train"):
        (1960222, "72f4bc6afa5702a1ccba800d0053c1427de87439dfaf246dbc9a2e71abfec54f"),
    ZIP_URLS["clipart"]:
        (1270909081, "f8f248a3e8bbc9868c523ae24e6601b4c2ad102afc60c0efeb4f3255df22354d"),
    ZIP_URLS["painting"]:
        (3679366174, "fa47e6d405503ea0286cabd767f176bd30e988b63ddd7b9db16cf030c9770015"),
    ZIP_URLS["infograph"]:
        (4338659804, "891e14f476317e97b6f06d6498c11d0a5b8d0c8b57210765ed9beb072da611fa"),
    ZIP_URLS["quickdraw"]:
        (459920701, "9f37df2a8c3733703dbb35ad9964202a65f675ca30137756457537536b485d84"),
    ZIP_URLS["real"]:
        (6062039589, "d7fe010b430c5b510f85d657d38c4a1924822695fabea4fef57bd00dba251d63"),
    ZIP_URLS["sketch"]:
        (2633992926, "23a7dbae7016b343e934399beaa8a68728fb5e570ebe2c71df9b75cf91c499fc"),
}

# The official label order (label i is CLASSES[i] in the split files); it is
# not quite alphabetical ("cello" before "cell_phone", "The_Eiffel_Tower" after "tent").
CLASSES = (
    "aircraft_carrier", "airplane", "alarm_clock", "ambulance", "angel", "animal_migration",
    "ant", "anvil", "apple", "arm", "asparagus", "axe", "backpack", "banana", "bandage",
    "barn", "baseball", "baseball_bat", "basket", "basketball", "bat", "bathtub", "beach",
    "bear", "beard", "bed", "bee", "belt", "bench", "bicycle", "binoculars", "bird",
    "birthday_cake", "blackberry", "blueberry", "book", "boomerang", "bottlecap", "bowtie",
    "bracelet", "brain", "bread", "bridge", "broccoli", "broom", "bucket", "bulldozer", "bus",
    "bush", "butterfly", "cactus", "cake", "calculator", "calendar", "camel", "camera",
    "camouflage", "campfire", "candle", "cannon", "canoe", "car", "carrot", "castle", "cat",
    "ceiling_fan", "cello", "cell_phone", "chair", "chandelier", "church", "circle",
    "clarinet", "clock", "cloud", "coffee_cup", "compass", "computer", "cookie", "cooler",
    "couch", "cow", "crab", "crayon", "crocodile", "crown", "cruise_ship", "cup", "diamond",
    "dishwasher", "diving_board", "dog", "dolphin", "donut", "door", "dragon", "dresser",
    "drill", "drums", "duck", "dumbbell", "ear", "elbow", "elephant", "envelope", "eraser",
    "eye", "eyeglasses", "face", "fan", "feather", "fence", "finger", "fire_hydrant",
    "fireplace", "firetruck", "fish", "flamingo", "flashlight", "flip_flops", "floor_lamp",
    "flower", "flying_saucer", "foot", "fork", "frog", "frying_pan", "garden", "garden_hose",
    "giraffe", "goatee", "golf_club", "grapes", "grass", "guitar", "hamburger", "hammer",
    "hand", "harp", "hat", "headphones", "hedgehog", "helicopter", "helmet", "hexagon",
    "hockey_puck", "hockey_stick", "horse", "hospital", "hot_air_balloon", "hot_dog",
    "hot_tub", "hourglass", "house", "house_plant", "hurricane", "ice_cream", "jacket",
    "jail", "kangaroo", "key", "keyboard", "knee", "knife", "ladder", "lantern", "laptop",
    "leaf", "leg", "light_bulb", "lighter", "lighthouse", "lightning", "line", "lion",
    "lipstick", "lobster", "lollipop", "mailbox", "map", "marker", "matches", "megaphone",
    "mermaid", "microphone", "microwave", "monkey", "moon", "mosquito", "motorbike",
    "mountain", "mouse", "moustache", "mouth", "mug", "mushroom", "nail", "necklace", "nose",
    "ocean", "octagon", "octopus", "onion", "oven", "owl", "paintbrush", "paint_can",
    "palm_tree", "panda", "pants", "paper_clip", "parachute", "parrot", "passport", "peanut",
    "pear", "peas", "pencil", "penguin", "piano", "pickup_truck", "picture_frame", "pig",
    "pillow", "pineapple", "pizza", "pliers", "police_car", "pond", "pool", "popsicle",
    "postcard", "potato", "power_outlet", "purse", "rabbit", "raccoon", "radio", "rain",
    "rainbow", "rake", "remote_control", "rhinoceros", "rifle", "river", "roller_coaster",
    "rollerskates", "sailboat", "sandwich", "saw", "saxophone", "school_bus", "scissors",
    "scorpion", "screwdriver", "sea_turtle", "see_saw", "shark", "sheep", "shoe", "shorts",
    "shovel", "sink", "skateboard", "skull", "skyscraper", "sleeping_bag", "smiley_face",
    "snail", "snake", "snorkel", "snowflake", "snowman", "soccer_ball", "sock", "speedboat",
    "spider", "spoon", "spreadsheet", "square", "squiggle", "squirrel", "stairs", "star",
    "steak", "stereo", "stethoscope", "stitches", "stop_sign", "stove", "strawberry",
    "streetlight", "string_bean", "submarine", "suitcase", "sun", "swan", "sweater",
    "swing_set", "sword", "syringe", "table", "teapot", "teddy-bear", "telephone",
    "television", "tennis_racquet", "tent", "The_Eiffel_Tower", "The_Great_Wall_of_China",
    "The_Mona_Lisa", "tiger", "toaster", "toe", "toilet", "tooth", "toothbrush",
    "toothpaste", "tornado", "tractor", "traffic_light", "train", "tree", "triangle",
    "trombone", "truck", "trumpet", "t-shirt", "umbrella", "underwear", "van", "vase",
    "violin", "washing_machine", "watermelon", "waterslide", "whale", "wheel", "windmill",
    "wine_bottle", "wine_glass", "wristwatch", "yoga", "zebra", "zigzag")
CITATION = """@inproceedings{peng2019moment,
  title={Moment matching for multi-source domain adaptation},
  author={Peng, Xingchao and Bai, Qinxun and Xia, Xide and Huang, Zijun and
          Saenko, Kate and Wang, Bo},
  booktitle={ICCV}, year={2019}}"""


@dataclasses.dataclass
class DomainNetConfig(tfds.core.BuilderConfig):
  """One domain; `classes` is the benchmark's class list (tests pass a subset)."""
  domain: str = ""
  classes: tuple[str, ...] = CLASSES


class DomainNet(common.ImageFilesBuilder):
  """DomainNet (cleaned), one domain per config, official train/test splits."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [DomainNetConfig(name=d, domain=d) for d in ZIP_URLS]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Optional: put <domain>.zip (or its extracted <domain>/ folder), "
      "<domain>_train.txt and <domain>_test.txt in the manual folder or its domainnet/ "
      f"subfolder; whatever is missing is downloaded from {BASE}.")

  @tfds.core.utils.classproperty
  @classmethod
  def url_infos(cls):
    return common.url_infos(CHECKSUMS)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__,
        features=common.image_features(self.builder_config.classes),
        supervised_keys=("image", "label"), homepage=HOMEPAGE, citation=CITATION)

  def locate(self, manual_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """(found, urls): paths of the files in the manual folders ("images" is the
    zip or extracted folder, then one entry per split), and URLs of the rest."""
    domain = self.builder_config.domain
    folders = common.search_folders(manual_dir, "domainnet")
    found, urls = {}, {}
    images = (common.find(folders, f"{domain}.zip")
              or next((p for p in (os.path.join(f, domain) for f in folders)
                       if os.path.isdir(p)), None))
    if images:
      found["images"] = images
    else:
      urls["images"] = ZIP_URLS[domain]
    for split in SPLITS:
      path = common.find(folders, f"{domain}_{split}.txt")
      if path:
        found[split] = path
      else:
        urls[split] = split_url(domain, split)
    return found, urls

  def _split_generators(self, dl_manager):
    domain = self.builder_config.domain
    manual_dir = common.manual_folder(dl_manager)
    paths, urls = self.locate(manual_dir)
    if urls:
      paths.update(common.download(dl_manager, urls, f"DomainNet {domain}",
                                   common.search_folders(manual_dir, "domainnet"), HOMEPAGE))
    images = paths["images"]
    release = (common.FolderRelease(images, f"{domain}/") if os.path.isdir(images)
               else common.Release.open(images))
    title = f"DomainNet {domain}"
    items = {}
    for split in SPLITS:
      where = paths[split]
      with open(where, encoding="utf-8") as f:
        entries = common.parse_image_list(f.read(), where)
      items[split] = common.check_listed_labels(title, entries, CLASSES, where)
    common.check_classes(title, {c for split in SPLITS for _, c in items[split]},
                         self.builder_config.classes,
                         f"{paths['train']} and {paths['test']}")
    return {split: self._generate_examples(f"{title} {split}", release, items[split],
                                          paths[split])
            for split in SPLITS}


for _domain in ZIP_URLS:
  register_domain(Domain(
      f"domainnet/{_domain}", DomainNet, builder_config=_domain,
      description=f"DomainNet {_domain} (cleaned release), with the official train "
      "and test splits; downloaded when its files are not in the manual folder."))
