"""Feature-space diagnostics for reports: proxy A-distance and t-SNE embeddings."""

import numpy as np
from sklearn import linear_model, manifold, model_selection, preprocessing


def a_distance(source_features: np.ndarray, target_features: np.ndarray,
               seed: int = 0) -> float:
  """Proxy A-distance 2 (1 - 2 err) between two feature sets (Ben-David et al. 2007).

  `err` is the held-out error of a linear classifier trained to tell the
  domains apart (half of each set to train, half to test). Near 0: the domains
  are indistinguishable; 2: perfectly separable.
  """
  features = np.concatenate([source_features, target_features]).astype(np.float64)
  domains = np.concatenate([np.zeros(len(source_features)), np.ones(len(target_features))])
  x_train, x_test, y_train, y_test = model_selection.train_test_split(
      features, domains, test_size=0.5, random_state=seed, stratify=domains)
  scaler = preprocessing.StandardScaler().fit(x_train)
  classifier = linear_model.LogisticRegression(max_iter=2000)
  classifier.fit(scaler.transform(x_train), y_train)
  error = 1.0 - classifier.score(scaler.transform(x_test), y_test)
  return float(2.0 * (1.0 - 2.0 * min(error, 0.5)))


def tsne(features: np.ndarray, seed: int = 0) -> np.ndarray:
  """A 2-d t-SNE embedding of `features` (N, D), PCA-initialised for stability."""
  perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
  return manifold.TSNE(n_components=2, init="pca", perplexity=perplexity,
                       random_state=seed).fit_transform(features.astype(np.float64))
