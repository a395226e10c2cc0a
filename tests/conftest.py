import pytest
import torch

from sslib import config

# Deliberate thread count (SSLIB_THREADS, else cores - 1): see config.set_threads.
config.set_threads()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
