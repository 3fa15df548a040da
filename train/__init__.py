"""vaedge.train: data loading, the Keras VAE and its ELBO, and `vaedge train`.

Importing this package is cheap; `vaedge.train.model` and `vaedge.train.run` import Keras/TensorFlow.
"""

from vaedge.train.config import TrainConfig
from vaedge.train.data import Dataset, load_dataset

__all__ = ["Dataset", "TrainConfig", "load_dataset"]
