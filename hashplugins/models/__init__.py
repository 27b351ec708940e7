from . import gans, hashers, heads, losses, utils
