"""LazyModel: the shared first-use loader of the optional inference steps (faces, person segmenter)."""

from __future__ import annotations

import warnings

import pytest

from artifygan.lazy_model import LazyModel


def test_loads_once_and_runs_with_the_model() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return "net"

    lazy = LazyModel(load, "off")
    assert lazy.use(lambda m: m + "!", "none") == "net!"
    assert lazy.use(len, 0) == 3
    assert calls == [1]


def test_a_missing_file_warns_once_then_falls_back() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        raise FileNotFoundError("no such file: x.onnx")

    lazy = LazyModel(load, "the step is off")
    with pytest.warns(UserWarning, match=r"the step is off \(no such file: x.onnx\)"):
        assert lazy.use(len, -1) == -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would fail here
        assert lazy.use(len, -1) == -1
    assert calls == [1]  # not retried per picture


def test_switched_off_on_purpose_is_silent_and_other_errors_propagate() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert LazyModel(lambda: None, "off").use(len, 7) == 7

    def broken() -> str:
        raise RuntimeError("a bug, not a missing file")

    with pytest.raises(RuntimeError):
        LazyModel(broken, "off").use(len, 0)


def test_an_injected_model_is_never_loaded() -> None:
    def load() -> str:
        raise AssertionError("must not load")

    assert LazyModel(load, "off", loaded="given").use(str.upper, "") == "GIVEN"
