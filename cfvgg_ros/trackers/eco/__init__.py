"""ECO correlation-filter engine (Danelljan et al., CVPR 2017; C-COT, ECCV 2016) in numpy/scipy:
continuous interpolation, factorized projection, generative sample space, CG training and
Newton detection. :class:`ECOTracker` implements the project's tracker contract."""

from .config import ECOConfig, FeatureConfig

__all__ = ["ECOConfig", "FeatureConfig", "ECOTracker", "create_feco", "create_eco_hc"]


def __getattr__(name):
    if name in ("ECOTracker", "create_feco", "create_eco_hc"):
        from . import tracker

        return getattr(tracker, name)
    raise AttributeError(name)
