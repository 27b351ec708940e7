"""Data transforms (registered into mmpretrain's TRANSFORMS)."""
from .pack import PackHashInputs

__all__ = ['PackHashInputs']
