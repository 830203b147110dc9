"""Contract tests for nnlab.data.transforms: determinism, shapes and dtypes, exactness of the
geometric transforms (against np.flip, np.rot90 and scipy.ndimage), mask/image alignment,
MixUp statistics, and augmentation through TransformDataset and the DataLoader."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import nnlab
import nnlab.nn.functional as F
from nnlab.data import DataLoader, Subset, TensorDataset
from nnlab.data.transforms import (
    ColorJitter,
    Compose,
    GaussianNoise,
    MixUp,
    Normalize,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomScale,
    RandomTranslation,
    RandomVerticalFlip,
    Transform,
    TransformDataset,
)


def images(n: int = 6, c: int = 3, h: int = 10, w: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def blobs(n: int = 6, size: int = 16, seed: int = 0) -> np.ndarray:
    """Images of a few bright rectangles on a dark ground, so thresholding gives a mask."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.3, size=(n, 1, size, size)).astype(np.float32)
    for i in range(n):
        for _ in range(3):
            t, l = rng.integers(0, size - 4, size=2)
            x[i, 0, t : t + rng.integers(2, 6), l : l + rng.integers(2, 6)] = rng.uniform(0.7, 1)
    return x


def g(seed: int) -> nnlab.Generator:
    return nnlab.Generator(seed)


# -- the registry: every transform with the properties it promises ---------------------------

# name -> (factory, geometric, keeps values in [0, 1], random)
REGISTRY = {
    "hflip": (lambda: RandomHorizontalFlip(), True, True, True),
    "vflip": (lambda: RandomVerticalFlip(0.7), True, True, True),
    "rotation": (lambda: RandomRotation(30, fill=0.0), True, True, True),
    "rotation_nearest": (lambda: RandomRotation((-90, 90), order=0), True, True, True),
    "translation": (lambda: RandomTranslation(3), True, True, True),
    "translation_fraction": (lambda: RandomTranslation((0.2, 0.1), fill=1.0), True, True, True),
    "scale": (lambda: RandomScale((0.7, 1.3)), True, True, True),
    "crop": (lambda: RandomCrop(8, padding=2), True, True, True),
    "crop_reflect": (lambda: RandomCrop((10, 12), 3, padding_mode="reflect"), True, True, True),
    "resized_crop": (lambda: RandomResizedCrop(8, scale=(0.3, 1.0)), True, True, True),
    "noise": (lambda: GaussianNoise(0.1), False, False, True),
    "noise_clipped": (lambda: GaussianNoise(0.1, clip=(0, 1)), False, True, True),
    "erasing": (lambda: RandomErasing(p=0.9), False, True, True),
    "erasing_random": (lambda: RandomErasing(p=1.0, value="random"), False, False, True),
    "jitter": (lambda: ColorJitter(brightness=0.4, contrast=0.4), False, True, True),
    "normalize": (lambda: Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4]), False, False, False),
    "compose": (
        lambda: Compose([RandomHorizontalFlip(), RandomCrop(10, padding=1), GaussianNoise(0.05)]),
        True,
        False,
        True,
    ),
}

