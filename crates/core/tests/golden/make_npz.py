"""The numpy-written .npz archives that crates/core/src/data/npy.rs reads in
its tests: one stored (np.savez), one deflate-compressed (np.savez_compressed).
Regenerate with numpy installed: python crates/core/tests/golden/make_npz.py
(stored files were written with numpy 2.4.6)."""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
arrays = dict(
    observations=np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
    rewards=np.array([0.5, -1.25], dtype=np.float64),
    terminals=np.array([False, True]),
    actions=np.array([[1], [-2]], dtype=np.int64),
)
np.savez(os.path.join(here, "numpy-savez.npz"), **arrays)
np.savez_compressed(os.path.join(here, "numpy-savez-compressed.npz"), **arrays)

# Digits f32 cannot hold: a float64 score and int64 ids above 2**24.
np.savez(
    os.path.join(here, "numpy-savez-f64.npz"),
    score=np.array([0.1 + 0.2, 1.0 / 3.0], dtype=np.float64),
    id=np.array([2**24 + 1, 2**40 + 3], dtype=np.int64),
)
