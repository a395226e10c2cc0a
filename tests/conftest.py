import os

import pytest
import torch

from sslib import config

# Small models on two cores run fastest, and reproducibly, on one thread.
config.set_threads(int(os.environ.get("SSLIB_THREADS", 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