NAMES = sorted(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_and_different_seeds_differ(name):
    make, _, _, random = REGISTRY[name]
    x = images()
    a = make()(x, generator=g(1))
    b = make()(x, generator=g(1))
    np.testing.assert_array_equal(a, b)
    if random:
        assert not np.array_equal(a, make()(x, generator=g(2)))


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_type_and_input_untouched(name):
    make, geometric, _, _ = REGISTRY[name]
    for dtype in (np.float32, np.float64):
        x = images().astype(dtype)
        before = x.copy()
        out = make()(x, generator=g(0))
        assert isinstance(out, np.ndarray) and out.dtype == dtype
        assert out.shape[:2] == x.shape[:2]
        np.testing.assert_array_equal(x, before)
    # a Tensor comes back a Tensor, without gradients
    t = nnlab.from_numpy(images())
    out_t = make()(t, generator=g(3))
    assert isinstance(out_t, nnlab.Tensor) and not out_t.requires_grad
    np.testing.assert_array_equal(out_t.numpy(), make()(images(), generator=g(3)))


@pytest.mark.parametrize("name", NAMES)
def test_single_image(name):
    make, _, _, _ = REGISTRY[name]
    x = images(n=1)
    out = make()(x[0], generator=g(4))
    assert out.ndim == 3 and out.shape[0] == 3
    np.testing.assert_array_equal(out, make()(x, generator=g(4))[0])


@pytest.mark.parametrize("name", [n for n in NAMES if REGISTRY[n][2]])
def test_value_range_is_kept(name):
    make, _, _, _ = REGISTRY[name]
    out = make()(images(n=16), generator=g(5))
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_targets_follow_by_rank(name):
    make, geometric, _, _ = REGISTRY[name]
    x, labels = images(), np.arange(6)
    mask = (x[:, 0] > 0.5).astype(np.int64)
    out, out_labels = make()(x, labels, generator=g(6))
    assert out_labels is labels  # class labels never change
    np.testing.assert_array_equal(out, make()(x, generator=g(6)))
    out, out_mask = make()(x, mask, generator=g(6))
    assert out_mask.dtype == np.int64 and out_mask.shape == (6,) + out.shape[-2:]
    if not geometric:
        assert out_mask is mask
    assert set(np.unique(out_mask)) <= {0, 1}


# -- flips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls, axis", [(RandomHorizontalFlip, -1), (RandomVerticalFlip, -2)])
def test_flips_are_exact_and_p_bounds(cls, axis):
    x = images(n=40)
    np.testing.assert_array_equal(cls(p=0.0)(x, generator=g(0)), x)
    np.testing.assert_array_equal(cls(p=1.0)(x, generator=g(0)), np.flip(x, axis))
    out = cls(p=0.5)(x, generator=g(0))
    flipped = [np.array_equal(o, np.flip(s, axis)) for o, s in zip(out, x)]
    kept = [np.array_equal(o, s) for o, s in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 5 < sum(flipped) < 35


# -- resampling: rotation, translation, scale ----------------------------------------------


def test_rotation_by_90_is_rot90():
    x = images(n=3, h=11, w=11)
    out = RandomRotation((90, 90))(x)
    np.testing.assert_allclose(
        out[..., 1:-1, 1:-1], np.rot90(x, 1, axes=(2, 3))[..., 1:-1, 1:-1], atol=1e-6
    )
    out = RandomRotation((-90, -90), order=0)(x)
    np.testing.assert_array_equal(out, np.rot90(x, -1, axes=(2, 3)))


def per_channel(x: np.ndarray, fn, *args, **kw) -> np.ndarray:
    """scipy.ndimage's ``fn`` on every (H, W) channel; 'grid-constant' pads with cval and
    interpolates across the edge, as nnlab's sampler."""
    return np.array([[fn(ch, *args, mode="grid-constant", **kw) for ch in im] for im in x])


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("angle", [17.0, -63.5, 141.0])
def test_rotation_matches_scipy(order, angle):
    x = images(n=2, h=9, w=13).astype(np.float64)
    out = RandomRotation((angle, angle), fill=0.25, order=order)(x)
    ref = per_channel(x, ndi.rotate, angle, reshape=False, order=order, cval=0.25)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_scale_matches_scipy_affine_transform():
    x = images(n=2, h=9, w=10).astype(np.float64)
    s = 1.6
    out = RandomScale((s, s), fill=0.1)(x)
    m = np.eye(2) / s
    c = (np.array([9, 10]) - 1) / 2
    ref = per_channel(x, ndi.affine_transform, m, offset=c - m @ c, order=1, cval=0.1)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_translation_shifts_whole_pixels():
    x = images(n=30, h=8, w=8)
    out = RandomTranslation(2, fill=-1.0)(x, generator=g(0))
    for o, s in zip(out, x):
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = np.full_like(s, -1.0)
                ys, yd = slice(max(0, -dy), 8 - max(0, dy)), slice(max(0, dy), 8 - max(0, -dy))
                xs, xd = slice(max(0, -dx), 8 - max(0, dx)), slice(max(0, dx), 8 - max(0, -dx))
                shifted[:, yd, xd] = s[:, ys, xs]
                found |= np.array_equal(o, shifted)
        assert found


def test_integer_images_interpolate_with_rounding():
    x = (images() * 255).astype(np.uint8)
    out = RandomRotation(20)(x, generator=g(0))
    assert out.dtype == np.uint8
    ref = RandomRotation(20)(x.astype(np.float64), generator=g(0))
    assert np.abs(out.astype(np.float64) - ref).max() <= 0.5 + 1e-9


# -- crops ------------------------------------------------------------------------------------


def test_random_crop_is_a_window_of_the_padded_image():
    x = images(n=10, h=6, w=7)
    for mode in ("constant", "edge", "reflect", "symmetric"):
        out = RandomCrop((5, 4), padding=(1, 2), padding_mode=mode, fill=0.5)(x, generator=g(1))
        kw = {"constant_values": 0.5} if mode == "constant" else {}
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=mode, **kw)
        for o, p in zip(out, padded):
            windows = np.lib.stride_tricks.sliding_window_view(p, (5, 4), axis=(1, 2))
            assert (windows == o[:, None, None]).all(axis=(0, 3, 4)).any()


def test_random_resized_crop_keeps_whole_image_when_scale_is_one():
    x = images(n=4, h=8, w=8)
    out = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x, generator=g(0))
    np.testing.assert_allclose(out, x, atol=1e-6)
    small = RandomResizedCrop((4, 5))(x, generator=g(0))
    assert small.shape == (4, 3, 4, 5)


