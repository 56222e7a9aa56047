"""cfvgg_ros.jit.cached_njit: compiled kernels, with or without numba's on-disk cache."""

from cfvgg_ros.jit import cached_njit


def test_cached_njit_falls_back_when_caching_is_impossible():
    # numba cannot cache functions without a source file: the decorator must not fail
    namespace = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    assert cached_njit(namespace["double"])(21) == 42
    assert cached_njit(fastmath=True)(namespace["double"])(2.5) == 5.0


def test_cached_njit_compiles_module_functions_in_both_forms():
    @cached_njit
    def add(a, b):
        return a + b

    @cached_njit(fastmath=True)
    def mul(a, b):
        return a * b

    assert add(2, 3) == 5 and mul(1.5, 4.0) == 6.0
    assert hasattr(add, "py_func") and hasattr(mul, "py_func")  # numba dispatchers, not the raw functions
