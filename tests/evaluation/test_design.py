"""Sparse class-factor designs against their dense least-squares reference."""

import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.design import class_design

FACTORS = ("cg", "herd", "birth_year")


@pytest.fixture(scope="module")
def table():
    """400 records: 6 herds, each split into about 5 contemporary groups (so the herd is
    nested in the groups), 4 birth years crossing them."""
    rng = np.random.default_rng(1)
    herd = rng.integers(0, 6, 400)
    return pd.DataFrame({"herd": [f"H{h}" for h in herd],
                         "cg": [f"H{h}:{g}" for h, g in zip(herd, rng.integers(0, 5, 400),
                                                            strict=True)],
                         "birth_year": rng.integers(2018, 2022, 400).astype(str)})


def test_the_largest_factor_is_absorbed_and_nested_columns_dropped(table, caplog):
    design = class_design(table, factors=FACTORS)
    assert design.n_groups == table["cg"].nunique()
    assert design.group_names[0].startswith("cg=")
    assert design.other_names == ["birth_year=2019", "birth_year=2020", "birth_year=2021"]
    assert "gblup.confounded_fixed_effects_dropped" in caplog.text  # the herd's columns
    x = design.dense()
    assert x.shape == (400, design.n_columns)
    assert np.linalg.matrix_rank(x) == design.n_columns
    full = np.column_stack([np.ones(400)] + [(table[f] == v).to_numpy(float)
                                             for f in FACTORS for v in table[f].unique()])
    assert np.linalg.matrix_rank(np.column_stack([x, full])) == design.n_columns  # same span
    np.testing.assert_array_equal(design.column_square_sums(), (x * x).sum(axis=0))


def test_weighted_solves_and_leverages_equal_the_dense_ones(table):
    design = class_design(table, factors=FACTORS)
    x = design.dense()
    rng = np.random.default_rng(2)
    w = rng.uniform(0.2, 3.0, 400)
    fit = design.weighted(w)
    s = x.T @ (w[:, None] * x)
    k = rng.normal(size=(design.n_columns, 3))
    np.testing.assert_allclose(fit.solve(k), np.linalg.solve(s, k), atol=1e-10)
    np.testing.assert_allclose(fit.solve(k[:, 0]), np.linalg.solve(s, k[:, 0]), atol=1e-10)
    leverage = np.einsum("ij,ji->i", x, np.linalg.solve(s, x.T))
    np.testing.assert_allclose(fit.leverages(0, 400), leverage, atol=1e-12)
    np.testing.assert_allclose(fit.leverages(37, 90), leverage[37:90], atol=1e-12)
    y = rng.normal(size=400)
    np.testing.assert_allclose(design.residuals(y),
                               y - x @ np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-10)
    with pytest.raises(ValueError, match="400 positive record weights"):
        design.weighted(np.zeros(400))


def test_degenerate_designs(table):
    none = class_design(table, factors=("season",))  # absent: not recorded
    assert none.names == ["intercept"] and none.dense().shape == (400, 1)
    y = np.arange(400.0)
    np.testing.assert_allclose(none.residuals(y), y - y.mean(), atol=1e-9)
    same = class_design(table.assign(birth_year=table["cg"]), factors=FACTORS)
    assert same.other_names == []  # everything the groups span
    one = class_design(table.assign(herd="H0"), factors=("herd",))
    assert one.names == ["herd=H0"]
    with pytest.raises(ValueError, match="'herd' is missing for 2 records"):
        class_design(table.assign(herd=[None, None] + ["H"] * 398), factors=FACTORS)