# -- masks stay aligned with their images ------------------------------------------------------

ALIGNED = {
    "hflip": RandomHorizontalFlip(),
    "vflip": RandomVerticalFlip(),
    "rotation": RandomRotation(180, order=0),
    "translation": RandomTranslation(4),
    "scale": RandomScale((0.6, 1.6), order=0),
    "crop": RandomCrop(12, padding=3),
    "crop_edge": RandomCrop(14, padding=2, padding_mode="edge"),
    "resized_crop": RandomResizedCrop(10, scale=(0.2, 1.0), order=0),
    "compose": Compose(
        [RandomHorizontalFlip(), RandomRotation(45, order=0), RandomCrop(14, padding=1)]
    ),
}


@pytest.mark.parametrize("name", sorted(ALIGNED))
def test_mask_from_threshold_stays_aligned(name):
    x = blobs(n=8)
    mask = (x[:, 0] > 0.5).astype(np.int64)
    out, out_mask = ALIGNED[name](x, mask, generator=g(7))
    np.testing.assert_array_equal(out_mask, (out[:, 0] > 0.5).astype(np.int64))
    # a single image with a (K, H, W) mask follows the same rule
    out1, mask1 = ALIGNED[name](x[0], mask[0][None], generator=g(7))
    assert mask1.shape == (1,) + out1.shape[-2:]
    np.testing.assert_array_equal(mask1[0], (out1[0] > 0.5).astype(np.int64))


def test_bilinear_images_keep_masks_nearest_and_mask_fill():
    x = blobs(n=4)
    mask = (x[:, 0] > 0.5).astype(np.int64) * 3
    _, out_mask = RandomRotation(45, mask_fill=-100)(x, mask, generator=g(0))
    assert set(np.unique(out_mask)) <= {0, 3, -100}
    assert (out_mask == -100).any()  # corners came from outside


