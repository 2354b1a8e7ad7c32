"""Push a LoRA checkpoint to the Hugging Face Hub (``tinkex[hf]``), through ``huggingface_hub``.

Steps: find the token (before anything else: no token, no request), check it (``whoami``),
download and extract the checkpoint archive from Tinker, check the adapter files, fill in
``base_model_name_or_path``, write a model card, create the repository (and the branch), refuse
a repository whose card names a different checkpoint, and upload the folder in one commit.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from pristine_core.errors import PristineError
from tinkex_domain.checkpoint_download import download_checkpoint
from tinkex_domain.hf_token import require_hf_token
from tinkex_domain.types import ParsedCheckpointTinkerPath

#: A checkpoint needs its adapter config and weights in one of these files (the emulator's
#: byte-level models store their LoRA weights as ``weights.npz``).
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "weights.npz")
COMPLETE_MARKER = "checkpoint_complete"


class HubPushError(PristineError):
    """The push could not be done (bad token, incomplete checkpoint, a repository holding another
    checkpoint); ``category`` is ``user``."""

    category = "user"


@attrs.frozen
class PushResult:
    """Where the adapter went."""

    repo_id: str
    revision: str
    public: bool
    commit_url: str | None
    files: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able copy."""
        return {**attrs.asdict(self), "files": list(self.files)}


def sanitize(name: str) -> str:
    """Characters other than ``[A-Za-z0-9_.-]`` become ``-``, runs collapse, edges are trimmed."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", name)).strip("-.") or "checkpoint"


def model_card(tinker_path: str, base_model: str, lora_rank: int | None, modules: Sequence[str]) -> str:
    """A README.md for the adapter: YAML front matter, usage and the checkpoint's details."""
    lines = [
        "---",
        f"base_model: {base_model}",
        "library_name: peft",
        "tags:",
        "- tinker",
        "- peft",
        "- lora",
        f"- base_model:adapter:{base_model}",
        f"tinker_path: {tinker_path}",
        "---",
        "",
        f"# LoRA adapter for {base_model}",
        "",
        f"Trained with Tinker and exported from `{tinker_path}` by tinkex.",
        "",
        "## Usage",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        "",
        f'base = AutoModelForCausalLM.from_pretrained("{base_model}")',
        'model = PeftModel.from_pretrained(base, "<this repository>")',
        "```",
        "",
        "## Details",
        "",
        f"- Base model: `{base_model}`",
        f"- LoRA rank: {lora_rank if lora_rank is not None else 'unknown'}",
    ]
    if modules:
        lines.append(f"- Trained modules: {', '.join(modules)}")
    lines.append(f"- Source: `{tinker_path}`")
    return "\n".join(lines) + "\n"


def _hub(endpoint: str | None, token: str) -> tuple[Any, Any, Any]:
    try:
        hub = importlib.import_module("huggingface_hub")
        errors = importlib.import_module("huggingface_hub.errors")
    except ImportError:
        raise HubPushError("pushing to the Hub needs `huggingface_hub` (pip install 'tinkex[hf]')") from None
    return hub, errors, hub.HfApi(endpoint=endpoint, token=token)


def _weights_info(rest_client: Any, tinker_path: str) -> Any:
    try:
        return rest_client.get_weights_info_by_tinker_path(tinker_path).result()
    except PristineError:
        return None


