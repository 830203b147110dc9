"""Synthetic spoken "words" for keyword spotting: formant-shaped harmonic tones and noise
bursts, varied in pitch, vocal-tract length, speed and background noise.

**This is not speech.** No recorded speech data set ships offline with nnlab, so this
module builds clips with the *structure* a wake-word detector must cope with, from a
crude source-filter model of the voice:

* a vowel is a harmonic tone (fundamental ``f0``, the speaker's pitch, falling slightly
  over the word) whose harmonics are weighted by two resonances, the formants ``F1`` and
  ``F2`` that tell vowels apart (``a``: 730/1090 Hz, ``i``: 270/2290 Hz, ...);
* a nasal (``m``, ``n``) is a quieter harmonic tone with a low formant;
* a fricative or stop (``s``, ``k``, ``t``) is a burst of band-limited noise.

A word is a sequence of such phonemes. Each clip draws a speaker (``f0`` 90-250 Hz, formants
scaled by 0.88-1.15 for vocal-tract length), a speaking rate (durations scaled by
0.8-1.25), a loudness and an onset, normalises the word to an RMS of 0.1 and adds white
noise at a signal-to-noise ratio ``snr_db`` (noise RMS ``0.1 * 10 ** (-snr_db / 20)``).

:data:`KEYWORDS` are four words made of two anagram pairs (``sako``/``kosa``,
``mitu``/``tumi``): the same sounds in another order, so a detector that averages
features over time cannot tell them apart and one that models time can. Clips of class
``_unknown_`` say a random other two-syllable consonant-vowel word, ``_silence_`` clips
are noise only (the classes of the Speech Commands benchmark). The SNR is nominal: it is
set against the reference RMS 0.1, and each word's loudness then varies by x0.5-1.5
(+-3.5 dB), as speakers' distance to the microphone does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = [
    "KEYWORDS",
    "KEYWORD_CLASSES",
    "PHONEMES",
    "KeywordClips",
    "synthesize_word",
    "make_keyword_clips",
]

#: Phonemes: ``(kind, parameters)``; vowels and nasals are (F1, F2) formants in Hz,
#: noise bursts are (low, high) band edges in Hz.
PHONEMES: dict[str, tuple[str, tuple[float, float]]] = {
    "a": ("vowel", (730.0, 1090.0)),
    "e": ("vowel", (530.0, 1840.0)),
    "i": ("vowel", (270.0, 2290.0)),
    "o": ("vowel", (570.0, 840.0)),
    "u": ("vowel", (300.0, 870.0)),
    "m": ("nasal", (250.0, 1200.0)),
    "n": ("nasal", (250.0, 1700.0)),
    "s": ("noise", (2800.0, 3900.0)),
    "k": ("noise", (1300.0, 2400.0)),
    "t": ("noise", (2200.0, 3600.0)),
}

#: The words to spot; two anagram pairs.
KEYWORDS: tuple[str, ...] = ("sako", "kosa", "mitu", "tumi")
#: Class names by label: silence, unknown word, then the keywords.
KEYWORD_CLASSES: tuple[str, ...] = ("_silence_", "_unknown_", *KEYWORDS)

_DURATION_S = {"vowel": 0.11, "nasal": 0.07, "noise": 0.05}
_CONSONANTS = "mnskt"
_VOWELS = "aeiou"
_SIGNAL_RMS = 0.1


class KeywordClips(NamedTuple):
    """Clips, their labels (indices into ``classes``) and the SNR each was made at."""

    waveforms: np.ndarray  # float32 (N, samples)
    labels: np.ndarray  # int64 (N,)
    classes: tuple[str, ...]
    snr_db: np.ndarray  # float64 (N,)


def _envelope(n: int, sample_rate: int, ramp_s: float = 0.01) -> np.ndarray:
    """1 in the middle, raised-cosine ramps of ``ramp_s`` at both ends (no clicks)."""
    ramp = min(int(ramp_s * sample_rate), n // 2)
    env = np.ones(n)
    if ramp > 0:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp], env[n - ramp :] = rise, rise[::-1]
    return env


def _voiced(n: int, formants: tuple[float, float], f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """Harmonics of the (time-varying) pitch ``f0`` weighted by two formant resonances
    ``1 / (1 + ((h f0 - F) / B)**2)`` of bandwidth ``B`` = 90 Hz."""
    phase = 2 * np.pi * np.cumsum(f0[:n]) / sample_rate
    out = np.zeros(n)
    mean_f0 = float(f0[:n].mean())
    for h in range(1, int(0.5 * sample_rate / mean_f0)):
        gain = sum(1.0 / (1.0 + ((h * mean_f0 - f) / 90.0) ** 2) for f in formants)
        out += gain * np.sin(h * phase)
    return out


def _burst(n: int, band: tuple[float, float], sample_rate: int, rng) -> np.ndarray:
    """White noise kept only between the band edges (by zeroing FFT bins)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0
    return np.fft.irfft(spectrum, n)