def test_mask_shape_mismatch_raises():
    with pytest.raises(ValueError, match="mask"):
        RandomHorizontalFlip()(images(), np.zeros((6, 3, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        RandomHorizontalFlip()(np.zeros((4, 4)))


# -- photometric transforms ---------------------------------------------------------------------


def test_gaussian_noise_statistics():
    x = np.full((20, 1, 16, 16), 0.5)
    noise = GaussianNoise(0.1)(x, generator=g(0)) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.1) < 0.005


def test_random_erasing_areas_and_p():
    x = np.ones((200, 1, 20, 20))
    np.testing.assert_array_equal(RandomErasing(p=0.0)(x, generator=g(0)), x)
    out = RandomErasing(p=1.0, scale=(0.1, 0.2), value=0.0)(x, generator=g(0))
    erased = (out == 0).mean(axis=(1, 2, 3))
    assert (erased > 0.05).all() and (erased < 0.25).all()


def test_color_jitter_formulas():
    x = images(n=8) * 0.5  # room to brighten without clipping
    np.testing.assert_array_equal(ColorJitter()(x, generator=g(0)), x)
    out = ColorJitter(brightness=(1.5, 1.5), clip=None)(x)
    np.testing.assert_allclose(out, 1.5 * x, rtol=1e-6)
    out = ColorJitter(contrast=(0.5, 0.5), clip=None)(x)
    grey = np.einsum("nchw,c->n", x.astype(np.float64), [0.299, 0.587, 0.114]) / (10 * 12)
    np.testing.assert_allclose(out, 0.5 * x + 0.5 * grey[:, None, None, None], rtol=1e-5)


def test_normalize_per_channel():
    x = images()
    out = Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4])(x)
    ref = (x - np.array([0.5, 0.4, 0.3])[:, None, None]) / np.array([0.2, 0.3, 0.4])[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        Normalize([0.5, 0.5], [1.0, 1.0])(x)


def test_photometric_transforms_need_floats():
    with pytest.raises(TypeError, match="floating point"):
        GaussianNoise(0.1)((images() * 255).astype(np.uint8))


# -- MixUp ---------------------------------------------------------------------------------------


def test_mixup_soft_targets_and_lambda_statistics():
    n, alpha = 20000, 0.4
    x = np.zeros((n, 1, 1, 1))
    y = np.arange(n) % 2
    _, soft = MixUp(alpha, num_classes=2)(x, y, generator=g(0))
    np.testing.assert_allclose(soft.sum(axis=1), 1.0)
    # where the partner has the other class, the own class's share is λ (independent of
    # which partner was drawn, so these rows are a fair sample of λ)
    lam = soft[np.arange(n), y]
    lam = lam[(lam > 0) & (lam < 1)]
    assert 0.4 * n < len(lam) < 0.6 * n
    assert abs(lam.mean() - 0.5) < 0.015
    assert abs(lam.var() - 1 / (4 * (2 * alpha + 1))) < 0.005  # Var Beta(α, α)
    assert abs(np.mean(lam < 0.1) - np.mean(lam > 0.9)) < 0.02  # symmetric about 1/2


def test_mixup_mixes_images_and_labels_with_the_same_partner():
    n = 50
    x = np.random.default_rng(0).random((n, 2, 3, 3))
    mixed, soft = MixUp(1.0, num_classes=n)(x, np.arange(n), generator=g(0))
    for i in range(n):  # label i is class i: its share is λᵢ, the other non-zero its partner
        others = np.flatnonzero(soft[i] * (np.arange(n) != i))
        j, lam = (others[0], soft[i, i]) if len(others) else (i, 1.0)
        np.testing.assert_allclose(mixed[i], lam * x[i] + (1 - lam) * x[j], rtol=1e-12)


def test_mixup_targets_work_with_cross_entropy_and_masks():
    x = images(n=8).astype(np.float32)
    mixed, soft = MixUp(1.0, num_classes=5)(x, np.arange(8) % 5, generator=g(1))
    assert soft.dtype == np.float32
    logits = nnlab.randn(8, 5, requires_grad=True)
    loss = F.cross_entropy(logits, nnlab.from_numpy(soft))
    loss.backward()
    assert np.isfinite(loss.item()) and logits.grad.shape == (8, 5)
    masks = (x[:, 0] > 0.5).astype(np.int64)
    _, soft_masks = MixUp(1.0, num_classes=2)(x, masks, generator=g(1))
    assert soft_masks.shape == (8, 2, 10, 12)
    np.testing.assert_allclose(soft_masks.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        MixUp(0.2)(x, np.arange(8))
    with pytest.raises(ValueError, match="labels"):
        Compose([MixUp(0.2, 3)])(x)


def test_compose_threads_one_generator():
    x, mask = blobs(), (blobs()[:, 0] > 0.5).astype(np.int64)
    steps = [RandomHorizontalFlip(), RandomRotation(30), GaussianNoise(0.1)]
    out, out_mask = Compose(steps)(x, mask, generator=g(3))
    gen = g(3)
    ref, ref_mask = x, mask
    for t in steps:
        ref, ref_mask = t(ref, ref_mask, generator=gen)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out_mask, ref_mask)
    assert "RandomRotation" in repr(Compose(steps))


def test_custom_transform_subclass():
    class Invert(Transform):
        def apply(self, images, masks, rng):
            return 1 - images, masks

    x = images()
    np.testing.assert_allclose(Invert()(x), 1 - x)


def test_global_generator_makes_augmentation_reproducible():
    x = images()
    nnlab.manual_seed(11)
    a = RandomRotation(30)(x)
    nnlab.manual_seed(11)
    np.testing.assert_array_equal(a, RandomRotation(30)(x))


# -- TransformDataset and the DataLoader ----------------------------------------------------------


def _epoch(loader) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(xb.numpy().copy(), yb.numpy().copy()) for xb, yb in loader]


def _seg_data(n: int = 20):
    x = blobs(n=n)
    return x, (x[:, 0] > 0.5).astype(np.int64)


