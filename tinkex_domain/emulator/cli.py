"""Command line: ``python -m tinkex_domain.emulator serve [--port N] [--state-dir D] [--faults SPEC]``.

``add_subcommands(subparsers)`` mounts the same commands under another CLI (``tinkex emulator``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from .client_flags import ClientFlags
from .config import ARCHIVE_MODES, FAULTS_ENV, PENDING_REPLIES, QUEUE_STATES, EmulatorConfig
from .emulator import DEMO_API_KEY, Emulator
from .faults import FaultConfig, FaultSpecError


def _serve_args(p: argparse.ArgumentParser) -> None:
    d = EmulatorConfig()
    p.add_argument("--host", default=d.host, help="interface to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="TCP port; 0 picks a free one (default)")
    p.add_argument("--state-dir", default=None,
                   help="directory for checkpoints (kept); default: a temp dir removed at exit")
    p.add_argument("--faults", default=None, metavar="SPEC",
                   help=f"fault spec (JSON or 'endpoint:kind=rate,...;...'); default: ${FAULTS_ENV}")
    p.add_argument("--long-poll", type=float, default=d.long_poll_s, metavar="SECONDS",
                   help="retrieve_future long-poll time (default %(default)s)")
    p.add_argument("--pending-reply", choices=PENDING_REPLIES, default=d.pending_reply,
                   help="answer for a still-pending future (default %(default)s)")
    p.add_argument("--queue-delay", type=float, default=d.queue_delay_s, metavar="SECONDS",
                   help="hold every result back this long (default %(default)s)")
    p.add_argument("--queue-state", choices=QUEUE_STATES, default=d.queue_state)
    p.add_argument("--queue-state-reason", default=None)
    p.add_argument("--session-timeout", type=float, default=d.session_timeout_s, metavar="SECONDS",
                   help="expire sessions without a heartbeat for this long (default %(default)s)")
    p.add_argument("--archive-mode", choices=ARCHIVE_MODES, default=d.archive_mode,
                   help="archive URL answer: 302 redirect or JSON {url, expires}")
    p.add_argument("--metadata-threshold", type=int, default=d.metadata_threshold_bytes,
                   metavar="BYTES", help="results larger than this are announced metadata-first")
    p.add_argument("--workers", type=int, default=d.workers, help="model worker threads")
    p.add_argument("--client-flag", action="append", default=[], metavar="NAME=VALUE",
                   help="a client/config flag for the official tinker SDK (repeatable), e.g. "
                        "proto_compress_fwdbwd=true, pjwt_auth_enabled=true, "
                        "sample_use_retrieve_futures=true, fwdbwd_protobuf=true (Tinkex)")
    p.add_argument("--log-level", default="WARNING", help="Python log level (default %(default)s)")


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build the EmulatorConfig the serve flags describe (``--faults`` absent → env var)."""
    faults = FaultConfig.parse(args.faults) if args.faults is not None else None
    return EmulatorConfig(
        host=args.host, port=args.port, state_dir=args.state_dir, faults=faults,
        long_poll_s=args.long_poll, pending_reply=args.pending_reply, queue_delay_s=args.queue_delay,
        queue_state=args.queue_state, queue_state_reason=args.queue_state_reason,
        session_timeout_s=args.session_timeout, archive_mode=args.archive_mode,
        metadata_threshold_bytes=args.metadata_threshold, workers=args.workers,
        client_flags=ClientFlags.parse(args.client_flag))


def serve(config: EmulatorConfig, stop: threading.Event, out: TextIO = sys.stdout) -> int:
    """Run an emulator until ``stop`` is set; prints where it listens."""
    with Emulator(config) as emu:
        print(f"Tinker emulator listening on {emu.base_url}", file=out)
        print(f"  export TINKER_BASE_URL={emu.base_url}", file=out)
        print(f"  export TINKER_API_KEY={DEMO_API_KEY}   # any key starting with tml- works", file=out)
        print(f"  state dir: {emu.state_dir}", file=out)
        if emu.faults.rules:
            print(f"  faults: {emu.faults.to_json()}", file=out)
        out.flush()
        while not stop.wait(0.2):
            pass
    print("Tinker emulator stopped", file=out)
    out.flush()
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper())
    try:
        config = config_from_args(args)
    except (FaultSpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    return serve(config, stop)


def add_subcommands(subparsers: Any) -> None:
    """Add the emulator's commands (``serve``) to an argparse sub-parser collection."""
    p = subparsers.add_parser("serve", help="run the Tinker emulator until interrupted",
                              description="Run a local Tinker-compatible service.")
    _serve_args(p)
    p.set_defaults(func=_cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser (``python -m tinkex_domain.emulator``)."""
    parser = argparse.ArgumentParser(prog="python -m tinkex_domain.emulator",
                                     description="Local Tinker service emulator.")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))