def _synthesize(
    word: str, sample_rate: int, f0: float, formant_scale: float, speed: float, rng
) -> np.ndarray:
    """The waveform of ``word`` (see :func:`synthesize_word`), bursts drawn from ``rng``."""
    lengths = [int(_DURATION_S[PHONEMES[p][0]] * sample_rate / speed) for p in word]
    pitch = f0 * np.linspace(1.0, 0.85, sum(lengths))
    pieces, start = [], 0
    for p, n in zip(word, lengths):
        kind, params = PHONEMES[p]
        scaled = (params[0] * formant_scale, params[1] * formant_scale)
        if kind == "noise":
            piece = _burst(n, (scaled[0], min(scaled[1], 0.49 * sample_rate)), sample_rate, rng)
            level = 0.6
        else:
            piece = _voiced(n, scaled, pitch[start:], sample_rate)
            level = 1.0 if kind == "vowel" else 0.4  # nasals are quieter than vowels
        piece *= level / max(np.sqrt(np.mean(piece**2)), 1e-12)
        pieces.append(piece * _envelope(n, sample_rate))
        start += n
    wave = np.concatenate(pieces)
    return wave * (_SIGNAL_RMS / np.sqrt(np.mean(wave**2)))


def synthesize_word(
    word: str,
    sample_rate: int = 8000,
    *,
    f0: float = 140.0,
    formant_scale: float = 1.0,
    speed: float = 1.0,
    seed: int | None = None,
    generator: Generator | None = None,
) -> np.ndarray:
    """The clean waveform of ``word`` (a string of :data:`PHONEMES`), RMS 0.1.

    Phonemes last 110 ms (vowels), 70 ms (nasals) or 50 ms (bursts), divided by ``speed``.

    Args:
        word: phoneme letters, e.g. ``"sako"``.
        sample_rate: samples per second (default: 8000).
        f0: pitch at the start of the word in Hz; it falls linearly by 15 % to the end.
        formant_scale: multiplies every formant and noise band (a shorter vocal tract
            has higher formants).
        speed: divides every phoneme's duration.
        seed, generator: where the noise bursts are drawn from.

    Example:
        >>> w = synthesize_word("sako", seed=0)
        >>> w.shape, round(float(np.sqrt(np.mean(w**2))), 3)
        ((2560,), 0.1)
    """
    unknown = sorted(set(word) - set(PHONEMES))
    if unknown or not word:
        raise ValueError(f"synthesize_word: {word!r} has letters {unknown} not in {list(PHONEMES)}")
    if f0 <= 0 or formant_scale <= 0 or speed <= 0:
        raise ValueError(
            f"synthesize_word: f0, formant_scale and speed must be positive, got f0={f0}, "
            f"formant_scale={formant_scale}, speed={speed}"
        )
    rng = _seeded_rng("synthesize_word", seed, generator)
    return _synthesize(word, sample_rate, f0, formant_scale, speed, rng)


def _unknown_word(rng: np.random.Generator) -> str:
    """A random two-syllable consonant-vowel word that is not a keyword (near misses such
    as ``saku`` included)."""
    while True:
        word = "".join(_CONSONANTS[rng.integers(5)] + _VOWELS[rng.integers(5)] for _ in range(2))
        if word not in KEYWORDS:
            return word


def make_keyword_clips(
    n: int,
    seed: int | None = None,
    *,
    snr_db: float | Sequence[float] = 20.0,
    duration: float = 0.5,
    sample_rate: int = 8000,
    generator: Generator | None = None,
) -> KeywordClips:
    """``n`` clips of a uniform class of :data:`KEYWORD_CLASSES`, each a random speaker
    (``f0`` 90-250 Hz, formants x0.88-1.15), rate (x0.8-1.25), loudness (x0.5-1.5 of RMS
    0.1) and onset, in white noise.

    Args:
        n: number of clips.
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator).
        snr_db: the signal-to-noise ratio in dB, or a sequence to draw each clip's from
            uniformly. Silence clips get the noise a word at that SNR would have.
        duration: clip length in seconds (default: 0.5; words last 0.25-0.5 s).
        sample_rate: samples per second (default: 8000).

    Example:
        >>> clips = make_keyword_clips(4, seed=0, snr_db=[0, 20])
        >>> clips.waveforms.shape, clips.waveforms.dtype, clips.classes[2]
        ((4, 4000), dtype('float32'), 'sako')
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_keyword_clips: n must be a non-negative int, got {n!r}")
    rng = _seeded_rng("make_keyword_clips", seed, generator)
    length = int(duration * sample_rate)
    levels = np.atleast_1d(np.asarray(snr_db, dtype=np.float64))
    labels = rng.integers(0, len(KEYWORD_CLASSES), size=n)
    snrs = levels[rng.integers(0, len(levels), size=n)]
    waves = np.zeros((n, length))
    for i, label in enumerate(labels.tolist()):
        if label > 0:
            word = _unknown_word(rng) if label == 1 else KEYWORD_CLASSES[label]
            f0, scale, speed = rng.uniform(90, 250), rng.uniform(0.88, 1.15), rng.uniform(0.8, 1.25)
            speech = _synthesize(word, sample_rate, f0, scale, speed, rng)
            if len(speech) > length:
                raise ValueError(
                    f"make_keyword_clips: the word {word!r} lasts {len(speech) / sample_rate:.2f}"
                    f" s, longer than duration={duration}"
                )
            onset = int(rng.integers(0, length - len(speech) + 1))
            waves[i, onset : onset + len(speech)] = speech * rng.uniform(0.5, 1.5)
        noise_rms = _SIGNAL_RMS * 10.0 ** (-snrs[i] / 20.0)
        waves[i] += noise_rms * rng.standard_normal(length)
    return KeywordClips(waves.astype(np.float32), labels.astype(np.int64), KEYWORD_CLASSES, snrs)
