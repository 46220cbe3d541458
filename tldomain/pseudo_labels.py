"""SHOT's self-supervised pseudo-labels from class centroids (Liang et al., 2020, Eq. 4).

NumPy on host arrays: computed once per epoch over the target train set.
"""

import numpy as np
from scipy import special


def centroid_pseudo_labels(features: np.ndarray, logits: np.ndarray,
                           rounds: int = 2) -> np.ndarray:
  """Nearest-centroid labels of target examples, as in the authors' `obtain_label`.

  Features get a constant 1 appended and are L2-normalised. Round 1: class
  centroids are the prediction-weighted means c_k = sum_i p_ik f_i / sum_i p_ik,
  each example takes the class of its nearest centroid by cosine distance.
  Later rounds recompute the centroids from those hard labels. Only classes
  the network predicts for at least one example are candidates, as in
  their code.
  """
  f = np.concatenate([features.astype(np.float64), np.ones((len(features), 1))], axis=1)
  f /= np.linalg.norm(f, axis=1, keepdims=True)
  weights = special.softmax(logits.astype(np.float64), axis=1)
  num_classes = weights.shape[1]
  present = np.bincount(np.argmax(weights, axis=1), minlength=num_classes) > 0
  labels = np.argmax(weights, axis=1)
  for _ in range(rounds):
    centroids = weights.T @ f / (1e-8 + weights.sum(axis=0)[:, None])
    c = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - f @ c.T
    distance[:, ~present] = np.inf
    labels = np.argmin(distance, axis=1)
    weights = np.eye(num_classes)[labels]
  return labels.astype(np.int32)