def _prepare(folder: Path, tinker_path: str, base_model: str, info: Any, add_model_card: bool) -> None:
    missing = [n for n in (ADAPTER_CONFIG, COMPLETE_MARKER) if not (folder / n).is_file()]
    if not any((folder / n).is_file() for n in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if missing:
        raise HubPushError(f"{tinker_path} is not a complete LoRA adapter checkpoint: missing {', '.join(missing)}")
    config_path = folder / ADAPTER_CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not isinstance(config.get("base_model_name_or_path"), str):
        config["base_model_name_or_path"] = base_model
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    if add_model_card and not (folder / "README.md").exists():
        modules = [m for m in ("mlp", "attn", "unembed") if getattr(info, f"train_{m}", None)]
        rank = getattr(info, "lora_rank", None) or config.get("r") or config.get("rank")
        (folder / "README.md").write_text(model_card(tinker_path, base_model, rank, modules), encoding="utf-8")


def push_checkpoint_to_hub(
    rest_client: Any,
    tinker_path: str,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    public: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
    create_pr: bool = False,
    add_model_card: bool = True,
    allow_patterns: Sequence[str] | None = None,
    ignore_patterns: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PushResult:
    """Export the LoRA adapter at ``tinker_path`` to a Hub model repository.

    Without ``repo_id`` the repository is ``<user>/tinker-<base model>-<run id>`` and the
    revision the checkpoint name; with it, ``revision`` defaults to ``main``. ``endpoint``
    defaults to ``HF_ENDPOINT`` (else the public Hub). The token comes from ``token``,
    ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN`` or the token file (see :mod:`tinkex_domain.hf_token`);
    a missing one raises :class:`~tinkex_domain.hf_token.MissingHubTokenError` before any request.
    """
    parsed = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
    secret = require_hf_token(token, environ)
    env = os.environ if environ is None else environ
    hub, errors, api = _hub(endpoint or env.get("HF_ENDPOINT") or None, secret)
    try:
        user = api.whoami()["name"]
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 401:
            raise HubPushError("invalid Hugging Face token (the Hub answered 401 to whoami)") from None
        raise HubPushError(f"the Hub refused whoami: {str(exc).splitlines()[0]}") from None
    info = _weights_info(rest_client, tinker_path)
    base_model = str(getattr(info, "base_model", None) or "unknown")
    if repo_id is None:
        short = base_model.rsplit("/", 1)[-1]
        repo_id = f"{user}/{sanitize(f'tinker-{short}-{parsed.training_run_id}')}"
        revision = revision or sanitize(parsed.checkpoint_id)
    elif "/" not in repo_id:
        repo_id = f"{user}/{repo_id}"
    revision = revision or "main"
    with tempfile.TemporaryDirectory(prefix="tinkex_hub_") as scratch:
        folder = download_checkpoint(rest_client, tinker_path, output_dir=scratch).destination
        _prepare(folder, tinker_path, base_model, info, add_model_card)
        url = api.create_repo(repo_id, private=not public, exist_ok=True, repo_type="model")
        repo_id = getattr(url, "repo_id", None) or repo_id
        if revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        _refuse_other_checkpoint(hub, errors, api, repo_id, revision, tinker_path, Path(scratch) / "card")
        ignore = list(ignore_patterns or [])
        if not allow_patterns:
            ignore.append(COMPLETE_MARKER)
        files = sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE_MARKER
        )
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            revision=revision,
            commit_message=commit_message or f"Upload adapter from {tinker_path}",
            allow_patterns=list(allow_patterns) if allow_patterns else None,
            ignore_patterns=ignore or None,
            create_pr=create_pr,
        )
    commit_url = getattr(commit, "commit_url", None) or (str(commit) if commit else None)
    return PushResult(repo_id=repo_id, revision=revision, public=public, commit_url=commit_url, files=tuple(files))


def _refuse_other_checkpoint(
    hub: Any, errors: Any, api: Any, repo_id: str, revision: str, tinker_path: str, cache_dir: Path
) -> None:
    """A repository whose card names another ``tinker://`` path is not overwritten."""
    try:
        path = hub.hf_hub_download(repo_id, "README.md", revision=revision, endpoint=api.endpoint, token=api.token,
                                   cache_dir=str(cache_dir))
    except (errors.EntryNotFoundError, errors.RevisionNotFoundError, errors.RepositoryNotFoundError):
        return
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    others = set(re.findall(r"tinker://[^\s`'\"]+", text)) - {tinker_path}
    if others:
        raise HubPushError(
            f"repo {repo_id}@{revision} appears to contain a different Tinker checkpoint ({sorted(others)[0]})"
        )

