"""Experiments: each module answers one question by training something with nnlab.

They use nnlab's public API only (no name that starts with an underscore), and nothing in
``nnlab`` imports them (``tests/test_layering.py`` checks both); they are not part of the
installed package. Run them from the repository root, e.g.
``python -c "from experiments.dates import train_dates_seq2seq; print(train_dates_seq2seq())"``
or ``python -m experiments.dates``.

- :mod:`experiments.char_lm` — does a character language model learn more than the
  character frequencies of the standard library's docstrings?
- :mod:`experiments.dates` — can an attention encoder-decoder normalise dates written in
  unseen ways, to the last character?
- :mod:`experiments.forecasting` — does an LSTM beat the seasonal naive forecast on the
  future of a trending series?
- :mod:`experiments.text_transfer` — how much does a pretrained sentence encoder give a
  small sentiment task: zero-shot, few-shot, feature extraction, fine-tuning?
- :mod:`experiments.vision_transfer` — do features learned on the digits 0–4 help read
  5–9 from a few images?
- :mod:`experiments.word2vec` — which neighbours do word vectors trained on the docstrings
  find?
"""
