import numpy as np
import pandas as pd
import pytest

from reprotech_core.evaluation.pedigree import (
    inbreeding_meuwissen_luo, numerator_relationship_matrix, order_pedigree,
    relationship_submatrix,
)


def textbook_pedigree():
    # Mrode (2005), Example 2.1 (animals 1..6), given out of order on purpose
    return pd.DataFrame({
        "animal": ["6", "1", "2", "3", "4", "5"],
        "sire": ["5", None, None, "1", "1", "4"],
        "dam": ["2", None, None, "2", np.nan, "3"],
    })


def test_mrode_example_a_and_inbreeding():
    ped = order_pedigree(textbook_pedigree())
    a = numerator_relationship_matrix(ped)
    got = relationship_submatrix(ped, a, ["1", "2", "3", "4", "5", "6"])
    expected = np.array([
        [1.0, 0.0, 0.5, 0.5, 0.5, 0.25],
        [0.0, 1.0, 0.5, 0.0, 0.25, 0.625],
        [0.5, 0.5, 1.0, 0.25, 0.625, 0.5625],
        [0.5, 0.0, 0.25, 1.0, 0.625, 0.3125],
        [0.5, 0.25, 0.625, 0.625, 1.125, 0.6875],
        [0.25, 0.625, 0.5625, 0.3125, 0.6875, 1.125],
    ])
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(inbreeding_meuwissen_luo(ped), np.diag(a) - 1, atol=1e-12)


def test_meuwissen_luo_equals_diag_a_on_simulated_herd(herd):
    ped = order_pedigree(herd.pedigree)
    a = numerator_relationship_matrix(ped)
    f = inbreeding_meuwissen_luo(ped)
    np.testing.assert_allclose(f, np.diag(a) - 1, atol=1e-12)
    assert f.max() > 0  # 20 sires per generation: some inbreeding by generation 3
    assert np.all(np.linalg.eigvalsh(a[:200, :200]) > 0)


@pytest.mark.parametrize("rows, message", [
    ({"animal": ["a", "b"], "sire": ["b", "a"], "dam": [None, None]}, "loop"),
    ({"animal": ["a", "b"], "sire": ["x", None], "dam": [None, None]}, "no pedigree row"),
    ({"animal": ["a", "a"], "sire": [None, None], "dam": [None, None]}, "more than once"),
    ({"animal": ["a"], "sire": ["a"], "dam": [None]}, "own parent"),
    ({"animal": ["a", "b", "c"], "sire": [None, "a", None], "dam": [None, None, "a"]},
     "sire and as dam"),
])
def test_bad_pedigrees_are_named(rows, message):
    with pytest.raises(ValueError, match=message):
        order_pedigree(pd.DataFrame(rows))


def test_missing_parent_added_as_founder_when_asked():
    ped = order_pedigree(pd.DataFrame({"animal": ["b"], "sire": ["x"], "dam": ["0"]}),
                         add_missing_parents=True)
    assert ped.ids == ["x", "b"] and ped.sire.tolist() == [-1, 0]
    with pytest.raises(ValueError, match="not in the pedigree"):
        relationship_submatrix(ped, numerator_relationship_matrix(ped), ["zz"])
