"""Audio: spectrogram, log-mel and MFCC features on NumPy, and synthetic keyword clips
(formant-shaped tones, not recorded speech) for keyword spotting."""

from nnlab.audio.features import (
    hz_to_mel,
    mel_to_hz,
    melscale_fbanks,
    melspectrogram,
    mfcc,
    power_to_db,
    spectrogram,
)
from nnlab.audio.keywords import (
    KEYWORD_CLASSES,
    KEYWORDS,
    PHONEMES,
    KeywordClips,
    make_keyword_clips,
    synthesize_word,
)

__all__ = [
    "KEYWORD_CLASSES",
    "KEYWORDS",
    "PHONEMES",
    "KeywordClips",
    "hz_to_mel",
    "make_keyword_clips",
    "mel_to_hz",
    "melscale_fbanks",
    "melspectrogram",
    "mfcc",
    "power_to_db",
    "spectrogram",
    "synthesize_word",
]
