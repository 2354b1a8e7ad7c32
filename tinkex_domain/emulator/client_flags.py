"""What ``client/config`` and ``client/dynamic_config`` tell an official tinker SDK.

The official SDK asks these at start-up and adapts: compression of protobuf fwd/bwd bodies,
parallel chunk dispatch, the batched ``retrieve_futures`` poller for samples, JWT exchange.
``fwdbwd_protobuf`` is Tinkex's own flag (the official SDK always sends protobuf): when true,
Tinkex sends forward/forward_backward as protobuf too, and asks for fwd/bwd and sample results
as protobuf (``Accept: application/x-protobuf``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen(slots=True)
class ClientFlags:
    """Flags the emulator advertises; every field is optional on the wire."""

    pjwt_auth_enabled: bool = False
    proto_compress_fwdbwd: bool = False
    parallel_fwdbwd_chunks: bool = True
    fwdbwd_max_chunk_len: int = attrs.field(default=1024, validator=attrs.validators.ge(1))
    sample_use_retrieve_futures: bool = False
    use_pyqwest_transport: bool = True
    sample_no_retries: bool = False
    fwdbwd_protobuf: bool = False
    dynamic_refresh_interval_sec: int = attrs.field(default=300, validator=attrs.validators.ge(1))
    sample_cancel_enabled: bool = False
    jwt_ttl_s: int = attrs.field(default=3600, validator=attrs.validators.ge(60))

    def client_config(self) -> dict[str, Any]:
        """The ``client/config`` reply."""
        return {
            "pjwt_auth_enabled": self.pjwt_auth_enabled,
            "credential_default_source": "api_key",
            "proto_compress_fwdbwd": self.proto_compress_fwdbwd,
            "parallel_fwdbwd_chunks": self.parallel_fwdbwd_chunks,
            "fwdbwd_max_chunk_len": self.fwdbwd_max_chunk_len,
            "sample_use_retrieve_futures": self.sample_use_retrieve_futures,
            "use_pyqwest_transport": self.use_pyqwest_transport,
            "sample_no_retries": self.sample_no_retries,
            "custom_loss_server_side": False,
            "sample_join_sampling_session": False,
            "fwdbwd_protobuf": self.fwdbwd_protobuf,
        }

    def dynamic_config(self) -> dict[str, Any]:
        """The ``client/dynamic_config`` reply."""
        return {"refresh_interval_sec": self.dynamic_refresh_interval_sec,
                "sample_cancel_enabled": self.sample_cancel_enabled,
                "sample_cancel_max_batch_size": 64}

    @classmethod
    def parse(cls, items: list[str] | Mapping[str, Any]) -> ClientFlags:
        """From ``NAME=VALUE`` strings (the CLI's ``--client-flag``) or a mapping."""
        fields = attrs.fields_dict(cls)
        raw: dict[str, Any] = {}
        pairs = items.items() if isinstance(items, Mapping) else [_split(i) for i in items]
        for name, value in pairs:
            if name not in fields:
                raise ValueError(f"unknown client flag {name!r} (known: {', '.join(fields)})")
            raw[name] = _coerce(name, value, fields[name].type)
        return cls(**raw)


def _split(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"client flag {item!r}: expected NAME=VALUE")
    return name.strip(), value.strip()


def _coerce(name: str, value: Any, kind: Any) -> Any:
    if not isinstance(value, str):
        return value
    if kind in (bool, "bool"):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"client flag {name}: expected true/false, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"client flag {name}: expected an integer, got {value!r}") from None
