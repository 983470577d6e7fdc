"""The hip-patch colour tests measure only the pixels still in play; the answer must be the one
every pixel measured against every reference colour gives."""

import numpy as np

from scenewatch.vision.attributes.carried import _nearest, _unlike


def _all_pairs(px: np.ndarray, refs: np.ndarray) -> np.ndarray:
    return np.sqrt(((px[:, None, :] - refs[None, :, :]) ** 2).sum(axis=2)).min(axis=1)


def _lab(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.stack([rng.uniform(0, 100, n), rng.uniform(-60, 60, n), rng.uniform(-60, 60, n)], 1).astype(
        np.float32
    )


def test_nearest_is_the_all_pairs_minimum_exactly() -> None:
    rng = np.random.default_rng(3)
    px, refs = _lab(rng, 500), _lab(rng, 24)
    assert np.array_equal(_nearest(px, refs), _all_pairs(px, refs))
    assert np.isinf(_nearest(px, np.zeros((0, 3), np.float32))).all()


def test_unlike_matches_every_test_on_every_pixel() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        region = _lab(rng, 300)
        keep = rng.random(300) < 0.8
        tests = [
            (_lab(rng, 24), 14.0),
            (_lab(rng, 5), 6.5),
            (np.zeros((0, 3), np.float32), 14.0),
            (_lab(rng, 24), 14.0),
        ]
        want = keep.copy()
        for refs, dist in tests:
            want &= (_all_pairs(region, refs) if len(refs) else np.full(300, np.inf)) > dist
        got = _unlike(region, keep.copy(), tests)
        assert np.array_equal(got, want)
        assert want.any() and not want.all()  # the case exercises both outcomes
