"""Spectrogram, mel filterbank, log-mel and MFCC features of waveforms, on NumPy.

The front end of a speech system: cut the waveform into overlapping windowed frames,
take each frame's power spectrum (a short-time Fourier transform), pool the frequency
bins into bands spaced evenly on the *mel* scale (about linear below 1 kHz and
logarithmic above, like the ear's resolution), and take the logarithm. A decorrelating
DCT of the log-mel bands gives the MFCCs.

Conventions follow ``torchaudio.functional``: ``center=True`` pads ``n_fft // 2`` samples
on both sides by reflection, the window is the periodic Hann window of ``win_length``
(centred in ``n_fft``), the spectrogram has shape ``(..., n_fft // 2 + 1, n_frames)`` and
the filterbank ``(n_freqs, n_mels)`` (``librosa.filters.mel`` returns its transpose).
Both mel scales are available: ``"htk"`` (``2595 log10(1 + f / 700)``, torchaudio's
default) and ``"slaney"`` (linear below 1 kHz, logarithmic above; librosa's default), and
``norm="slaney"`` scales each triangle to unit area, as both libraries do.

These are feature extractors run once on the data: they take and return NumPy arrays and
are not differentiated.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = [
    "hz_to_mel",
    "mel_to_hz",
    "melscale_fbanks",
    "spectrogram",
    "melspectrogram",
    "power_to_db",
    "mfcc",
]

# The Slaney scale: 3 mels per 200 Hz up to 1 kHz (15 mels there), then 27 mels per
# factor of 6.4 in frequency.
_SLANEY_F_SP = 200.0 / 3
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


def _check_scale(where: str, mel_scale: str) -> None:
    if mel_scale not in ("htk", "slaney"):
        raise ValueError(f"{where}: mel_scale must be 'htk' or 'slaney', got {mel_scale!r}")


def hz_to_mel(freq: np.ndarray | float, mel_scale: str = "htk") -> np.ndarray:
    """Frequency in Hz to mels: ``2595 log10(1 + f / 700)`` (HTK), or ``3 f / 200`` below
    1 kHz and ``15 + 27 ln(f / 1000) / ln 6.4`` above (Slaney)."""
    _check_scale("hz_to_mel", mel_scale)
    f = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    log_part = _SLANEY_MIN_LOG_MEL + np.log(np.maximum(f, 1e-10) / _SLANEY_MIN_LOG_HZ) / (
        _SLANEY_LOGSTEP
    )
    return np.where(f >= _SLANEY_MIN_LOG_HZ, log_part, f / _SLANEY_F_SP)


def mel_to_hz(mels: np.ndarray | float, mel_scale: str = "htk") -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    _check_scale("mel_to_hz", mel_scale)
    m = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    log_part = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return np.where(m >= _SLANEY_MIN_LOG_MEL, log_part, _SLANEY_F_SP * m)


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: str | None = None,
    mel_scale: str = "htk",
) -> np.ndarray:
    """Triangular mel filters over the ``n_freqs`` bins of a one-sided spectrum.

    The ``n_mels + 2`` edge frequencies ``f_0 < ... < f_{n_mels+1}`` are equally spaced in
    mels between ``f_min`` and ``f_max``; filter ``m`` rises linearly from 0 at ``f_m`` to 1
    at ``f_{m+1}`` and falls back to 0 at ``f_{m+2}``. With ``norm="slaney"`` filter ``m``
    is multiplied by ``2 / (f_{m+2} - f_m)`` (unit area in Hz).

    Returns:
        float64 array ``(n_freqs, n_mels)``: a power spectrogram ``S`` of shape
        ``(n_freqs, T)`` pools to mel bands as ``fbanks.T @ S``.
    """
    _check_scale("melscale_fbanks", mel_scale)
    if norm not in (None, "slaney"):
        raise ValueError(f"melscale_fbanks: norm must be None or 'slaney', got {norm!r}")
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"melscale_fbanks: need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2},"
            f" got f_min={f_min}, f_max={f_max}"
        )
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = mel_to_hz(m_pts, mel_scale)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":
        fb *= 2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])
    return fb


def spectrogram(
    waveform: np.ndarray,
    n_fft: int = 400,
    hop_length: int | None = None,
    win_length: int | None = None,
    power: float = 2.0,
    center: bool = True,
) -> np.ndarray:
    """``|STFT|**power`` of ``waveform`` (..., time) with a periodic Hann window.

    Frame ``t`` covers samples ``t * hop_length`` to ``t * hop_length + n_fft`` of the
    (reflection-padded, when ``center``) signal; defaults as torchaudio:
    ``win_length = n_fft``, ``hop_length = win_length // 2``.

    Returns:
        float64 array ``(..., n_fft // 2 + 1, n_frames)``, bin ``k`` at frequency
        ``k * sample_rate / n_fft``.
    """
    x = np.asarray(waveform, dtype=np.float64)
    win_length = n_fft if win_length is None else win_length
    hop_length = win_length // 2 if hop_length is None else hop_length
    if not 0 < win_length <= n_fft or hop_length <= 0:
        raise ValueError(
            f"spectrogram: need 0 < win_length <= n_fft and hop_length > 0, got n_fft={n_fft},"
            f" win_length={win_length}, hop_length={hop_length}"
        )
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        x = np.pad(x, pad, mode="reflect")
    if x.shape[-1] < n_fft:
        raise ValueError(f"spectrogram: {x.shape[-1]} samples are fewer than n_fft={n_fft}")
    # periodic Hann (torch.hann_window's default), zero-padded to n_fft in the middle
    window = np.zeros(n_fft)
    left = (n_fft - win_length) // 2
    window[left : left + win_length] = 0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(win_length) / win_length
    )
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop_length, :]
    spec = np.abs(np.fft.rfft(frames * window, axis=-1)) ** power
    return np.swapaxes(spec, -1, -2)


def melspectrogram(
    waveform: np.ndarray,
    sample_rate: int,
    n_fft: int = 400,
    hop_length: int | None = None,
    n_mels: int = 128,
    f_min: float = 0.0,
    f_max: float | None = None,
    norm: str | None = None,
    mel_scale: str = "htk",
) -> np.ndarray:
    """Power spectrogram pooled by :func:`melscale_fbanks`: ``(..., n_mels, n_frames)``."""
    spec = spectrogram(waveform, n_fft=n_fft, hop_length=hop_length)
    fb = melscale_fbanks(
        n_fft // 2 + 1, f_min, sample_rate / 2 if f_max is None else f_max, n_mels,
        sample_rate, norm, mel_scale,
    )  # fmt: skip
    return np.swapaxes(np.swapaxes(spec, -1, -2) @ fb, -1, -2)


def power_to_db(
    power: np.ndarray, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0
) -> np.ndarray:
    """Decibels ``10 log10(max(power, amin) / ref)``, floored at ``top_db`` below the
    maximum over the whole array (librosa's convention) so silence does not dominate."""
    db = 10.0 * np.log10(np.maximum(np.asarray(power, dtype=np.float64), amin) / ref)
    if top_db is not None:
        db = np.maximum(db, db.max() - top_db)
    return db


def mfcc(
    waveform: np.ndarray,
    sample_rate: int,
    n_mfcc: int = 13,
    n_fft: int = 400,
    hop_length: int | None = None,
    n_mels: int = 40,
    mel_scale: str = "htk",
) -> np.ndarray:
    """Mel-frequency cepstral coefficients: the orthonormal DCT-II of the log-mel (dB)
    bands, first ``n_mfcc`` coefficients: ``(..., n_mfcc, n_frames)``.

    Coefficient ``k`` is ``sqrt(2 / M) sum_m db_m cos(pi k (m + 1/2) / M)`` (with
    ``sqrt(1 / M)`` for ``k = 0``) over the ``M = n_mels`` bands of each frame.
    """
    if not 0 < n_mfcc <= n_mels:
        raise ValueError(f"mfcc: need 0 < n_mfcc <= n_mels={n_mels}, got n_mfcc={n_mfcc}")
    mel = melspectrogram(waveform, sample_rate, n_fft, hop_length, n_mels, mel_scale=mel_scale)
    db = power_to_db(mel, top_db=None)
    return scipy.fft.dct(db, type=2, norm="ortho", axis=-2)[..., :n_mfcc, :]
