from . import functional, metrics
