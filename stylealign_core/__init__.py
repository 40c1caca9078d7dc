"""stylealign_core: the library (pure PyTorch/NumPy). Networks, checkpoints, data, training,
inversion, alignment, metrics and reports. No Prefect or DVC imports here."""
from .generator import Generator, MappingNetwork, SynthesisNetwork, StyleLayout, SPACES
from .discriminator import Discriminator

__all__ = ["Generator", "Discriminator", "MappingNetwork", "SynthesisNetwork", "StyleLayout", "SPACES"]
__version__ = "0.1.0"
