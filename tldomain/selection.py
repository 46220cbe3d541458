"""Model selection without target labels: the criteria each evaluation records.

A run evaluates every `train.eval_every` steps and records, per evaluation:

- `target_test_accuracy`: the ORACLE. It reads target labels, so a checkpoint
  chosen by it is not an unsupervised result; reported only for comparison.
- `source_val_accuracy`: accuracy on held-out source data (higher is better).
- `target_entropy`: mean entropy of the predictions on unlabelled target
  images (lower is better).
- `snd`: soft neighbourhood density (Saito et al., ICCV 2021), higher is better.
- `dev`: deep embedded validation risk (You et al., ICML 2019), lower is better.

All functions here are NumPy on host arrays: they run once per evaluation on a
few thousand examples, far from the hot loop.
"""

from typing import Mapping, Sequence

import numpy as np
from scipy import special
from sklearn import linear_model, preprocessing

# criterion -> (metric key in an evaluation record, "max" or "min")
CRITERIA: dict[str, tuple[str, str]] = {
    "source_val": ("source_val_accuracy", "max"),
    "entropy": ("target_entropy", "min"),
    "snd": ("snd", "max"),
    "dev": ("dev", "min"),
    "oracle": ("target_test_accuracy", "max"),  # uses target labels
}
LABEL_FREE = ("source_val", "entropy", "snd", "dev")


def softmax(logits: np.ndarray) -> np.ndarray:
  return special.softmax(np.asarray(logits, np.float64), axis=-1)


def prediction_entropy(logits: np.ndarray) -> float:
  """Mean entropy (nats) of softmax(logits) over the examples."""
  probs = softmax(logits)
  return float(np.mean(special.entr(probs).sum(-1)))


def soft_neighborhood_density(logits: np.ndarray, temperature: float = 0.05) -> float:
  """SND: mean entropy of each example's soft neighbour distribution.

  Softmax outputs are L2-normalised; their cosine similarities to the other
  examples (itself excluded), divided by `temperature` and passed through a
  softmax over neighbours, give a distribution whose entropy is high where
  examples sit in dense clusters (Saito et al. 2021, Eq. 1-3).
  """
  probs = softmax(logits)
  probs /= np.linalg.norm(probs, axis=1, keepdims=True)
  similarity = probs @ probs.T / temperature
  np.fill_diagonal(similarity, -np.inf)
  neighbours = special.softmax(similarity, axis=1)
  return float(np.mean(special.entr(neighbours).sum(1)))


def domain_density_ratio(source_features: np.ndarray, target_features: np.ndarray,
                         query_features: np.ndarray) -> np.ndarray:
  """w(x) = p_target(x) / p_source(x) at `query_features`, from a domain classifier.

  A logistic regression separates source (0) from target (1) features; by
  Bayes, w(x) = (n_s / n_t) * P(target | x) / P(source | x).
  """
  features = np.concatenate([source_features, target_features])
  domains = np.concatenate([np.zeros(len(source_features)), np.ones(len(target_features))])
  scaler = preprocessing.StandardScaler().fit(features)
  classifier = linear_model.LogisticRegression(max_iter=1000)
  classifier.fit(scaler.transform(features), domains)
  p_target = classifier.predict_proba(scaler.transform(query_features))[:, 1]
  p_target = np.clip(p_target, 1e-6, 1 - 1e-6)
  return len(source_features) / len(target_features) * p_target / (1 - p_target)


def dev_risk(losses: np.ndarray, weights: np.ndarray) -> float:
  """DEV's risk estimate from source validation losses and density ratios.

  The importance-weighted loss L = w * loss, with the control variate w (whose
  mean is 1 in expectation): risk = mean(L) + eta * mean(w) - eta, where
  eta = -Cov(L, w) / Var(w) (You et al. 2019, Algorithm 1).
  """
  losses, weights = np.asarray(losses, np.float64), np.asarray(weights, np.float64)
  weighted = weights * losses
  variance = np.var(weights, ddof=1)
  eta = 0.0 if variance == 0 else -np.cov(weighted, weights)[0, 1] / variance
  return float(weighted.mean() + eta * weights.mean() - eta)


def label_free_criteria(source_train_features: np.ndarray, source_val_features: np.ndarray,
                        source_val_losses: np.ndarray, target_features: np.ndarray,
                        target_logits: np.ndarray, snd_temperature: float = 0.05
                        ) -> dict[str, float]:
  """`target_entropy`, `snd` and `dev` of one evaluation; no target labels read."""
  weights = domain_density_ratio(source_train_features, target_features, source_val_features)
  return {
      "target_entropy": prediction_entropy(target_logits),
      "snd": soft_neighborhood_density(target_logits, snd_temperature),
      "dev": dev_risk(source_val_losses, weights),
  }


def select(evaluations: Sequence[Mapping[str, float]], criterion: str) -> Mapping[str, float]:
  """The evaluation record `criterion` picks ('last' = the final one); ties: earliest."""
  if not evaluations:
    raise ValueError("No evaluations to select from.")
  if criterion == "last":
    return evaluations[-1]
  if criterion not in CRITERIA:
    raise ValueError(f"Unknown selection criterion {criterion!r}; valid ones: "
                     f"{', '.join(['last', *CRITERIA])}.")
  key, mode = CRITERIA[criterion]
  values = np.array([e[key] for e in evaluations], np.float64)
  return evaluations[int(np.argmax(values) if mode == "max" else np.argmin(values))]


def selections(evaluations: Sequence[Mapping[str, float]]) -> dict[str, dict]:
  """{criterion: {step, target_test_accuracy}} for 'last' and every criterion."""
  out = {}
  for criterion in ("last", *CRITERIA):
    if criterion != "last" and CRITERIA[criterion][0] not in evaluations[-1]:
      continue  # e.g. source_val and dev in a run that reads no source data
    chosen = select(evaluations, criterion)
    out[criterion] = {"step": int(chosen["step"]),
                      "target_test_accuracy": float(chosen["target_test_accuracy"])}
  return out
