"""``ServiceClient``: the entry point, as in the tinker SDK.

from tinkex_domain import ServiceClient, types

with ServiceClient() as service:          # TINKER_API_KEY / TINKER_BASE_URL from the env
    training = service.create_lora_training_client("Qwen/Qwen3-8B", rank=16)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pristine_core.errors import APITimeoutError, ValidationError
from pristine_plugins.futures import FutureTimeoutError
from tinkex_domain._futures import APIFuture, resolved, run_now
from tinkex_domain.console import session_console_url
from tinkex_domain.holder import Holder
from tinkex_domain.loss_handle import LossHandle, PerDatumLossFn, make_loss_handle
from tinkex_domain.optimizers import OptimizerConfig, optimizer_json
from tinkex_domain.request_errors import timeout_seconds
from tinkex_domain.rest_client import RestClient
from tinkex_domain.retry_config import DEFAULT_MAX_CONNECTIONS, RetryConfig, as_retry_config
from tinkex_domain.sampling_client import SamplingClient
from tinkex_domain.training_client import TrainingClient
from tinkex_domain.types import GetServerCapabilitiesResponse, LoraConfig, ParsedCheckpointTinkerPath

#: The reasons ``close(status)`` reports.
FINISH_STATUSES = ("success", "errored", "interrupted")


class ServiceClient:
    """Creates training, sampling and REST clients that share one session.

    ``client_kwargs`` go to :class:`pristine_core.Client` (``plugins``, ``disable_plugins``,
    ``timeout_s``, ``default_headers``, ``clock``, ``config``...). The session is created at
    construction (the session plugin heartbeats it) and ends with :meth:`close`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        project_id: str | None = None,
        retry_config: RetryConfig | Mapping[str, Any] | None = None,
        *,
        display_name: str | None = None,
        default_headers_overrides: Mapping[str, str] | None = None,
        **client_kwargs: Any,
    ) -> None:
        if "timeout" in client_kwargs:  # tinker's spelling: seconds or a Timeout
            client_kwargs["timeout_s"] = timeout_seconds(client_kwargs.pop("timeout"))
        if default_headers_overrides:
            client_kwargs["default_headers"] = {
                **dict(client_kwargs.get("default_headers") or {}),
                **dict(default_headers_overrides),
            }
        if display_name is not None:
            if not isinstance(display_name, str) or not display_name:
                raise ValidationError([("display_name", "must be a non-empty string")], "ServiceClient")
            settings = dict(client_kwargs.pop("config", None) or {})
            settings.setdefault("display_name", display_name)
            client_kwargs["config"] = settings
        config = as_retry_config(retry_config)
        if config is not None:
            settings = dict(client_kwargs.pop("config", None) or {})
            settings.setdefault("retry", config.retry_overrides())
            if config.max_connections != DEFAULT_MAX_CONNECTIONS:  # tinker's default = "unset"
                pools = dict(settings.get("pools") or {})
                pools["sample"] = {**config.pool_overrides(), **dict(pools.get("sample") or {})}
                settings["pools"] = pools
            client_kwargs["config"] = settings
        self.project_id = project_id
        self.holder = Holder(
            api_key=api_key, base_url=base_url, user_metadata=user_metadata, project_id=project_id, **client_kwargs
        )
        self.holder.retry_config = config
        self._losses: dict[str, LossHandle] = {}

    @property
    def session_id(self) -> str:
        """The id of this client's session."""
        return self.holder.session_id

    def get_server_capabilities(self) -> GetServerCapabilitiesResponse:
        """The models the service supports."""
        return self.holder.call("service.get_server_capabilities")  # type: ignore[no-any-return]

    async def get_server_capabilities_async(self) -> GetServerCapabilitiesResponse:
        """:meth:`get_server_capabilities`, as a coroutine."""
        return await self.holder.run(self.get_server_capabilities)

    def health_check(self) -> bool:
        """True when the service answers its health endpoint with a 2xx status (never raises for
        an error status; connection failures still raise)."""
        response = self.holder.raw("service.healthz", request_options={"max_retries": 0})
        response.close()
        return bool(response.ok)

    def raw_response(self, endpoint: str, **kwargs: Any) -> Any:
        """The raw HTTP response of any manifest endpoint (``"rest.list_checkpoints"``...),
        with ``status_code``, ``headers``, ``content``/``json()``; no result parsing."""
        return self.holder.raw(endpoint, **kwargs)

    def get_console_url(self) -> str:
        """The console page of this client's session."""
        return session_console_url(self.holder.session_id)

    def get_telemetry(self) -> Any:
        """The telemetry reporter of this client (None when telemetry is off or not installed)."""
        return self.holder.telemetry()

    def copy_weights(
        self, path: str, *, ttl_seconds: int | None = None, weights_access_token: str | None = None
    ) -> APIFuture[str]:
        """Copy a checkpoint into this client's project (``project_id``, else ``TINKER_PROJECT_ID``);
        a future of the copy's tinker path (a new, read-only training run)."""
        return self.create_rest_client().copy_weights(
            path, self.project_id, ttl_seconds=ttl_seconds, weights_access_token=weights_access_token
        )

    def create_custom_loss(self, fn: PerDatumLossFn, input_ranks: Mapping[str, int]) -> APIFuture[LossHandle]:
        """A future of a :class:`LossHandle` for ``TrainingClient.forward_backward_custom``.

        ``fn(logprobs, *inputs) -> (loss, metrics)`` runs once per datum; ``input_ranks`` gives
        the rank (0, 1 or 2) of each of its parameters, ``logprobs`` included. A function that
        does not match raises here. Each loss is created once per session.
        """
        handle = make_loss_handle(fn, input_ranks, self.holder.session_id)

        def remember() -> LossHandle:
            return self._losses.setdefault(handle.key, handle)

        return run_now(remember, "create_custom_loss")

    def create_lora_training_client(
        self,
        base_model: str,
        rank: int = 32,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        user_metadata: Mapping[str, Any] | None = None,
        optimizer: OptimizerConfig | None = None,
        timeout: float | None = None,
    ) -> TrainingClient:
        """Create a LoRA model on ``base_model`` and return its training client (waits for it).

        ``optimizer`` selects the optimizer family (AdamOptimizerConfig, the default, or
        DimuonOptimizerConfig); each ``optim_step`` then takes that family's parameters.
        ``timeout`` (seconds) bounds the wait for the model (a paused queue can hold it for
        long): when it passes, the creation is cancelled and :class:`APITimeoutError` raised.
        """
        _check_timeout(timeout)
        future = self._submit_lora(
            base_model, rank, seed, train_mlp, train_attn, train_unembed, user_metadata, optimizer
        )
        try:
            reply = future.result(timeout=timeout)
        except FutureTimeoutError:
            future.cancel()
            raise _no_model(timeout) from None
        return TrainingClient(self.holder, reply.model_id, base_model=base_model)

    def _submit_lora(
        self,
        base_model: str,
        rank: int,
        seed: int | None,
        train_mlp: bool,
        train_attn: bool,
        train_unembed: bool,
        user_metadata: Mapping[str, Any] | None,
        optimizer: OptimizerConfig | None,
    ) -> APIFuture[Any]:
        """Validate the LoRA settings and submit ``models.create_model``; the future of its reply."""
        lora = LoraConfig(rank=rank, seed=seed, train_mlp=train_mlp, train_attn=train_attn, train_unembed=train_unembed)
        if not (lora.train_mlp or lora.train_attn or lora.train_unembed):
            raise ValidationError(
                [("train_mlp", "at least one of train_mlp, train_attn, train_unembed must be true")], "LoraConfig"
            )
        if not isinstance(base_model, str) or not base_model:
            raise ValidationError([("base_model", "must be a non-empty model name")], "create_lora_training_client")
        model_seq_id = self.holder.next_counter("model_seq_id")
        return self.holder.call(  # type: ignore[no-any-return]
            "models.create_model",
            session_id=self.holder.session_id,
            model_seq_id=model_seq_id,
            base_model=base_model,
            lora_config=lora,
            user_metadata=dict(user_metadata) if user_metadata is not None else None,
            optimizer_config=optimizer_json(optimizer),
        )

    async def create_lora_training_client_async(
        self,
        base_model: str,
        rank: int = 32,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        user_metadata: Mapping[str, Any] | None = None,
        optimizer: OptimizerConfig | None = None,
        timeout: float | None = None,
    ) -> TrainingClient:
        """:meth:`create_lora_training_client`, as a coroutine: the submit runs off the event loop
        and the model's creation is awaited without blocking it (nor a thread)."""
        _check_timeout(timeout)
        future = await self.holder.off_loop(
            self._submit_lora, base_model, rank, seed, train_mlp, train_attn, train_unembed, user_metadata, optimizer
        )
        try:
            reply = await self.holder.wait(future, timeout)
        except FutureTimeoutError:
            raise _no_model(timeout) from None  # the wait cancelled the creation
        return TrainingClient(self.holder, reply.model_id, base_model=base_model)

    def _from_state(
        self,
        path: str,
        base_model: str | None,
        user_metadata: Mapping[str, Any] | None,
        weights_access_token: str | None,
        with_optimizer_state: bool,
        optimizer: OptimizerConfig | None = None,
    ) -> TrainingClient:
        """One ``load_weights`` addressed by session creates the model from the checkpoint (its
        LoRA settings come from the checkpoint), as tinker does: with the checkpoint's optimizer
        state, or with a fresh optimizer of ``optimizer``'s family (Adam when None)."""
        ParsedCheckpointTinkerPath.from_tinker_path(path)
        info = self.holder.call("weights.weights_info", tinker_path=path)  # its base model
        session_id = self.holder.session_id
        model_seq_id = self.holder.next_counter("model_seq_id")
        reply = self.holder.call(
            "weights.load_weights",
            session_id=session_id,
            model_seq_id=model_seq_id,
            base_model=base_model,
            user_metadata=dict(user_metadata) if user_metadata is not None else None,
            path=path,
            optimizer=with_optimizer_state,
            optimizer_config=None if with_optimizer_state else optimizer_json(optimizer),
            weights_access_token=weights_access_token,
        ).result()
        model_id = reply.model_id or f"{session_id}:train:{model_seq_id}"  # tinker's own derivation
        return TrainingClient(self.holder, model_id, base_model=base_model or info.base_model)

    def create_training_client_from_state(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        weights_access_token: str | None = None,
        optimizer: OptimizerConfig | None = None,
    ) -> TrainingClient:
        """A new training client initialised with a checkpoint's weights (LoRA settings from it);
        ``optimizer`` selects the new run's optimizer family (Adam by default)."""
        return self._from_state(path, base_model, user_metadata, weights_access_token, False, optimizer)

    async def create_training_client_from_state_async(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        weights_access_token: str | None = None,
        optimizer: OptimizerConfig | None = None,
    ) -> TrainingClient:
        """:meth:`create_training_client_from_state`, as a coroutine."""
        return await self.holder.run(
            self.create_training_client_from_state, path, base_model, user_metadata, weights_access_token, optimizer
        )

    def create_training_client_from_state_with_optimizer(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        weights_access_token: str | None = None,
    ) -> TrainingClient:
        """As :meth:`create_training_client_from_state`, also restoring the optimizer state."""
        return self._from_state(path, base_model, user_metadata, weights_access_token, True)

    async def create_training_client_from_state_with_optimizer_async(
        self,
        path: str,
        base_model: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        weights_access_token: str | None = None,
    ) -> TrainingClient:
        """:meth:`create_training_client_from_state_with_optimizer`, as a coroutine (off the event loop)."""
        return await self.holder.run(  # type: ignore[no-any-return]
            self.create_training_client_from_state_with_optimizer, path, base_model, user_metadata, weights_access_token
        )

    def create_sampling_client(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> SamplingClient:
        """A sampling client for saved sampler weights (``model_path``) or a ``base_model``.

        ``retry_config`` (a :class:`~tinkex_domain.retry_config.RetryConfig`) governs this
        client's sample submissions; ``record_stability_info`` asks the server to record
        stability data for its samples.
        """
        return SamplingClient.create(
            self.holder,
            model_path=model_path,
            base_model=base_model,
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )

    async def create_sampling_client_async(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        record_stability_info: bool = False,
    ) -> SamplingClient:
        """:meth:`create_sampling_client`, as a coroutine."""
        return await self.holder.run(
            self.create_sampling_client, model_path, base_model, retry_config, record_stability_info
        )

    def create_rest_client(self) -> RestClient:
        """A client for the REST resources (runs, checkpoints, sessions)."""
        return RestClient(self.holder)

    def close(
        self, status: Literal["success", "errored", "interrupted"] | None = None, detail: str | None = None
    ) -> APIFuture[None]:
        """End the session: heartbeats stop, unresolved futures fail, telemetry flushes.

        With a ``status`` (``success``, ``errored`` or ``interrupted``) and optional ``detail``
        the server is first told the session finished (first reason wins). Returns a done
        future; a failed finish call fails it (the client is closed either way).
        """
        if status is not None and status not in FINISH_STATUSES:
            raise ValidationError([("status", f"must be one of {', '.join(FINISH_STATUSES)}")], "close")
        if detail is not None and not isinstance(detail, str):
            raise ValidationError([("detail", "must be a string or None")], "close")
        if status is None or self.holder.closed:
            self.holder.close()
            return resolved(None, "close")
        session_id = self.holder.session_id

        def finish() -> None:
            try:
                self.holder.call(
                    "session.finish_session", session_id=session_id, reason={"type": status}, detail=detail
                )
            finally:
                self.holder.close()

        return run_now(finish, "session.finish_session")

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ServiceClient {self.holder.base_url}>"


def _check_timeout(timeout: Any) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValidationError(
            [("timeout", "must be a positive number of seconds or None")], "create_lora_training_client"
        )


def _no_model(timeout: float | None) -> APITimeoutError:
    return APITimeoutError(f"create_lora_training_client: no model after {timeout:g} s (is the server's queue paused?)")
