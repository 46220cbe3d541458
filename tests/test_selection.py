"""Label-free selection criteria against small hand-computed cases."""

import numpy as np
import pytest

from tldomain import selection

NEG_INF = -np.inf


def test_snd_matches_a_hand_computed_three_point_case():
  # Softmax outputs [1, 0], [1, 0], [0, 1]: cosine similarities s12 = 1, s13 = s23 = 0.
  # With temperature 1, rows 1 and 2 put e/(1+e) on each other and 1/(1+e) on
  # point 3: entropy ln(1 + e) - e / (1 + e); row 3 is uniform over its two
  # neighbours: ln 2.
  logits = np.array([[0.0, NEG_INF], [0.0, NEG_INF], [NEG_INF, 0.0]])
  row = np.log(1 + np.e) - np.e / (1 + np.e)
  expected = (2 * row + np.log(2)) / 3  # 0.6191845
  assert selection.soft_neighborhood_density(logits, temperature=1.0) == pytest.approx(
      expected, abs=1e-6)


def test_snd_is_higher_for_dense_clusters_than_for_scattered_predictions():
  rng = np.random.default_rng(0)
  confident = np.eye(4)[rng.integers(0, 4, 64)] * 8.0  # four tight clusters
  scattered = rng.normal(0, 3.0, (64, 4))
  assert (selection.soft_neighborhood_density(confident)
          > selection.soft_neighborhood_density(scattered))


def test_prediction_entropy_hand_cases():
  assert selection.prediction_entropy(np.zeros((3, 4))) == pytest.approx(np.log(4))
  assert selection.prediction_entropy(np.array([[0.0, NEG_INF]])) == pytest.approx(0.0)


def test_dev_risk_matches_hand_computation():
  # weighted losses [1, 2, 7.5] (mean 3.5), weights mean 1.5, Var(w) = 0.75,
  # Cov(L, w) = 3 (both ddof 1), eta = -4: risk = 3.5 - 4 * 1.5 + 4 = 1.5.
  assert selection.dev_risk([1.0, 2.0, 3.0], [1.0, 1.0, 2.5]) == pytest.approx(1.5)
  # Weights averaging one: the control variate changes nothing.
  assert selection.dev_risk([1.0, 2.0, 3.0], [0.5, 1.0, 1.5]) == pytest.approx(7 / 3)
  # Constant weights: plain weighted mean.
  assert selection.dev_risk([1.0, 3.0], [2.0, 2.0]) == pytest.approx(4.0)


def test_density_ratio_is_near_one_without_shift_and_follows_the_target_with_it():
  rng = np.random.default_rng(0)
  source = rng.normal(0, 1, (400, 2))
  same = rng.normal(0, 1, (400, 2))
  query = np.array([[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
  flat = selection.domain_density_ratio(source, same, query)
  assert np.all(np.abs(flat - 1) < 0.35)
  shifted = rng.normal([1.5, 0.0], 1, (400, 2))
  weights = selection.domain_density_ratio(source, shifted, query)
  assert weights[0] < weights[1] < weights[2]  # more weight where the target lives
  # The true ratio at x=0 for these Gaussians is exp(-1.5^2 / 2) = 0.32.
  assert weights[1] == pytest.approx(np.exp(-1.125), rel=0.35)


def test_select_picks_by_each_criterion_and_names_valid_ones():
  evaluations = [
      {"step": 10, "source_val_accuracy": 0.9, "target_entropy": 0.5, "snd": 1.0, "dev": 0.4,
       "target_test_accuracy": 0.6},
      {"step": 20, "source_val_accuracy": 0.8, "target_entropy": 0.2, "snd": 2.0, "dev": 0.3,
       "target_test_accuracy": 0.7},
      {"step": 30, "source_val_accuracy": 0.9, "target_entropy": 0.3, "snd": 1.5, "dev": 0.5,
       "target_test_accuracy": 0.65},
  ]
  picked = {c: s["step"] for c, s in selection.selections(evaluations).items()}
  assert picked == {"last": 30, "source_val": 10, "entropy": 20, "snd": 20, "dev": 20,
                    "oracle": 20}  # source_val ties at 0.9: the earliest wins
  with pytest.raises(ValueError, match="valid ones: last, source_val, entropy, snd, dev"):
    selection.select(evaluations, "accuracy")
