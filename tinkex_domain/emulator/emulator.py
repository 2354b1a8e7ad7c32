"""The Emulator: a local Tinker-compatible HTTP service with a tiny numpy LoRA model.

    with Emulator(EmulatorConfig(long_poll_s=0.1)) as emu:
        requests.get(f"{emu.base_url}/api/v1/healthz", headers={"X-API-Key": "tml-dev"})
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, cast

import numpy as np

from .api_official import OfficialState
from .app import App
from .checkpoints import ArchiveLinks, CheckpointStore
from .client_flags import ClientFlags
from .config import PENDING_REPLIES, QUEUE_STATES, EmulatorConfig
from .faults import FaultConfig, FaultInjector
from .future_log import FutureLog
from .futures import FutureStore
from .httpd import EmulatorHTTPServer
from .jwt import TokenIssuer
from .routes import Services
from .runtime import Runtime
from .sampling import SamplingService
from .sessions import SessionRegistry
from .stats import EndpointStats, StatsRecorder, TelemetrySink
from .training import TrainingService

DEMO_API_KEY = "tml-emulator-demo-key"
MODEL_MODULE = "tinkex_domain.emulator.model"


class Emulator:
    """Start with :meth:`start` (or ``with``), stop with :meth:`stop`; all threads are joined.

    ``model_backend`` replaces the model module (``tinkex_domain.emulator.model``) — tests use
    it to plug in a test double.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, model_backend: Any = None) -> None:
        self.config = config or EmulatorConfig()
        self._backend_override = model_backend
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._services: Services | None = None
        self._faults = FaultInjector()
        self._state_dir: Path | None = None
        self._owns_state_dir = False

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"Emulator({where})"

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        """Bind the port, build the services and start serving."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        cfg = self.config
        backend = self._backend_override or importlib.import_module(MODEL_MODULE)
        if cfg.state_dir:
            self._state_dir, self._owns_state_dir = Path(cfg.state_dir), False
            self._state_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._state_dir = Path(tempfile.mkdtemp(prefix="tinkex-emulator-"))
            self._owns_state_dir = True
        futures = FutureStore(cfg.clock, ttl_s=cfg.future_ttl_s, queue_delay_s=cfg.queue_delay_s,
                              queue_state=cfg.queue_state, queue_state_reason=cfg.queue_state_reason,
                              metadata_threshold_bytes=cfg.metadata_threshold_bytes)
        runtime = Runtime(backend, cfg.clock, futures, StatsRecorder(), cfg.workers)
        sessions = SessionRegistry(cfg.clock, cfg.session_timeout_s)
        checkpoints = CheckpointStore(self._state_dir / "checkpoints", cfg.clock)
        samplers = SamplingService(runtime, sessions, checkpoints)
        training = TrainingService(runtime, sessions, checkpoints, samplers, cfg.sequence_gap_timeout_s)
        training.adopt(checkpoints.load_existing())
        self._services = Services(cfg, runtime, sessions, checkpoints,
                                  ArchiveLinks(cfg.clock, cfg.archive_url_ttl_s), samplers, training,
                                  TelemetrySink(), pending_reply=cfg.pending_reply,
                                  long_poll_s=cfg.long_poll_s,
                                  official=OfficialState(cfg.client_flags,
                                                         TokenIssuer(cfg.clock, cfg.client_flags.jwt_ttl_s),
                                                         FutureLog(futures)))
        self._faults.configure(cfg.resolved_faults())
        try:
            self._server = EmulatorHTTPServer((cfg.host, cfg.port),
                                              App(self._services, self._faults, cfg.sleep))
        except OSError:
            runtime.shutdown()
            self._cleanup_state_dir()
            raise
        host, port = cast(tuple[str, int], self._server.server_address[:2])
        self._services.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tinkex-emulator-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close connections, join every thread, remove a temporary state dir."""
        server, services = self._server, self._services
        if server is None or services is None:
            return
        services.runtime.futures.close()
        server.shutdown()
        if self._thread is not None:
            self._thread.join()
        server.close_open_connections()
        server.server_close()
        services.runtime.shutdown()
        self._server = self._thread = None
        self._cleanup_state_dir()

    def _cleanup_state_dir(self) -> None:
        if self._owns_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _s(self) -> Services:
        if self._services is None:
            raise RuntimeError("emulator not started")
        return self._services

    # -------------------------------------------------------------- addresses
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (append ``/api/v1/...``)."""
        return self._s.base_url

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def state_dir(self) -> Path:
        """Where checkpoints live."""
        if self._state_dir is None:
            raise RuntimeError("emulator not started")
        return self._state_dir

    # ------------------------------------------------------------- inspection
    def received_seq_ids(self, model_id: str) -> list[int]:
        """Training seq_ids of a model in arrival order (resends included, creation excluded)."""
        seq = self._s.training.model(model_id, live=False).sequencer
        return seq.received() if seq else []

    def applied_seq_ids(self, model_id: str) -> list[int]:
        """Training seq_ids of a model in the order they were applied."""
        seq = self._s.training.model(model_id, live=False).sequencer
        return seq.applied() if seq else []

    def stats(self) -> dict[str, EndpointStats]:
        """Per endpoint: requests, error replies, model compute seconds, injected faults."""
        return self._s.runtime.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the statistics."""
        self._s.runtime.stats.reset()

    def telemetry_batches(self) -> list[dict[str, Any]]:
        """Every telemetry batch received, oldest first."""
        return self._s.telemetry.batches()

    def heartbeat_count(self, session_id: str) -> int:
        """Recorded heartbeats of a session."""
        return self._s.sessions.get(session_id).heartbeats

    def session_expired(self, session_id: str) -> bool:
        """Whether the session has expired (evaluated now)."""
        return self._s.sessions.get(session_id).expired_at is not None

    def future_state(self, request_id: str) -> str | None:
        """pending / completed / failed, or None when unknown or swept."""
        return self._s.runtime.futures.state_of(request_id)

    def model_state(self, model_id: str, with_optimizer: bool = True) -> dict[str, np.ndarray]:
        """A copy of a model's LoRA weights (and optimizer state)."""
        rec = self._s.training.model(model_id, live=False)
        if rec.sequencer is None or rec.lm is None:
            raise KeyError(f"model {model_id} holds no weights (not created yet, or unloaded)")
        with rec.sequencer.exec_lock:
            return {k: np.array(v, copy=True) for k, v in rec.lm.state_dict(with_optimizer).items()}

    def session_finish(self, session_id: str) -> dict[str, Any] | None:
        """How the official SDK finished a session (``{"type", "detail"}``), None if it did not."""
        session = self._s.sessions.get(session_id)
        if session.finish_reason is None:
            return None
        return {"type": session.finish_reason, "detail": session.finish_detail}

    def protobuf_bodies(self) -> dict[str, int]:
        """Protobuf fwd/bwd request bodies received, by Content-Encoding (``identity``/``zstd``)."""
        return dict(self._s.official.body_encodings)

    def protobuf_results(self) -> dict[str, int]:
        """Protobuf future results sent (``Accept: application/x-protobuf``), by the endpoint
        that submitted the work (``forward``, ``forward_backward``, ``asample``)."""
        return dict(self._s.official.results)

    # --------------------------------------------------------------- controls
    @property
    def client_flags(self) -> ClientFlags:
        """What ``client/config`` advertises now."""
        return self._s.official.flags  # type: ignore[no-any-return]

    def set_client_flags(self, flags: ClientFlags) -> None:
        """Change what ``client/config`` advertises (clients read it when they start)."""
        self._s.official.flags = flags

    @property
    def faults(self) -> FaultConfig:
        """The active fault configuration."""
        return self._faults.config

    def set_faults(self, faults: FaultConfig | str | None) -> None:
        """Replace the fault rules at run time (a spec string is parsed; None = no faults)."""
        self._faults.configure(FaultConfig.parse(faults) if isinstance(faults, str) else faults)

    def set_queue_state(self, state: str, reason: str | None = None) -> None:
        """active / paused_capacity / paused_rate_limit; paused states hold results back."""
        if state not in QUEUE_STATES:
            raise ValueError(f"queue state must be one of {QUEUE_STATES}, got {state!r}")
        self._s.runtime.futures.set_queue_state(state, reason)

    def set_queue_delay(self, seconds: float) -> None:
        """Futures created from now on become deliverable only ``seconds`` after creation."""
        if seconds < 0:
            raise ValueError("queue delay must be >= 0")
        self._s.runtime.futures.queue_delay_s = seconds

    def set_pending_reply(self, kind: str) -> None:
        """How a long-poll that timed out answers: ``try_again`` (200) or ``408``."""
        if kind not in PENDING_REPLIES:
            raise ValueError(f"pending reply must be one of {PENDING_REPLIES}, got {kind!r}")
        self._s.pending_reply = kind

    def set_long_poll(self, seconds: float) -> None:
        """How long retrieve_future waits for a result before answering "pending"."""
        if seconds < 0:
            raise ValueError("long poll must be >= 0")
        self._s.long_poll_s = seconds

    def check_timeouts(self) -> None:
        """Apply every clock-driven rule now: sequence gaps, sessions, TTLs, future expiry."""
        s = self._s
        s.training.check_gaps()
        s.sessions.sweep()
        s.checkpoints.sweep()
        s.runtime.futures.sweep()
