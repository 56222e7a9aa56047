"""Feature extractors for the correlation trackers (e.g. :mod:`.fhog` for fHOG,
:mod:`.colour` for a table-free colour feature).

Import the submodules directly: this package module stays light (numpy at most, no numba,
OpenCV or onnxruntime at import).
"""
