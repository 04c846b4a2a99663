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


def test_a_multi_line_error_is_warned_on_one_line() -> None:
    def load() -> str:
        raise ValueError("cannot load YuNet model (OpenCV error:\n  bad file)\n")

    with pytest.warns(UserWarning) as seen:
        LazyModel(load, "the step is off").use(len, -1)
    assert str(seen[0].message) == "the step is off (cannot load YuNet model (OpenCV error: bad file))"


def test_a_download_that_never_answers_times_out(tmp_path, monkeypatch) -> None:
    """A server that accepts and then says nothing (a stalled proxy): the download gives up, it does not hang."""
    import socket
    import threading
    import time

    from artifygan import hub

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    monkeypatch.setattr(hub, "DOWNLOAD_TIMEOUT_S", 0.5)
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    t0 = time.perf_counter()
    with pytest.raises(hub.WeightsNotFoundError, match="timed out"):
        hub.resolve_file("test file", None, "ARTIFYGAN_TEST_NOPE", f"http://127.0.0.1:{server.getsockname()[1]}/x.onnx")
    assert time.perf_counter() - t0 < 10
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("x.onnx"))  # nothing half-written
    server.close()


def test_a_download_lands_in_the_cache_whole(tmp_path, monkeypatch) -> None:
    import functools
    import http.server
    import threading

    from artifygan import hub

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "w.bin").write_bytes(b"\x00weights" * 1000)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path / "cache"))
    for var in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    try:
        got = hub.resolve_file("test file", None, "ARTIFYGAN_TEST_NOPE", f"http://127.0.0.1:{server.server_port}/w.bin")
    finally:
        server.shutdown()
    assert got == tmp_path / "cache" / "weights" / "w.bin" and got.read_bytes() == b"\x00weights" * 1000
    assert [p.name for p in got.parent.iterdir()] == ["w.bin"]  # no temporary file left
