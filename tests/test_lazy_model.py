"""LazyModel: the shared first-use loader of the optional inference steps (faces, person segmenter)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from artifygan.lazy_model import LazyModel


@contextlib.contextmanager
def serving(folder: Path, cache: Path, monkeypatch) -> Iterator[str]:
    """``folder`` on a local HTTP server (its base URL), downloads going to ``cache``, no proxy in the way."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(cache))
    for var in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


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
    from artifygan import hub

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "w.bin").write_bytes(b"\x00weights" * 1000)
    with serving(tmp_path / "site", tmp_path / "cache", monkeypatch) as base:
        got = hub.resolve_file("test file", None, "ARTIFYGAN_TEST_NOPE", f"{base}/w.bin")
    assert got == tmp_path / "cache" / "weights" / "w.bin" and got.read_bytes() == b"\x00weights" * 1000
    assert [p.name for p in got.parent.iterdir()] == ["w.bin"]  # no temporary file left


def test_a_download_cut_short_is_refused_not_cached(tmp_path, monkeypatch) -> None:
    """http.client ends a body shorter than its Content-Length quietly: the cut file was cached for good."""
    import socket
    import threading

    from artifygan import hub

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve_a_tenth() -> None:
        conn = server.accept()[0]
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + b"x" * 100)
        conn.close()

    threading.Thread(target=serve_a_tenth, daemon=True).start()
    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))
    for var in ("http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(hub.WeightsNotFoundError, match="ended after 100 of 1000 bytes"):
        hub.resolve_file("test file", None, "ARTIFYGAN_TEST_NOPE", f"http://127.0.0.1:{server.getsockname()[1]}/x.onnx")
    assert list((tmp_path / "weights").iterdir()) == []  # neither the cut file nor its temporary
    server.close()


def test_temporary_files_of_killed_downloads_are_swept_and_live_ones_kept(tmp_path) -> None:
    import os
    import time

    from artifygan import hub

    old, live, torchs = tmp_path / ".ag0123abcd.part", tmp_path / ".ag4567ef01.part", tmp_path / "y.onnx.ab12.partial"
    for p in (old, live, torchs):
        p.write_bytes(b"")
    for p in (old, torchs):
        os.utime(p, (time.time() - 2 * hub.STALE_PART_S,) * 2)
    (tmp_path / "keep.onnx").write_bytes(b"model")
    hub._sweep_parts(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "keep.onnx"]


def test_paths_from_the_environment_are_stripped_and_expanded(tmp_path, monkeypatch) -> None:
    from artifygan import hub

    monkeypatch.delenv("ARTIFYGAN_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for xdg in (" ", "relative/cache"):  # a folder named " " where it ran; the XDG spec ignores relative values
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert hub.cache_dir() == tmp_path / ".cache" / "artifygan" / "weights"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.cache_dir("onnx") == tmp_path / "xdg" / "artifygan" / "onnx"
    (tmp_path / "det.onnx").write_bytes(b"x")
    monkeypatch.setenv("ARTIFYGAN_TEST_FILE", " ~/det.onnx ")
    assert hub.given_file("a detector", None, "ARTIFYGAN_TEST_FILE") == tmp_path / "det.onnx"
    assert hub.given_file("a detector", "~/det.onnx", "ARTIFYGAN_TEST_NOPE") == tmp_path / "det.onnx"
    monkeypatch.setenv("ARTIFYGAN_TEST_FILE", " ")
    assert hub.given_file("a detector", None, "ARTIFYGAN_TEST_FILE") is None  # blank is unset, not " : not found"


def test_a_cached_file_that_cannot_be_loaded_says_how_to_fetch_it_again(tmp_path, monkeypatch) -> None:
    from artifygan.faces import PhotoFaceDetector

    monkeypatch.setenv("ARTIFYGAN_CACHE", str(tmp_path))
    monkeypatch.delenv("ARTIFYGAN_YUNET", raising=False)
    (tmp_path / "weights").mkdir()
    cut = tmp_path / "weights" / "face_detection_yunet_2023mar.onnx"
    cut.write_bytes(b"\x08\x07" * 50)  # the first bytes of a download that was cut
    with pytest.raises(ValueError, match=f"cannot load YuNet model .*delete {cut} to fetch it again"):
        PhotoFaceDetector(download=False)
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"\x08\x07" * 50)
    with pytest.raises(ValueError) as err:
        PhotoFaceDetector(mine, download=False)
    assert "delete" not in str(err.value)  # the user's own file: not ours to suggest deleting


def test_a_download_whose_name_carries_a_hash_prefix_is_checked(tmp_path, monkeypatch) -> None:
    """torch.hub's convention (vgg19-dcbb9e9d.pth): the name says what the file's SHA-256 starts with."""
    import hashlib

    from artifygan import hub

    body = b"\x00weights" * 100
    good = hashlib.sha256(body).hexdigest()[:8]
    (tmp_path / "site").mkdir()
    for name in (f"w-{good}.pth", "w-0badc0de.pth"):
        (tmp_path / "site" / name).write_bytes(body)
    with serving(tmp_path / "site", tmp_path / "cache", monkeypatch) as base:
        assert hub.resolve_file("w", None, "ARTIFYGAN_TEST_NOPE", f"{base}/w-{good}.pth").read_bytes() == body
        with pytest.raises(hub.WeightsNotFoundError, match="SHA-256 does not start with 0badc0de"):
            hub.resolve_file("w", None, "ARTIFYGAN_TEST_NOPE", f"{base}/w-0badc0de.pth")
    assert sorted(p.name for p in (tmp_path / "cache" / "weights").iterdir()) == [f"w-{good}.pth"]
