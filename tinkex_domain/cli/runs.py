"""``tinkex run list|info``, ``tinkex sample`` and ``tinkex version``."""

from __future__ import annotations

import argparse
import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from tinkex_domain.cli import options
from tinkex_domain.cli.context import CommandError, Context
from tinkex_domain.cli.formatting import (
    format_datetime,
    format_expiration,
    format_lora,
    format_status,
    paginate,
    render_properties,
    render_table,
    to_map,
)

RUN_PAGE_SIZE = 100
FALLBACK_VERSION = "0.1.0"


def cmd_run_list(ctx: Context) -> int:
    """Training runs, paginated (``--limit 0`` = all)."""
    args, rest = ctx.args, ctx.rest()
    if args.limit < 0 or args.offset < 0:
        raise CommandError("--limit and --offset must be >= 0")

    def fetch(limit: int, offset: int) -> tuple[list[Any], int | None]:
        page = rest.list_training_runs(limit=limit, offset=offset, access_scope=args.access_scope).result()
        return list(page.training_runs), page.cursor.total_count if page.cursor else None

    runs, total = paginate(fetch, limit=args.limit, offset=args.offset, page_size=RUN_PAGE_SIZE,
                           label="training runs", progress=ctx.stderr)
    now = ctx.now()
    rows = [
        [r.training_run_id, r.base_model, r.model_owner or "", format_lora(r.is_lora, r.lora_rank),
         format_status(r.corrupted), format_datetime(r.last_request_time, now)]
        for r in runs
    ]
    data = {"runs": [to_map(r) for r in runs], "total": total, "shown": len(runs)}
    shown_total = total if total is not None else "?"
    ctx.emit(data, lambda: f"Training runs ({len(runs)}/{shown_total})\n" + render_table(
        ("Run ID", "Base Model", "Owner", "LoRA", "Status", "Last Update"), rows))
    return 0


def _checkpoint_pairs(label: str, ckpt: Any, ctx: Context) -> list[tuple[str, Any]]:
    if ckpt is None:
        return [(label, "None")]
    now = ctx.now()
    return [
        (label, ckpt.checkpoint_id), (f"  {'Time'}", format_datetime(ckpt.time, now)),
        ("  Expires", format_expiration(ckpt.expires_at, now)), ("  Path", ckpt.tinker_path),
    ]


def cmd_run_info(ctx: Context) -> int:
    """One training run."""
    run = ctx.rest().get_training_run(ctx.args.run_id, access_scope=ctx.args.access_scope).result()

    def text() -> str:
        pairs: list[tuple[str, Any]] = [
            ("Owner", run.model_owner or ""), ("LoRA", format_lora(run.is_lora, run.lora_rank)),
            ("Status", format_status(run.corrupted)),
            ("Last update", format_datetime(run.last_request_time, ctx.now())),
        ]
        pairs += _checkpoint_pairs("Last training checkpoint", run.last_checkpoint, ctx)
        pairs += _checkpoint_pairs("Last sampler checkpoint", run.last_sampler_checkpoint, ctx)
        meta = run.user_metadata or {}
        pairs.append(("Metadata", ", ".join(f"{k}={v}" for k, v in sorted(meta.items())) or "None"))
        return f"{run.training_run_id} ({run.base_model})\n" + render_properties(pairs)

    ctx.emit(to_map(run), text)
    return 0


def _prompt_tokens(ctx: Context, tokenizer_for: Any) -> list[int]:
    args = ctx.args
    if args.prompt_file:
        raw = Path(args.prompt_file).read_text(encoding="utf-8")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            parsed = parsed.get("tokens")
        if isinstance(parsed, list) and all(isinstance(t, int) for t in parsed):
            return list(parsed)
        text = raw
    else:
        text = args.prompt
    return list(tokenizer_for().encode(text))


