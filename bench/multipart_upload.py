"""Peak memory of a streamed 200 MB multipart upload through a Pristine client.

Creates a sparse 200 MB file in a temporary directory, starts a loopback HTTP server in a
child process that reads the body in small pieces, discards it and counts the bytes, then
uploads the file through a client with the multipart plugin. The client's peak RSS is taken
from ``resource.getrusage`` before and after the upload (a warm-up upload runs first so that
imports and connection setup are not counted). Target: growth < 30 MB. A control upload of
32 MB held in memory afterwards shows that the meter does register memory growth.

Run: ``python bench/multipart_upload.py [size_mb]``; the last line is the headline.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MANIFEST: dict[str, Any] = {
    "name": "bench-uploads",
    "base_url": "http://127.0.0.1:9",
    "defaults": {"timeout_s": 300},
    "types": {"UploadIn": {"type": "object", "properties": {"purpose": {"type": "string"}}}},
    "resources": {"files": {"upload": {"method": "POST", "path": "/upload", "request": "UploadIn", "multipart": True}}},
}


CONTROL_MB = 32


class CountingHandler(BaseHTTPRequestHandler):
    """Reads the request body in 64 KiB pieces, keeps none of it, answers with the count."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        """Count the body bytes; insist on a Content-Length (a streamed body must still have one)."""
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.send_response(411)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        left = int(length_header)
        received = 0
        tail = b""
        while left > 0:
            chunk = self.rfile.read(min(65536, left))
            if not chunk:
                break
            received += len(chunk)
            left -= len(chunk)
            tail = (tail + chunk)[-128:]
        payload = json.dumps(
            {"received": received, "content_length": int(length_header), "ends_with_boundary": tail.endswith(b"--\r\n")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve() -> None:
    """Child-process mode: serve on a free loopback port and print it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(size_mb: int) -> None:
    """Upload a ``size_mb`` MB sparse file and report peak RSS growth and throughput."""
    from pristine_core import Client, RequestOptions
    from pristine_plugins.multipart import MultipartPlugin

    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        with (
            tempfile.TemporaryDirectory() as tmp,
            Client(
                MANIFEST, plugins=[MultipartPlugin()], autoload_plugins=False, base_url=f"http://127.0.0.1:{port}"
            ) as client,
        ):
            small = os.path.join(tmp, "warmup.bin")
            with open(small, "wb") as handle:
                handle.truncate(1024 * 1024)
            big = os.path.join(tmp, "big.bin")
            with open(big, "wb") as handle:
                handle.truncate(size_mb * 1024 * 1024)

            def upload(value: Any) -> dict[str, Any]:
                options = RequestOptions(extensions={"files": {"file": value}})
                response = client.meta.endpoint("files.upload").raw(purpose="bench", request_options=options)
                result: dict[str, Any] = response.json()
                return result

            upload(small)
            gc.collect()
            before = peak_rss_mb()
            started = time.perf_counter()
            result = upload(big)
            elapsed = time.perf_counter() - started
            after = peak_rss_mb()
            # Control: the same meter must see an in-memory upload (bytes held by the caller).
            control = b"\x01" * (CONTROL_MB * 1024 * 1024)  # touched pages, unlike bytes(n)
            upload(control)
            del control
            control_growth = peak_rss_mb() - after
    finally:
        child.terminate()
        child.wait(timeout=10)
    expected_min = size_mb * 1024 * 1024
    ok = result["received"] == result["content_length"] >= expected_min and result["ends_with_boundary"]
    if not ok:
        raise SystemExit(f"upload incomplete or malformed: {result}")
    growth = after - before
    print(f"file size: {size_mb} MB; body bytes sent: {result['received']} (Content-Length matched)")
    print(f"peak RSS before: {before:.1f} MB, after: {after:.1f} MB")
    print(f"upload time: {elapsed:.2f} s ({size_mb / elapsed:.0f} MB/s)")
    print(f"growth / file size: {growth / size_mb:.4f}")
    print(f"control: a {CONTROL_MB} MB in-memory bytes upload raised peak RSS by {control_growth:.1f} MB")
    print(f"multipart_{size_mb}mb_peak_rss_growth_mb: {growth:.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
