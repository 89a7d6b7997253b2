"""Tests of mobile_ssl.data.downstream without a dataset: sparse labels, label budgets, task specs."""

import numpy as np
import pytest

from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import probe


def test_sparse_labels_map_to_classes_and_unseen_ones_to_minus_one():
  # Only the labels matter here: no dataset is built (builder None).
  task = downstream.TaskData(datasets.downstream_task("some/recordings:digit"), None,
                             np.array([3, 17, 250]), ["3", "17", "250"], np.array([3, 17, 250]),
                             np.array([17, 5, 250]))
  np.testing.assert_array_equal(task.index([250, 3, 17, 5, 1000]), [2, 0, 1, -1, -1])
  assert task.unseen_test_clips == 1 and task.num_classes == 3
  # A clip of an unseen class is an error even when the classifier is confident.
  p = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
  result = probe.score(p, task.index(task.test_labels), np.arange(3))
  assert result["accuracy"] == pytest.approx(2 / 3)


def test_budgets_select_stratified_seeded_clips():
  labels = np.repeat([0, 1, 2], [10, 20, 4])
  half = downstream.select_clips(labels, downstream.Budget(label_fraction=0.5), seed=0)
  assert [int(half[labels == c].sum()) for c in range(3)] == [5, 10, 2]
  shots = downstream.select_clips(labels, downstream.Budget(shots_per_class=6), seed=0)
  assert [int(shots[labels == c].sum()) for c in range(3)] == [6, 6, 4]
  again = downstream.select_clips(labels, downstream.Budget(shots_per_class=6), seed=0)
  other = downstream.select_clips(labels, downstream.Budget(shots_per_class=6), seed=1)
  np.testing.assert_array_equal(shots, again)
  assert not np.array_equal(shots, other)
  assert downstream.select_clips(labels, downstream.Budget()).all()
  with pytest.raises(ValueError, match="label_fraction"):
    downstream.budgets([1.5])
  with pytest.raises(ValueError, match="shots_per_class"):
    downstream.budgets([], [-2])
