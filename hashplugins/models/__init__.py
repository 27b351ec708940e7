from . import hashers, heads, losses, utils
