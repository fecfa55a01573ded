"""Rows of a .npy file read by offset (`qabot.index.vector_rows`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qabot.index.vector_rows import RowFile


@pytest.mark.parametrize("mapped", [True, False])
def test_take_returns_the_rows_asked_for_in_that_order(tmp_path: Path, mapped: bool):
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "rows.npy", rows)
    table = RowFile(tmp_path / "rows.npy", map_max_bytes=10**6 if mapped else 0)
    assert table.mapped == mapped
    assert table.shape == (10, 4) and len(table) == 10
    wanted = np.array([3, 4, 5, 0, 9, 8, 8])  # runs, a jump back, a repeat
    assert np.array_equal(table.take(wanted), rows[wanted])
    assert table.take(np.array([], dtype=np.int64)).shape == (0, 4)
    with pytest.raises(IndexError, match=r"outside 0\.\.9"):
        table.take(np.array([2, 10]))


def test_files_that_are_not_a_whole_2d_array_are_refused(tmp_path: Path):
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="not a C-order 2-D array"):
        RowFile(tmp_path / "cube.npy")
    np.save(tmp_path / "rows.npy", np.ones((100, 8), dtype=np.float32))
    data = (tmp_path / "rows.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 64])
    with pytest.raises(ValueError, match="shorter than"):
        RowFile(tmp_path / "cut.npy")
