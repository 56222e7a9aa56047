"""Offline distillation of the CF-VGG student (paper §IV-A): PyTorch, training only.

The tracking core never imports this package (nor torch); the trained student reaches the
tracker as a contract ONNX model written by :mod:`cfvgg_ros.training.export`.

Modules: :mod:`~.student` (CF-VGG and the 1x1 adapters), :mod:`~.teachers` (VGG-M from a
MatConvNet ``.mat``, EfficientNet-Lite0), :mod:`~.losses` (Eqs. 2-8), :mod:`~.pairs`
(template/search pairs from the train split), :mod:`~.config`, :mod:`~.train` (resumable,
DDP-capable loop) and :mod:`~.export` (checkpoint -> ONNX).
"""
