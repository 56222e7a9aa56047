"""Benchmark evaluation: metrics under the `otb` and `pysot` rule sets, the runner, reports
and plots. Import submodules directly (``cfvgg_ros.evaluation.metrics`` ...); this package
module stays light so that ``cfvgg-bench`` can pin the core before numpy loads."""
