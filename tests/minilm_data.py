"""Inputs shared by the pretrained-model tests."""

#: Texts that exercise the tokenizer and the masks: short, long, truncated at 256
#: tokens, padding in every batch, emojis, accents, CJK, an empty string.
SENTENCES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "A cat sits on the mat.",
    "Ça va très bien, merci ! Où est la bibliothèque ?",
    "I love this movie 😀🎬🍿, but the ending... 😡",
    "東京は日本の首都です。Tokyo is the capital of Japan.",
    "",
    "Numbers 3.14159, e-mail me@example.com, and URLs https://example.org/a?b=c count too.",
    " ".join(f"token{i} is part of a very long document" for i in range(60)),  # > 256
    "Straße, naïve café, Øresund, Ελληνικά, русский текст.",
]
