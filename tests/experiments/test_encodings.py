"""The encodings experiment's helpers."""

from __future__ import annotations

import numpy as np

from experiments.encodings import category_task, integer_code, one_hot_code


def test_codes_of_three_categories():
    categories = np.array([0, 2, 1])
    assert np.array_equal(integer_code(categories, 3)[:, 0], [-1.0, 1.0, 0.0])
    assert np.array_equal(one_hot_code(categories, 3), np.eye(3)[[0, 2, 1]])


def test_label_table_is_balanced_and_labels_follow_it():
    table, categories, labels = category_task(np.random.default_rng(0), 16, 200)
    assert table.sum() == 8
    assert np.array_equal(labels, table[categories])
