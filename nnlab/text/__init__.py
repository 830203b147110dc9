"""Text: tokenizers, vocabularies, a built-in corpus and word vectors.

>>> from nnlab.text import Vocab, pad_batch
>>> v = Vocab.build(["so good 😀", "not good at all 😡"])
>>> ids, lengths = pad_batch(v.encode(["so good 😀", "not good"]))
>>> ids.shape, lengths.tolist()
((2, 3), [3, 2])
"""

from nnlab.text.corpus import (
    STDLIB_MODULES,
    CharLMDataset,
    load_stdlib_docstrings,
    stdlib_documents,
)
from nnlab.text.tokenize import (
    CHAR_PATTERN,
    WORD_PATTERN,
    char_tokenizer,
    pre_tokenize,
    word_tokenizer,
)
from nnlab.text.vocab import PAD, UNK, Vocab, pad_batch
from nnlab.text.word2vec import Word2Vec, Word2VecCorpus, WordVectors

__all__ = [
    "CHAR_PATTERN",
    "PAD",
    "STDLIB_MODULES",
    "UNK",
    "WORD_PATTERN",
    "CharLMDataset",
    "Vocab",
    "Word2Vec",
    "Word2VecCorpus",
    "WordVectors",
    "char_tokenizer",
    "load_stdlib_docstrings",
    "pad_batch",
    "pre_tokenize",
    "stdlib_documents",
    "word_tokenizer",
]

# Sentence embeddings from a pretrained BERT (all-MiniLM-L6-v2 by default).
from nnlab.text.sentence_encoder import SentenceEncoder  # noqa: E402

__all__ += ["SentenceEncoder"]

# Uses of sentence embeddings: zero-shot, few-shot, search (similarity), and the pieces of
# a classifier on a pretrained encoder's top layers (classify).
from nnlab.text.classify import (  # noqa: E402
    TopLayersClassifier,
    layer_inputs,
    predict_labels,
    run_layers,
    sentiment_scores,
)
from nnlab.text.similarity import (  # noqa: E402
    SENTIMENT_DESCRIPTIONS,
    EmbeddingCache,
    class_prototypes,
    cosine_similarity,
    few_shot_prototypes,
    load_search_corpus,
    semantic_search,
    zero_shot_classify,
)

__all__ += [
    "SENTIMENT_DESCRIPTIONS", "EmbeddingCache", "class_prototypes", "cosine_similarity",
    "few_shot_prototypes", "load_search_corpus", "semantic_search", "zero_shot_classify",
    "TopLayersClassifier", "layer_inputs", "predict_labels", "run_layers", "sentiment_scores",
]  # fmt: skip
