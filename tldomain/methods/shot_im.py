"""SHOT-IM: SHOT's information maximisation alone (Liang et al., ICML 2020, Table 2).

The loss of tldomain/methods/shot.py without the pseudo-label term
(pseudo_label_weight = 0, so the trainer computes no pseudo-labels).
"""

from tldomain.methods.base import Method
from tldomain.methods.registry import register
from tldomain.methods.shot import SOURCE_FREE_CONFIG, shot_loss

register(Method(name="shot_im", loss=shot_loss, defaults={"pseudo_label_weight": 0.0},
                modes=("source_free",), config=SOURCE_FREE_CONFIG))
