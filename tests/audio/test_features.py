"""Audio features: the STFT against torch.stft, the mel scales against their formulas and
known points, the filterbank against a direct per-filter construction, tone peaks, MFCC as
the orthonormal DCT of log-mel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnlab.audio import (
    hz_to_mel,
    mel_to_hz,
    melscale_fbanks,
    melspectrogram,
    mfcc,
    power_to_db,
    spectrogram,
)


@pytest.mark.parametrize("mel_scale", ["htk", "slaney"])
def test_mel_scale_round_trip_and_known_points(mel_scale):
    f = np.array([0.0, 100.0, 999.0, 1000.0, 2500.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f, mel_scale), mel_scale), f, atol=1e-9)
    assert np.all(np.diff(hz_to_mel(f, mel_scale)) > 0)


def test_mel_scale_values():
    # HTK: 1000 Hz is ~1000 mel by design; Slaney: 15 mel at 1 kHz, 27 more per x6.4
    assert hz_to_mel(1000.0, "htk") == pytest.approx(2595 * np.log10(1 + 1000 / 700))
    assert hz_to_mel(1000.0, "slaney") == pytest.approx(15.0)
    assert hz_to_mel(6400.0, "slaney") == pytest.approx(42.0)
    assert hz_to_mel(500.0, "slaney") == pytest.approx(7.5)


def _direct_fbanks(n_freqs, f_min, f_max, n_mels, sr, norm, mel_scale):
    """One triangle at a time, from its three edge frequencies."""
    freqs = np.linspace(0, sr // 2, n_freqs)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2),
        mel_scale,
    )
    fb = np.zeros((n_freqs, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m : m + 3]
        for k, f in enumerate(freqs):
            if lo < f <= mid:
                fb[k, m] = (f - lo) / (mid - lo)
            elif mid < f < hi:
                fb[k, m] = (hi - f) / (hi - mid)
        if norm == "slaney":
            fb[:, m] *= 2 / (hi - lo)
    return fb


@pytest.mark.parametrize("mel_scale", ["htk", "slaney"])
@pytest.mark.parametrize("norm", [None, "slaney"])
def test_fbanks_match_direct_triangles(mel_scale, norm):
    fb = melscale_fbanks(129, 20.0, 4000.0, 24, 8000, norm, mel_scale)
    assert fb.shape == (129, 24)
    np.testing.assert_allclose(fb, _direct_fbanks(129, 20.0, 4000.0, 24, 8000, norm, mel_scale),
                               atol=1e-12)  # fmt: skip
    assert np.all(fb >= 0) and np.all(fb.max(axis=0) > 0)  # every filter covers some bin


def test_fbanks_unnormalised_peak_one_and_partition_of_unity():
    # a fine frequency grid: each triangle peaks near 1, and between the first and last
    # centres adjacent triangles sum to exactly 1
    fb = melscale_fbanks(4001, 0.0, 4000.0, 10, 8000)
    assert np.all(fb.max(axis=0) > 0.99)
    edges = mel_to_hz(np.linspace(0, hz_to_mel(4000.0), 12))
    freqs = np.linspace(0, 4000, 4001)
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(fb[inside].sum(axis=1), 1.0, atol=1e-12)


def test_slaney_norm_gives_unit_area():
    fb = melscale_fbanks(40001, 0.0, 4000.0, 16, 8000, norm="slaney")
    area = fb.sum(axis=0) * (4000 / 40000)  # Riemann sum with 0.1 Hz bins
    np.testing.assert_allclose(area, 1.0, rtol=1e-3)


@pytest.mark.parametrize("win_length", [256, 200])
def test_spectrogram_matches_torch_stft(win_length):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1000))
    ours = spectrogram(x, n_fft=256, hop_length=64, win_length=win_length)
    ref = torch.stft(torch.from_numpy(x), 256, hop_length=64, win_length=win_length,
                     window=torch.hann_window(win_length, dtype=torch.float64), center=True,
                     pad_mode="reflect", return_complex=True).abs() ** 2  # fmt: skip
    assert ours.shape == tuple(ref.shape) == (2, 129, 1 + 1000 // 64)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-10, atol=1e-10)


def test_pure_tone_peaks_at_its_bin():
    sr, n_fft = 8000, 256
    for k in (10, 37, 90):
        f = k * sr / n_fft
        tone = np.sin(2 * np.pi * f * np.arange(4000) / sr)
        spec = spectrogram(tone, n_fft=n_fft, hop_length=128)
        assert np.all(spec[:, 2:-2].argmax(axis=0) == k)


def test_melspectrogram_is_fbank_pooling_and_tone_lands_in_its_band():
    sr = 8000
    tone = np.sin(2 * np.pi * 1500.0 * np.arange(4000) / sr)
    mel = melspectrogram(tone, sr, n_fft=256, hop_length=128, n_mels=20)
    fb = melscale_fbanks(129, 0.0, 4000.0, 20, sr)
    np.testing.assert_allclose(mel, fb.T @ spectrogram(tone, n_fft=256, hop_length=128))
    assert mel[:, 5].argmax() == fb[round(1500 * 256 / sr)].argmax()


def test_power_to_db_and_mfcc_are_dct_of_log_mel():
    np.testing.assert_allclose(power_to_db(np.array([1.0, 10.0, 1e-12]), top_db=None),
                               [0.0, 10.0, -100.0])  # fmt: skip
    assert power_to_db(np.array([1.0, 1e-12]), top_db=80.0)[1] == pytest.approx(-80.0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2000)
    db = power_to_db(melspectrogram(x, 8000, n_fft=256, hop_length=128, n_mels=26), top_db=None)
    m = np.arange(26)
    basis = np.cos(np.pi * np.arange(13)[:, None] * (m + 0.5) / 26) * np.sqrt(2 / 26)
    basis[0] /= np.sqrt(2)
    np.testing.assert_allclose(mfcc(x, 8000, 13, n_fft=256, hop_length=128, n_mels=26),
                               basis @ db, atol=1e-9)  # fmt: skip


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="mel_scale"):
        hz_to_mel(100.0, "bark")
    with pytest.raises(ValueError, match="f_max"):
        melscale_fbanks(129, 0.0, 5000.0, 20, 8000)
    with pytest.raises(ValueError, match="n_fft"):
        spectrogram(np.zeros(100), n_fft=256, center=False)
    with pytest.raises(ValueError, match="n_mfcc"):
        mfcc(np.zeros(1000), 8000, n_mfcc=30, n_mels=20)