def cmd_sample(ctx: Context) -> int:
    """Sample from a base model or saved sampler weights."""
    from tinkex_domain.types import ModelInput, SamplingParams

    args = ctx.args
    client = ctx.service().create_sampling_client(model_path=args.model_path, base_model=args.base_model)
    tokens = _prompt_tokens(ctx, client.get_tokenizer)
    params = SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, top_k=args.top_k,
                            top_p=args.top_p, seed=args.seed)
    reply = client.sample(ModelInput.from_ints(tokens), args.num_samples, params).result()
    tokenizer = client.get_tokenizer()
    data = {"sequences": [{"tokens": list(s.tokens), "logprobs": s.logprobs, "stop_reason": s.stop_reason,
                           "text": tokenizer.decode(s.tokens)} for s in reply.sequences]}
    if args.output:
        Path(args.output).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if ctx.json:
        ctx.emit(data, "")
        return 0
    blocks = []
    for i, seq in enumerate(reply.sequences, 1):
        logprobs = [lp for lp in (seq.logprobs or []) if lp is not None]
        average = f"{sum(logprobs) / len(logprobs):.3f}" if logprobs else "n/a"
        blocks.append(f"Sample {i}:\n{tokenizer.decode(seq.tokens)}\nstop_reason={seq.stop_reason} | "
                      f"avg_logprob={average}")
    ctx.out("\n\n".join(blocks))
    return 0


def version_info() -> dict[str, str | None]:
    """The installed tinkex version and, in a git checkout, the short commit."""
    try:
        version = metadata.version("tinkex")
    except metadata.PackageNotFoundError:
        version = FALLBACK_VERSION
    commit: str | None = None
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5, check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            commit = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"version": version, "commit": commit}


DEPENDENCIES = ("pristine-core", "requests", "urllib3", "pluggy", "attrs", "cattrs", "structlog", "numpy",
                "huggingface_hub", "tokenizers", "tiktoken", "opentelemetry-api")


def dependency_versions() -> dict[str, str | None]:
    """Installed versions of Pristine, every ``pristine-*`` plugin and the main libraries (None: absent)."""
    names = set(DEPENDENCIES)
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("pristine-"):
            names.add(name)
    versions: dict[str, str | None] = {}
    for name in sorted(names, key=str.lower):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cmd_version(ctx: Context) -> int:
    """``tinkex <version> (<commit>)``; with ``--deps`` the dependency versions too."""
    info: dict[str, Any] = dict(version_info())
    text = f"tinkex {info['version']}" + (f" ({info['commit']})" if info["commit"] else "")
    if getattr(ctx.args, "deps", False):
        info["dependencies"] = dependency_versions()
        lines = [f"  {name} {version or '(not installed)'}" for name, version in info["dependencies"].items()]
        text = "\n".join([text, "dependencies:", *lines])
    ctx.emit(info, text)
    return 0


def manifest_pools() -> list[str]:
    """The pool names of the Tinker manifest."""
    from importlib import resources

    doc = json.loads(resources.files("tinkex_domain").joinpath("manifest.json").read_text(encoding="utf-8"))
    return sorted(doc.get("pools", {}))


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``run``, ``sample`` and ``version``."""
    group = subparsers.add_parser("run", help=options.COMMAND_HELP["run"], description="Inspect training runs.")
    sub = group.add_subparsers(dest="subcommand", metavar="<command>", required=True)
    p = sub.add_parser("list", parents=[common], help="list training runs")
    p.add_argument("--limit", type=int, default=20, help="how many to show; 0 = all (default %(default)s)")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--access-scope", choices=("owned", "accessible"), default="owned")
    p.set_defaults(func=cmd_run_list)
    p = sub.add_parser("info", parents=[common], help="show one training run")
    p.add_argument("run_id")
    p.add_argument("--access-scope", choices=("owned", "accessible"), default="owned")
    p.set_defaults(func=cmd_run_info)

    p = subparsers.add_parser("sample", parents=[common], help=options.COMMAND_HELP["sample"],
                              description="Sample from a base model or saved sampler weights.")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--base-model")
    model.add_argument("--model-path", help="tinker://<run>/sampler_weights/<name>")
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="prompt text")
    prompt.add_argument("--prompt-file", help="text, or JSON token ids ([..] or {\"tokens\": [..]})")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=-1)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("-o", "--output", help="also write the samples (tokens, text, logprobs) as JSON to this file")
    p.add_argument("--http-pool", choices=manifest_pools(), help="connection pool for the default-pool endpoints")
    p.set_defaults(func=cmd_sample)

    p = subparsers.add_parser("version", parents=[common], help=options.COMMAND_HELP["version"])
    p.add_argument("--deps", action="store_true", help="also list the installed Pristine/Tinkex distributions")
    p.set_defaults(func=cmd_version)
