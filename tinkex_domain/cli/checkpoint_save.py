"""``tinkex checkpoint save`` and ``tinkex checkpoint push-hf``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from tinkex_domain.cli.context import Context
from tinkex_domain.cli.formatting import to_map


def default_name(model: str) -> str:
    """``checkpoint-<model with / and : replaced by ->`` in lower case."""
    return "checkpoint-" + model.replace("/", "-").replace(":", "-").lower()


def cmd_save(ctx: Context) -> int:
    """Create a LoRA training client, save sampler weights, write JSON metadata to ``--output``."""
    args = ctx.args
    service = ctx.service()
    if args.model_path:
        training = service.create_training_client_from_state(args.model_path)
        model = args.model_path
    else:
        training = service.create_lora_training_client(
            args.base_model, rank=args.rank, seed=args.seed, train_mlp=args.train_mlp,
            train_attn=args.train_attn, train_unembed=args.train_unembed,
        )
        model = args.base_model
    name = args.name or default_name(model)
    response = training.save_weights_for_sampler(name).result(timeout=args.timeout)
    data: dict[str, Any] = {
        "base_model": getattr(training, "base_model", None) or model,
        "model_id": training.model_id,
        "weights_path": response.path,
        "saved_at": ctx.now().astimezone(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "response": to_map(response),
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    ctx.emit({**data, "output": str(output)}, f"Checkpoint saved to {output}\nWeights: {response.path}")
    return 0


def cmd_push_hf(ctx: Context) -> int:
    """Export a LoRA checkpoint to a Hugging Face Hub model repository."""
    from tinkex_domain.hub import push_checkpoint_to_hub

    args = ctx.args
    result = push_checkpoint_to_hub(
        ctx.rest(), args.path, repo_id=args.repo, revision=args.revision, public=args.public, token=args.hf_token,
        commit_message=args.commit_message, create_pr=args.create_pr, add_model_card=not args.no_model_card,
        allow_patterns=args.allow_pattern or None, ignore_patterns=args.ignore_pattern or None,
    )
    data = {"command": "checkpoint", "action": "push_hf", "checkpoint_path": args.path, **result.as_dict()}
    ctx.emit(data, f"Uploaded {args.path} to {result.repo_id}\nRevision: {result.revision}\nPublic: {result.public}")
    return 0


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``save`` and ``push-hf`` under ``checkpoint``."""
    p = sub.add_parser("save", parents=[common], help="create a LoRA model and save its sampler weights",
                       description="Create a LoRA training client, save sampler weights, write their metadata.")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--base-model")
    model.add_argument("--model-path", help="tinker://<run>/weights/<name> to start from")
    p.add_argument("-o", "--output", required=True, help="file receiving the JSON metadata")
    p.add_argument("--name", help="checkpoint name (default: checkpoint-<model>)")
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--seed", type=int, default=None)
    for part in ("mlp", "attn", "unembed"):
        p.add_argument(f"--train-{part}", action=argparse.BooleanOptionalAction, default=True)
    p.set_defaults(func=cmd_save)

    p = sub.add_parser("push-hf", parents=[common], help="upload a LoRA checkpoint to the Hugging Face Hub",
                       description="Upload a LoRA checkpoint to the Hugging Face Hub (needs tinkex[hf]). The "
                                   "token comes from --hf-token, HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the token file.")
    p.add_argument("path", help="tinker://<run>/<weights|sampler_weights>/<name>")
    p.add_argument("--repo", help="repository id (default: <user>/tinker-<base model>-<run>)")
    p.add_argument("--revision", help="branch (default: main with --repo, else the checkpoint name)")
    p.add_argument("--public", action="store_true", help="create the repository public (default private)")
    p.add_argument("--commit-message")
    p.add_argument("--create-pr", action="store_true")
    p.add_argument("--allow-pattern", action="append", help="upload only matching files (repeatable)")
    p.add_argument("--ignore-pattern", action="append", help="skip matching files (repeatable)")
    p.add_argument("--hf-token", help="Hugging Face token (prefer HF_TOKEN: command lines are visible)")
    p.add_argument("--no-model-card", action="store_true", help="do not write a README.md model card")
    p.set_defaults(func=cmd_push_hf)
