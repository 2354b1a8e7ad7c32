"""REST resources: training runs, checkpoints, sessions, cursors, tinker paths, archive URLs."""

from __future__ import annotations

import datetime as _dt
import email.utils
from typing import Any, Literal

import attrs

from tinkex_domain.types._common import fail

CheckpointType = Literal["training", "sampler", "external"]
AccessScope = Literal["owned", "accessible"]
ACCESS_SCOPES: tuple[str, ...] = ("owned", "accessible")
_KINDS = {"weights": "training", "sampler_weights": "sampler", "external_weights": "external"}


def parse_time(value: str | None) -> _dt.datetime | None:
    """An ISO-8601 or HTTP-date string as an aware datetime (None when absent or unparsable)."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_dt.timezone.utc)


@attrs.frozen(kw_only=True)
class Cursor:
    """Pagination position: ``offset``, ``limit`` and ``total_count``."""

    offset: int
    limit: int
    total_count: int


@attrs.frozen(kw_only=True)
class Checkpoint:
    """A saved checkpoint (``checkpoint_id`` is ``weights/<name>`` or ``sampler_weights/<name>``)."""

    checkpoint_id: str
    checkpoint_type: str
    tinker_path: str
    training_run_id: str | None = None
    time: str | None = None
    size_bytes: int | None = None
    public: bool = False
    expires_at: str | None = None

    @property
    def time_dt(self) -> _dt.datetime | None:
        """``time`` as a datetime."""
        return parse_time(self.time)

    @property
    def expires_at_dt(self) -> _dt.datetime | None:
        """``expires_at`` as a datetime (None: never expires)."""
        return parse_time(self.expires_at)


@attrs.frozen(kw_only=True)
class CheckpointsListResponse:
    """A page of checkpoints."""

    checkpoints: list[Checkpoint] = attrs.field(converter=list)
    cursor: Cursor | None = None


@attrs.frozen(kw_only=True)
class TrainingRun:
    """A training run (one LoRA model) and its latest checkpoints."""

    training_run_id: str
    base_model: str
    model_owner: str | None = None
    is_lora: bool = True
    corrupted: bool = False
    lora_rank: int | None = None
    last_request_time: str | None = None
    last_checkpoint: Checkpoint | None = None
    last_sampler_checkpoint: Checkpoint | None = None
    user_metadata: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class TrainingRunsResponse:
    """A page of training runs."""

    training_runs: list[TrainingRun] = attrs.field(converter=list)
    cursor: Cursor | None = None


@attrs.frozen(kw_only=True)
class ListSessionsResponse:
    """A page of session ids."""

    sessions: list[str] = attrs.field(converter=list)
    cursor: Cursor | None = None


@attrs.frozen(kw_only=True)
class GetSessionResponse:
    """The training runs and samplers of a session."""

    training_run_ids: list[str] = attrs.field(converter=list)
    sampler_ids: list[str] = attrs.field(converter=list)


@attrs.frozen(kw_only=True)
class CheckpointArchiveUrlResponse:
    """A signed download URL for a checkpoint archive and when it expires."""

    url: str
    expires: str | None = None
    status: int | None = None

    @property
    def expires_dt(self) -> _dt.datetime | None:
        """``expires`` as a datetime (ISO-8601 or HTTP date)."""
        return parse_time(self.expires)


@attrs.frozen(kw_only=True)
class ParsedCheckpointTinkerPath:
    """``tinker://<run_id>/<weights|sampler_weights|external_weights>/<name>`` split into its parts."""

    tinker_path: str
    training_run_id: str
    checkpoint_type: str
    checkpoint_id: str

    @classmethod
    def from_tinker_path(cls, tinker_path: str) -> ParsedCheckpointTinkerPath:
        """Parse a tinker path; a malformed one raises a validation error naming ``tinker_path``."""
        if not isinstance(tinker_path, str) or not tinker_path.startswith("tinker://"):
            fail("ParsedCheckpointTinkerPath", "tinker_path", f"must start with 'tinker://', got {tinker_path!r}")
        parts = tinker_path[len("tinker://") :].split("/")
        if len(parts) != 3 or not all(parts):
            fail(
                "ParsedCheckpointTinkerPath",
                "tinker_path",
                f"must look like tinker://<run_id>/<weights|sampler_weights|external_weights>/<name>, "
                f"got {tinker_path!r}",
            )
        run_id, kind, name = parts
        if kind not in _KINDS:
            fail(
                "ParsedCheckpointTinkerPath",
                "tinker_path",
                f"kind must be weights, sampler_weights or external_weights, got {kind!r}",
            )
        return cls(
            tinker_path=tinker_path,
            training_run_id=run_id,
            checkpoint_type=_KINDS[kind],
            checkpoint_id=f"{kind}/{name}",
        )