def test_loader_fast_path_and_training_only():
    x, m = _seg_data()
    base = TensorDataset(x, m)
    augment = Compose([RandomHorizontalFlip(), RandomRotation(20, order=0)])
    train = TransformDataset(base, augment, generator=g(0))
    assert callable(train.get_batch)  # the loader fetches and augments whole batches
    calls = []
    train.transform = lambda *a, **k: calls.append(1) or augment(*a, **k)
    loader = DataLoader(train, batch_size=8, shuffle=True, generator=g(0))
    batches = _epoch(loader)
    assert len(calls) == len(loader) == 3  # once per batch, not per sample
    for xb, mb in batches:
        np.testing.assert_array_equal(mb, (xb[:, 0] > 0.5).astype(np.int64))
    # the validation loader reads the plain data
    val = _epoch(DataLoader(base, batch_size=8))
    np.testing.assert_array_equal(np.concatenate([v[0] for v in val]), x)
    # eval() switches augmentation off, train() back on
    train.transform = augment
    plain = _epoch(DataLoader(train.eval(), batch_size=20))[0][0]
    np.testing.assert_array_equal(plain, x)
    assert not np.array_equal(_epoch(DataLoader(train.train(), batch_size=20))[0][0], x)


def test_loader_augmentation_is_reproducible_and_seed_dependent():
    x, m = _seg_data()

    def run(seed: int):
        gen = g(seed)
        ds = TransformDataset(TensorDataset(x, m), RandomRotation(30), generator=gen)
        loader = DataLoader(ds, batch_size=6, shuffle=True, generator=gen)
        return _epoch(loader) + _epoch(loader)

    a, b, c = run(0), run(0), run(1)
    for (xa, ma), (xb, mb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ma, mb)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[4][0])  # two epochs augment differently


@pytest.mark.parametrize("shared", ["own", "global"])
def test_loader_state_dict_resumes_augmentation(shared):
    x, m = _seg_data()
    gen = g(5) if shared == "own" else None
    nnlab.manual_seed(5)
    ds = TransformDataset(TensorDataset(x, m), RandomRotation(30), generator=gen)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=gen)
    _epoch(loader)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    rest = [(xb.numpy().copy(), yb.numpy().copy()) for xb, yb in it]
    nnlab.manual_seed(123)  # whatever happened meanwhile
    loader.load_state_dict(state)
    resumed = _epoch(loader)
    assert len(resumed) == len(rest) == 3
    for (xa, _), (xb, _) in zip(rest, resumed):
        np.testing.assert_array_equal(xa, xb)


def test_transform_dataset_per_sample_path_subset_and_unpaired():
    x, m = _seg_data()
    ds = TransformDataset(Subset(TensorDataset(x, m), [3, 1, 4]), RandomHorizontalFlip(1.0))
    xb, mb = ds.get_batch(np.array([0, 2]))
    np.testing.assert_array_equal(xb.numpy(), x[[3, 4], ..., ::-1])
    np.testing.assert_array_equal(mb.numpy(), m[[3, 4], :, ::-1])
    xi, mi = ds[1]  # one sample: (C, H, W) image and (H, W) mask
    np.testing.assert_array_equal(xi.numpy(), x[1, ..., ::-1])
    np.testing.assert_array_equal(mi.numpy(), m[1, :, ::-1])
    unpaired = TransformDataset(
        TensorDataset(x, m),
        RandomHorizontalFlip(1.0),
        target_transform=lambda t: t * 2,
        paired=False,
    )
    xi, mi = unpaired[0]
    np.testing.assert_array_equal(mi.numpy(), 2 * m[0])  # untouched geometry, then mapped

    class Plain(nnlab.data.Dataset):  # no get_batch: the loader collates samples
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return nnlab.from_numpy(x[i]), nnlab.from_numpy(m[i])

    slow = TransformDataset(Plain(), RandomVerticalFlip(1.0))
    assert not hasattr(slow, "get_batch")
    xb, mb = next(iter(DataLoader(slow, batch_size=5)))
    np.testing.assert_array_equal(xb.numpy(), x[:5, :, ::-1])
    np.testing.assert_array_equal(mb.numpy(), m[:5, ::-1])


def test_mixup_through_the_loader():
    x = images(n=12)
    y = np.arange(12) % 3
    ds = TransformDataset(TensorDataset(x, y), Compose([RandomHorizontalFlip(), MixUp(0.2, 3)]))
    xb, yb = next(iter(DataLoader(ds, batch_size=6, shuffle=True, generator=g(0))))
    assert xb.shape == (6, 3, 10, 12) and yb.shape == (6, 3)
    np.testing.assert_allclose(yb.numpy().sum(axis=1), 1.0, rtol=1e-6)
