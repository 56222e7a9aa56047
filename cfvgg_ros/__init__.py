"""cfvgg_ros: real-time single-target tracking with CF-VGG features on one CPU core.

Implements Wang et al., "Real-Time Correlation Tracking via Joint Model Compression and
Transfer", IEEE TIP 2020. This top-level module imports nothing heavy, so that
:mod:`cfvgg_ros.threads` can pin the process to one core before numpy, OpenCV,
onnxruntime or torch load.
"""

__version__ = "0.1.0"
