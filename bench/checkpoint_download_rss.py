"""Memory of a checkpoint download: a 1 GiB archive streamed to disk and extracted within limits.

Generates a 1 GiB tar (one incompressible member) in a temporary directory, serves it from a
loopback HTTP server in a child process (so the server's memory is not counted), then runs
Tinkex's ``download_checkpoint`` on it through a real Pristine client (``fetch_url``, the
streamed download, the limit checks and the extraction). Peak RSS growth is read from
``resource.getrusage`` around the download, after a warm-up download of a small archive.
Target: growth <= 50 MiB. A control allocation of 64 MiB afterwards shows that the meter does
register growth. Baseline in the same run: ``requests`` streaming the same URL to
disk plus ``tarfile.extractall``; the time ratio ours/baseline is printed.

Run: ``python bench/checkpoint_download_rss.py [size_mib]``; the last line is the headline.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

import pristine_core as pc
from tinkex_domain._futures import resolved
from tinkex_domain.checkpoint_download import download_checkpoint
from tinkex_domain.types import CheckpointArchiveUrlResponse

MIB = 1 << 20
CONTROL_MIB = 64
MANIFEST: dict[str, Any] = {"name": "bench-download", "resources": {}}


class _Repeating(io.RawIOBase):
    """``size`` bytes made of one random 1 MiB block repeated (incompressible enough for tar)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(MIB)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, MIB)
        buffer[:n] = self.block[:n]
        self.left -= n
        return n


def make_archive(path: Path, size: int) -> None:
    """A tar with one ``size``-byte member under ``adapter/``, written without holding it."""
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("adapter/weights.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Repeating(size), MIB))


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MIB


class _Rest:
    """What download_checkpoint needs of a RestClient: the archive URL and a Pristine client."""

    def __init__(self, client: pc.Client, url: str) -> None:
        self.holder = type("Holder", (), {"client": client})()
        self.url = url

    def get_checkpoint_archive_url_from_tinker_path(self, path: str) -> Any:
        return resolved(CheckpointArchiveUrlResponse(url=self.url))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            requests.head(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError("the archive server did not start")


def main() -> None:
    size = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 1024 * MIB
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp:
        root = Path(tmp)
        served = root / "served"
        served.mkdir()
        make_archive(served / "small.tar", MIB)
        make_archive(served / "big.tar", size)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(f"{base}/small.tar")
            with pc.Client(MANIFEST, base_url=base, autoload_plugins=False, timeout_s=300) as client:
                out = root / "out"
                download_checkpoint(_Rest(client, f"{base}/small.tar"), "tinker://warm/weights/up", output_dir=out)
                before = peak_rss_mib()
                started = time.perf_counter()
                big = _Rest(client, f"{base}/big.tar")
                result = download_checkpoint(big, "tinker://run/weights/big", output_dir=out)
                ours_s = time.perf_counter() - started
                grown = peak_rss_mib() - before
                extracted = (result.destination / "adapter" / "weights.bin").stat().st_size
                shutil.rmtree(out)
            assert extracted == size, extracted
            base_dir = root / "baseline"
            base_dir.mkdir()
            started = time.perf_counter()
            with requests.get(f"{base}/big.tar", stream=True, timeout=300) as reply, open(root / "b.tar", "wb") as fh:
                for chunk in reply.iter_content(1 << 16):
                    fh.write(chunk)
            with tarfile.open(root / "b.tar") as tar:
                tar.extractall(base_dir, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(base_dir)
            baseline_s = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"archive: {size / MIB:.0f} MiB; downloaded {result.bytes_downloaded / MIB:.0f} MiB, extracted "
          f"{extracted / MIB:.0f} MiB")
    print(f"time: tinkex {ours_s:.2f} s, baseline (requests + tarfile) {baseline_s:.2f} s, "
          f"ratio {ours_s / baseline_s:.2f}x")
    control_before = peak_rss_mib()
    control = bytearray(CONTROL_MIB * MIB)  # zero pages: touch them so they count
    for offset in range(0, len(control), 4096):
        control[offset] = 1
    control_grown = peak_rss_mib() - control_before
    del control
    print(f"meter check: holding {CONTROL_MIB} MiB in memory shows as {control_grown:.1f} MiB of growth")
    print(f"peak RSS of the process: {peak_rss_mib():.1f} MiB")
    verdict = "OK" if grown <= 50 else "OVER TARGET"
    print(f"checkpoint_download_rss_growth_mib: {grown:.1f} (target <= 50) {verdict}")


if __name__ == "__main__":
    main()
