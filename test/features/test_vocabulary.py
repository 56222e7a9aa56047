"""One feature vocabulary for every tracker: parsing, and each tracker's config speaking it."""

import pytest

from cfvgg_ros.features.vocabulary import FEATURE_NAMES, Feature, parse_feature
from cfvgg_ros.trackers.eco.config import FeatureConfig
from cfvgg_ros.trackers.kcf import KCFConfig
from cfvgg_ros.trackers.strcf import FEATURE_CELLS, STRCFConfig


def test_names_parse_into_kind_and_level():
    assert FEATURE_NAMES == ("hog", "colour", "grey", "cnn:low", "cnn:mid", "cnn:high")
    assert parse_feature("hog") == Feature("hog", "hog", "")
    assert parse_feature("cnn:mid") == Feature("cnn:mid", "cnn", "mid")
    assert parse_feature("cnn:high").is_cnn and not parse_feature("grey").is_cnn


@pytest.mark.parametrize("bad", ["fhog", "gray", "cnn_low", "cnn:", "cnn:top", "CNN:low", "", None, 3])
def test_unknown_names_are_rejected_with_the_list(bad):
    with pytest.raises(ValueError, match="hog, colour, grey, cnn:low, cnn:mid, cnn:high"):
        parse_feature(bad)


def test_every_tracker_config_takes_the_same_names():
    eco = FeatureConfig("cnn:low", compressed_dim=3)
    assert (eco.kind, eco.layer, eco.name) == ("cnn", "low", "cnn:low")
    assert FeatureConfig("hog", compressed_dim=10).kind == "hog"
    assert KCFConfig(feature="cnn:high").level == "high" and not KCFConfig(feature="hog").is_cnn
    assert set(FEATURE_CELLS) == set(FEATURE_NAMES)
    assert STRCFConfig(features=("grey", "cnn:mid")).features == ("grey", "cnn:mid")
    for make in (lambda: FeatureConfig("gray", compressed_dim=1), lambda: KCFConfig(feature="cnn_low"),
                 lambda: STRCFConfig(features=("gray", "hog"))):
        with pytest.raises(ValueError, match="unknown feature"):
            make()
