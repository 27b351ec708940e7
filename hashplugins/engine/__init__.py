from . import hooks, optimizers, runner
