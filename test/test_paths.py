"""Where the package finds its share folder and the shared data."""

import sys

from cfvgg_ros import paths


def test_share_dir_after_a_plain_pip_install(tmp_path, monkeypatch):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    share = tmp_path / "share" / "cfvgg_ros"
    share.mkdir(parents=True)
    (share / "package.xml").write_text("<package/>")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert paths.share_dir() == share


def test_share_dir_falls_back_to_the_source_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert paths.share_dir() == paths.SOURCE_ROOT
    assert (paths.share_dir() / "config" / "track.yaml").is_file()


def test_shared_root_from_environment(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CFVGG_SHARED", str(tmp_path))
    assert paths.shared_root() == tmp_path.resolve()
    assert paths.shared_data_root() == tmp_path.resolve() / "data"
