"""Shared helpers of *Regularization, Executed*.

Small modules with one job each:

- :mod:`utils.reproducibility` -- seeding and device choice
- :mod:`utils.presets` -- the ``smoke`` / ``cpu`` / ``gpu`` run size switch
- :mod:`utils.progress` -- a progress display that leaves no trace in stored outputs
- :mod:`utils.training` -- a training loop with a per-epoch :class:`~utils.training.History`
- :mod:`utils.plotting` -- labelled curves
- :mod:`utils.regularization` -- penalties, weight decay parameter groups, ridge, dropout
- :mod:`utils.linreg` -- d2l's high-dimensional regression experiment (chapters 2 and 3)
- :mod:`utils.wd_experiments` -- chapter 2's experiments on small nonlinear networks, trained many at once
- :mod:`utils.dropout_study` -- chapter 4's experiments: many MLPs trained at once, dropout on CIFAR-10
- :mod:`utils.stats` -- paired comparisons over repetitions (mean, sd, t interval, sign test)
- :mod:`utils.notebook` -- the bootstrap every chapter runs first, and ``show_source``
- :mod:`utils.files` -- atomic writes of checkpoints and caches
- :mod:`utils.checks` -- argument checks shared by the helpers
- :mod:`utils.cifar10` -- CIFAR-10 from a local copy or a download, decoded once and cached
- :mod:`utils.augment` -- batches sampled and augmented on the device
- :mod:`utils.models` -- the fast CIFAR-10 ResNet of chapter 5
- :mod:`utils.cifar_train` -- the chapter 5 recipe: presets, mixed precision, checkpoints

Import from the submodules (``from utils.training import fit``); this file stays light so that
``import utils`` costs nothing.
"""

__version__ = "0.1.0"
