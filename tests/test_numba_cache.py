"""UMAP's numba compilation is cached on disk in a user cache folder, unless the user chose a folder."""

from __future__ import annotations

import os

import pytest

from hjepa_report.analysis.representations.numba_cache import numba_cache_dir, use_numba_cache


def test_unset_numba_cache_dir_points_at_the_user_cache_folder(tmp_path):
    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    folder = use_numba_cache(environ)
    assert folder == environ["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "hjepa-report" / "numba")
    assert os.path.isdir(folder)


def test_without_xdg_the_folder_is_under_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert numba_cache_dir({}) == tmp_path / ".cache" / "hjepa-report" / "numba"


def test_a_user_setting_is_left_alone(tmp_path):
    environ = {"NUMBA_CACHE_DIR": str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert use_numba_cache(environ) == str(tmp_path / "mine")
    assert environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    assert not (tmp_path / "cache").exists()


def test_a_folder_that_cannot_be_created_means_no_cache_silently(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    environ = {"XDG_CACHE_HOME": str(blocker)}
    assert use_numba_cache(environ) is None
    assert "NUMBA_CACHE_DIR" not in environ


def test_umaps_serial_functions_get_the_disk_cache_and_shared_ones_do_not():
    pytest.importorskip("umap")
    from numba.core.caching import NullCache
    from umap import layouts

    from hjepa_report.analysis.representations.numba_cache import cache_umap_functions

    cache_umap_functions()
    assert not isinstance(layouts._nb_optimize_layout_euclidean_single_epoch._cache, NullCache)
    # the parallel twin compiles the same Python function: numba's cache index would mix the two up
    assert isinstance(layouts._nb_optimize_layout_euclidean_single_epoch_parallel._cache, NullCache)
    # a function jitted once is cached, parallel or not (smooth_knn_dist is the costliest to compile)
    from umap import umap_

    assert not isinstance(umap_.smooth_knn_dist._cache, NullCache)
