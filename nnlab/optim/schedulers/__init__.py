"""The learning-rate schedules, one family per file; import them from
:mod:`nnlab.optim.lr_scheduler`, whose docstring states the conventions they share.

``base.py`` (:class:`LRScheduler`: the first step, ``initial_lr``, ``state_dict``),
``decay.py`` (LambdaLR, StepLR, MultiStepLR, LinearLR, ExponentialLR), ``annealing.py``
(CosineAnnealingLR, CosineAnnealingWarmRestarts, OneCycleLR), ``sequential.py``
(SequentialLR) and ``plateau.py`` (ReduceLROnPlateau).
"""
