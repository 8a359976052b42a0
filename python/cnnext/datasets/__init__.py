"""Datasets: IDX files (the MNIST format), MNIST from a local folder, and synthetic images.

Nothing here downloads anything: ``mnist.load_data(path)`` reads files you already have, and
``synthetic.load_data(...)`` builds a small labelled image set in code from a seed, so examples and
tests run with no data at all.
"""
from ._idx import load_idx
from . import mnist, synthetic

__all__ = ["load_idx", "mnist", "synthetic"]
