"""Where a Hugging Face token comes from: the caller, then ``HF_TOKEN``, then
``HUGGING_FACE_HUB_TOKEN``, then the token file (``HF_TOKEN_PATH``, else ``$HF_HOME/token`` with
``HF_HOME`` defaulting to ``$XDG_CACHE_HOME/huggingface`` or ``~/.cache/huggingface``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pristine_core.config import env_str
from pristine_core.errors import ValidationError
from pristine_runtime.secrets import register_secret

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


class MissingHubTokenError(ValidationError):
    """No Hugging Face token was found; the message lists every place that was searched."""


def hf_home(environ: Mapping[str, str] | None = None) -> Path:
    """``HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``."""
    home = env_str("HF_HOME", None, environ)
    if home:
        return Path(home).expanduser()
    cache = env_str("XDG_CACHE_HOME", None, environ)
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "huggingface"


def hf_token_path(environ: Mapping[str, str] | None = None) -> Path:
    """``HF_TOKEN_PATH``, else ``<hf_home>/token``."""
    path = env_str("HF_TOKEN_PATH", None, environ)
    return Path(path).expanduser() if path else hf_home(environ) / "token"


def find_hf_token(token: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The first non-blank token of the sources above, or None (registered as a secret, so it
    never appears in logs or error messages)."""
    candidates = [token, *(env_str(name, None, environ) for name in TOKEN_VARIABLES)]
    found = next((c.strip() for c in candidates if c and c.strip()), None)
    if found is None:
        path = hf_token_path(environ)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        found = text or None
    if found:
        register_secret(found)
    return found


def require_hf_token(token: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """:func:`find_hf_token`, or :class:`MissingHubTokenError` naming every source searched."""
    found = find_hf_token(token, environ)
    if found is None:
        where = f"the token argument, {', '.join(TOKEN_VARIABLES)}, the file {hf_token_path(environ)}"
        raise MissingHubTokenError([("hf_token", f"no Hugging Face token found (searched {where})")], "push to hub")
    return found
