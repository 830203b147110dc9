"""Experiments: each module answers questions of the lab by training or measuring
something with nnlab.

They use nnlab's public API only (no name that starts with an underscore), and nothing in
``nnlab`` imports them (``tests/test_layering.py`` checks both). They are installed next
to nnlab so that ``nnlab lab`` finds them through the ``nnlab.commands`` entry point.

Every experiment registers itself with :func:`experiments.lab.core.experiment`: the
catalog questions it answers, a quick and a full size. Run them from the command line,

    nnlab lab list
    nnlab lab run linear-stack --size quick
    nnlab lab report

or from Python, ``experiments.lab.runner.run_experiment("linear-stack", "quick")``. Some
modules also keep a plain training function of their own (``experiments.dates``'
``train_dates_seq2seq``, ``experiments.char_lm``'s ``train_char_lm``, ...).
"""
