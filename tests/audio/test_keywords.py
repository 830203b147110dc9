"""Synthetic keyword clips: seeded, labelled, at the SNR asked for, and the anagram
keywords share their sounds but not their order."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.audio import KEYWORD_CLASSES, make_keyword_clips, melspectrogram, synthesize_word


def test_clips_are_seeded_and_shaped():
    a = make_keyword_clips(30, seed=3, snr_db=[0, 10, 20])
    b = make_keyword_clips(30, seed=3, snr_db=[0, 10, 20])
    c = make_keyword_clips(30, seed=4, snr_db=[0, 10, 20])
    np.testing.assert_array_equal(a.waveforms, b.waveforms)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.waveforms, c.waveforms)
    assert a.waveforms.shape == (30, 4000) and a.waveforms.dtype == np.float32
    assert set(a.labels.tolist()) <= set(range(len(KEYWORD_CLASSES)))
    assert set(a.snr_db.tolist()) <= {0.0, 10.0, 20.0}


def test_silence_noise_level_follows_snr():
    clips = make_keyword_clips(400, seed=0, snr_db=[0, 20])
    silent = clips.labels == 0
    rms = np.sqrt(np.mean(clips.waveforms[silent].astype(np.float64) ** 2, axis=1))
    expected = 0.1 * 10 ** (-clips.snr_db[silent] / 20)
    np.testing.assert_allclose(rms, expected, rtol=0.06)


def test_word_rms_duration_and_speed():
    w = synthesize_word("mitu", 8000, seed=0)
    assert np.sqrt(np.mean(w**2)) == pytest.approx(0.1)
    assert len(w) == int(0.07 * 8000) + 2 * int(0.11 * 8000) + int(0.05 * 8000)
    assert len(synthesize_word("mitu", 8000, speed=2.0, seed=0)) == pytest.approx(len(w) / 2, abs=2)


def test_anagrams_share_time_averaged_spectrum_but_not_order():
    def mel(word):
        return melspectrogram(synthesize_word(word, 8000, seed=0), 8000, n_fft=256,
                              hop_length=128, n_mels=24)  # fmt: skip

    a, b = np.log(mel("sako") + 1e-8), np.log(mel("kosa") + 1e-8)
    # the averaged spectra are close, the frame-by-frame ones are not
    mean_gap = np.abs(a.mean(axis=1) - b.mean(axis=1)).mean()
    frame_gap = np.abs(a - b).mean()
    assert mean_gap < 0.3 * frame_gap


def test_vowel_energy_sits_near_its_formants():
    # "i" has F2 near 2290 Hz, "u" none above 900 Hz: compare energy in 2-2.6 kHz
    def band_energy(word):
        w = synthesize_word(word, 8000, f0=120.0, seed=0)
        spec = np.abs(np.fft.rfft(w)) ** 2
        freqs = np.fft.rfftfreq(len(w), 1 / 8000)
        return spec[(freqs > 2000) & (freqs < 2600)].sum() / spec.sum()

    assert band_energy("i") > 10 * band_energy("u")


def test_bad_words_are_named():
    with pytest.raises(ValueError, match="synthesize_word"):
        synthesize_word("xyz")
    with pytest.raises(ValueError, match="longer than duration"):
        make_keyword_clips(50, seed=0, duration=0.2)
