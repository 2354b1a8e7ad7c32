"""The Tinkex domain plugin: rich value classes for the Tinker manifest, and byte estimates."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import hookimpl
from pristine_core.bands import DOMAIN
from pristine_core.contract import PluginSettings, settings
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import Call, Response

if TYPE_CHECKING:
    from pristine_core.client import Client

#: Manifest name of the API this plugin knows; other manifests are left alone.
MANIFEST_NAME = "tinker"
#: Request body field holding the forward/backward input, per endpoint.
_TRAIN_INPUT_FIELDS = {"training.forward": "forward_input", "training.forward_backward": "forward_backward_input"}
_SAMPLE_ENDPOINTS = ("sampling.asample", "sampling.stream_sample")


@settings
class TinkexConfig:
    """``Client(config=...)`` keys Tinkex reads: what it passes to the session it creates
    (``features.session``'s ``body_from_config`` copies them into the create-session body) and
    ``feature_gates`` (``TINKER_FEATURE_GATES``)."""

    user_metadata: Mapping[str, Any] | None = None
    project_id: str | None = None
    display_name: str | None = None
    tags: tuple[str, ...] | None = None
    feature_gates: tuple[str, ...] | None = None


SETTINGS = PluginSettings(config=TinkexConfig)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class TinkexPlugin:
    """Supplies ``tinkex_domain.types`` classes for the manifest's types (so requests are dumped
    from and responses parsed into them) and token-based byte estimates for the pool's budgets."""

    name = "tinkex"
    priority = DOMAIN

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """The config keys Tinkex sets for the session's create body."""
        return SETTINGS

    @hookimpl
    def pristine_type_classes(self, manifest: Manifest) -> dict[str, type] | None:
        """The Tinkex classes for the type names the manifest declares (Tinker manifests only)."""
        if manifest.name != MANIFEST_NAME:
            return None
        from tinkex_domain.types import TYPE_CLASSES  # numpy: loaded when a client needs it

        return {name: cls for name, cls in TYPE_CLASSES.items() if name in manifest.types}

    @hookimpl
    def pristine_applies_to(self, client: Client, endpoint: Endpoint) -> bool:
        """Only the sampling and training endpoints of a Tinker manifest."""
        if client.meta.manifest.name != MANIFEST_NAME:
            return False
        name = endpoint.qualified_name
        return name in _SAMPLE_ENDPOINTS or name in _TRAIN_INPUT_FIELDS

    @hookimpl
    def pristine_estimate_bytes(self, call: Call) -> int | None:
        """Sampling: 10 bytes per prompt token (+ image bytes); forward/backward: the datum estimate."""
        if call.client.meta.manifest.name != MANIFEST_NAME:
            return None
        from tinkex_domain.chunking import data_bytes, prompt_bytes

        name = call.endpoint.qualified_name
        body = call.body
        if name in _SAMPLE_ENDPOINTS:
            prompt = _get(body, "prompt")
            return prompt_bytes(prompt) if prompt is not None else None
        field = _TRAIN_INPUT_FIELDS.get(name)
        if field is not None:
            data = _get(_get(body, field), "data")
            return data_bytes(data) if data is not None else None
        return None

    @hookimpl(wrapper=True)
    def pristine_process_response(self, call: Call, response: Response) -> Generator[None, Any, Any]:
        """Sampling submits: the reply's ``sample_sequence_ids`` (one id per requested sample)
        stay on the future the futures plugin made for it, as ``sample_sequence_ids``; the
        sampling client gives each returned sequence its id."""
        result = yield
        if result is None or call.endpoint.qualified_name != "sampling.asample":
            return result
        if call.client.meta.manifest.name != MANIFEST_NAME:
            return result
        try:
            data = response.json()
        except ValueError:
            return result
        ids = data.get("sample_sequence_ids") if isinstance(data, Mapping) else None
        if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
            try:
                result.sample_sequence_ids = tuple(ids)
            except AttributeError:  # a result that takes no attributes: nothing to attach to
                pass
        return result
