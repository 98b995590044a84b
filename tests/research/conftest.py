"""A small simulated herd as a research cohort (pseudonym-like IDs, herds, customers)."""

import numpy as np
import pandas as pd
import pytest

from reprotech_core.genomics.simulate import simulate_herd
from reprotech_core.genomics.snpmap import GenotypeSet
from reprotech_core.research.cohort import Cohort


def cohort_of(herd, *, true: bool = False) -> Cohort:
    ped = herd.pedigree
    animals = pd.DataFrame({
        "animal": ped["animal"].to_numpy(), "herd": ped["herd"].to_numpy(),
        "customer": ped["customer"].to_numpy(),
        "birth_year": pd.to_datetime(ped["birth_date"]).dt.year.to_numpy(),
        "sex": np.where(ped["sex"] == 1, "M", "F"),
        "sire": ped["sire"].to_numpy(), "dam": ped["dam"].to_numpy()})
    packed = herd.true_genotypes if true else herd.genotypes.packed
    geno = GenotypeSet(packed, animals["animal"].to_numpy(), herd.genotypes.snps)
    return Cohort(animals, geno, snapshot="simulated:seed")


@pytest.fixture(scope="session")
def herd():
    return simulate_herd(n_animals=200, n_snps=600, seed=5, n_herds=4, n_customers=2)


@pytest.fixture(scope="session")
def cohort(herd):
    return cohort_of(herd)


@pytest.fixture(scope="session")
def records(herd):
    return pd.DataFrame({"animal": herd.phenotypes.index,
                         "milk": herd.phenotypes["milk_production"].to_numpy()})
