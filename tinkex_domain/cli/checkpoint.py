"""``tinkex checkpoint list|info|download|delete|publish|unpublish|set-ttl``."""

from __future__ import annotations

import argparse
from typing import Any

from pristine_core.errors import PristineError
from tinkex_domain.archive_limits import DEFAULT_LIMITS, ExtractionLimits
from tinkex_domain.checkpoint_download import download_checkpoint
from tinkex_domain.cli import checkpoint_save, options
from tinkex_domain.cli.context import CommandError, Context
from tinkex_domain.cli.formatting import (
    checkpoint_to_map,
    format_datetime,
    format_expiration,
    format_lora,
    format_size,
    paginate,
    render_properties,
    render_table,
    to_map,
)
from tinkex_domain.types import ParsedCheckpointTinkerPath

USER_PAGE_SIZE = 1000
HEADERS = ("Checkpoint ID", "Type", "Size", "Public", "Created", "Expires", "Path")


def _parse(path: str) -> ParsedCheckpointTinkerPath:
    return ParsedCheckpointTinkerPath.from_tinker_path(path)


def _row(ctx: Context, ckpt: Any) -> list[str]:
    now = ctx.now()
    return [
        ckpt.checkpoint_id, ckpt.checkpoint_type, format_size(ckpt.size_bytes), "Yes" if ckpt.public else "No",
        format_datetime(ckpt.time, now), format_expiration(ckpt.expires_at, now), ckpt.tinker_path,
    ]


def cmd_list(ctx: Context) -> int:
    """List a run's checkpoints (``--run-id``) or all the user's, paginated."""
    args, rest = ctx.args, ctx.rest()
    if args.limit < 0 or args.offset < 0:
        raise CommandError("--limit and --offset must be >= 0")
    if args.run_id:
        everything = list(rest.list_checkpoints(args.run_id).result().checkpoints)
        items = everything[args.offset :]
        items = items[: args.limit] if args.limit else items
        total: int | None = len(everything)
        title = f"Checkpoints for {args.run_id}"
    else:
        def fetch(limit: int, offset: int) -> tuple[list[Any], int | None]:
            page = rest.list_user_checkpoints(limit=limit, offset=offset).result()
            return list(page.checkpoints), page.cursor.total_count if page.cursor else None

        items, total = paginate(fetch, limit=args.limit, offset=args.offset, page_size=USER_PAGE_SIZE,
                                label="checkpoints", progress=ctx.stderr)
        title = "Checkpoints"
    data: dict[str, Any] = {"checkpoints": [checkpoint_to_map(c) for c in items], "total": total, "shown": len(items)}
    if args.run_id:
        data["run_id"] = args.run_id
    shown_total = total if total is not None else "?"
    ctx.emit(data, lambda: f"{title} ({len(items)}/{shown_total})\n" + render_table(
        HEADERS, [_row(ctx, c) for c in items]))
    return 0


def cmd_info(ctx: Context) -> int:
    """One checkpoint: its listing entry merged with the weights info."""
    path = ctx.args.path
    parsed = _parse(path)
    rest = ctx.rest()
    listing = rest.list_checkpoints(parsed.training_run_id).result().checkpoints
    found = next((c for c in listing if c.tinker_path == path or c.checkpoint_id == parsed.checkpoint_id), None)
    if found is None:
        raise CommandError(f"checkpoint {path} not found")
    info: dict[str, Any] = {}
    try:
        info = to_map(rest.get_weights_info_by_tinker_path(path).result())
    except PristineError as exc:  # the listing is still worth showing
        info = {"weights_info_error": str(exc)}
    data = {**checkpoint_to_map(found), **info}
    now = ctx.now()
    pairs: list[tuple[str, Any]] = [
        ("Checkpoint ID", found.checkpoint_id), ("Training run ID", data.get("training_run_id")),
        ("Type", found.checkpoint_type), ("Path", found.tinker_path), ("Size", format_size(found.size_bytes)),
        ("Public", "Yes" if found.public else "No"), ("Created", format_datetime(found.time, now)),
        ("Expires", format_expiration(found.expires_at, now)),
    ]
    if "base_model" in info:
        pairs += [("Base model", info["base_model"]), ("LoRA", format_lora(info.get("is_lora"), info.get("lora_rank")))]
        for key, label in (("train_attn", "Train attention"), ("train_mlp", "Train MLP"),
                           ("train_unembed", "Train unembed")):
            if info.get(key) is not None:
                pairs.append((label, "Yes" if info[key] else "No"))
    ctx.emit(data, lambda: render_properties(pairs))
    return 0


def cmd_publish(ctx: Context) -> int:
    """Make a checkpoint public (or private again with ``unpublish``)."""
    path, action = ctx.args.path, ctx.args.action
    _parse(path)
    rest = ctx.rest()
    if action == "publish":
        rest.publish_checkpoint_from_tinker_path(path).result()
    else:
        rest.unpublish_checkpoint_from_tinker_path(path).result()
    ctx.emit({"action": action, "path": path}, f"{action.capitalize()}ed {path}")
    return 0


def cmd_set_ttl(ctx: Context) -> int:
    """Set (``--ttl``) or remove (``--remove``) a checkpoint's expiry."""
    args = ctx.args
    _parse(args.path)
    if args.ttl is not None and args.ttl < 1:
        raise CommandError("--ttl must be a positive number of seconds")
    ttl = None if args.remove else args.ttl
    ctx.rest().set_checkpoint_ttl_from_tinker_path(args.path, ttl).result()
    data = {"command": "checkpoint", "action": "set_ttl", "path": args.path, "ttl_seconds": ttl, "remove": args.remove}
    text = f"Removed expiration for {args.path}" if args.remove else f"Updated TTL for {args.path} to {ttl} seconds"
    ctx.emit(data, text)
    return 0


def _confirm(ctx: Context, paths: list[str]) -> bool:
    ctx.out(f"About to delete {len(paths)} checkpoint(s):")
    for path in paths:
        ctx.out(f"  {path}")
    ctx.stdout.write("Proceed? [y/N] ")
    ctx.stdout.flush()
    answer = ctx.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def cmd_delete(ctx: Context) -> int:
    """Delete checkpoints (all paths validated first; asks unless ``--yes``; goes on after failures)."""
    paths: list[str] = ctx.args.paths
    for path in paths:
        _parse(path)
    if not ctx.args.yes and not _confirm(ctx, paths):
        data = {"command": "checkpoint", "action": "delete", "paths": paths, "cancelled": True}
        ctx.emit(data, f"Aborted delete of {len(paths)} checkpoint(s).")
        return 0
    rest = ctx.rest()
    deleted: list[str] = []
    failures: list[dict[str, str]] = []
    for i, path in enumerate(paths, 1):
        if not ctx.json:
            ctx.out(f"Deleting {i}/{len(paths)}: {path}")
        try:
            rest.delete_checkpoint_from_tinker_path(path).result()
        except PristineError as exc:
            failures.append({"path": path, "error": str(exc)})
            if not ctx.json:
                ctx.err(f"Failed to delete {path}: {exc}")
            continue
        deleted.append(path)
        if not ctx.json:
            ctx.out(f"Deleted {path}")
    if ctx.json:
        ctx.emit({"command": "checkpoint", "action": "delete", "paths": paths, "deleted": deleted,
                  "failed": len(failures), "failures": failures}, "")
    elif failures:
        ctx.err(f"{len(failures)} of {len(paths)} deletion(s) failed")
    return 1 if failures else 0


def cmd_download(ctx: Context) -> int:
    """Download and extract a checkpoint archive."""
    args = ctx.args
    _parse(args.path)
    last = [-1]

    def progress(done: int, total: int) -> None:
        percent = int(done * 100 / total) if total else 100
        if percent != last[0] and not ctx.json:
            last[0] = percent
            ctx.stderr.write(f"\rDownloading: {percent:3d}% ({format_size(done)} / {format_size(total)})")
            ctx.stderr.flush()

    limits = ExtractionLimits(
        max_total_bytes=args.max_total_bytes,
        max_files=args.max_files,
        max_file_bytes=args.max_file_bytes,
        max_ratio=args.max_ratio,
    )
    result = download_checkpoint(
        ctx.rest(), args.path, output_dir=args.output, force=args.force, progress=progress, limits=limits
    )
    if last[0] >= 0:
        ctx.stderr.write("\n")
    data = {"path": args.path, "destination": str(result.destination), "bytes": result.bytes_downloaded}
    ctx.emit(data, f"Downloaded to {result.destination}")
    return 0


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Register ``checkpoint`` and its subcommands."""
    group = subparsers.add_parser(
        "checkpoint", help=options.COMMAND_HELP["checkpoint"], description="Manage checkpoints."
    )
    sub = group.add_subparsers(dest="subcommand", metavar="<command>", required=True)
    p = sub.add_parser("list", parents=[common], help="list checkpoints")
    p.add_argument("--run-id", help="only this training run's checkpoints")
    p.add_argument("--limit", type=int, default=20, help="how many to show; 0 = all (default %(default)s)")
    p.add_argument("--offset", type=int, default=0, help="skip this many (default %(default)s)")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", parents=[common], help="show one checkpoint")
    p.add_argument("path", help="tinker://<run>/<weights|sampler_weights>/<name>")
    p.set_defaults(func=cmd_info)
    for action in ("publish", "unpublish"):
        p = sub.add_parser(action, parents=[common], help=f"{action} a checkpoint")
        p.add_argument("path")
        p.set_defaults(func=cmd_publish, action=action)
    p = sub.add_parser("set-ttl", parents=[common], help="set or remove a checkpoint's expiry")
    p.add_argument("path")
    ttl = p.add_mutually_exclusive_group(required=True)
    ttl.add_argument("--ttl", type=int, help="expire this many seconds from now")
    ttl.add_argument("--remove", action="store_true", help="never expire")
    p.set_defaults(func=cmd_set_ttl)
    p = sub.add_parser("delete", parents=[common], help="delete checkpoints")
    p.add_argument("paths", nargs="+", metavar="path")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)
    p = sub.add_parser("download", parents=[common], help="download and extract a checkpoint")
    p.add_argument("path")
    p.add_argument("-o", "--output", default=".", help="directory to extract into (default: current)")
    p.add_argument("--force", action="store_true", help="replace an existing download")
    p.add_argument("--max-total-bytes", type=int, default=DEFAULT_LIMITS.max_total_bytes,
                   help="refuse archives extracting to more bytes (default %(default)s)")
    p.add_argument("--max-files", type=int, default=DEFAULT_LIMITS.max_files,
                   help="refuse archives with more members (default %(default)s)")
    p.add_argument("--max-file-bytes", type=int, default=DEFAULT_LIMITS.max_file_bytes,
                   help="refuse archives with a larger member (default %(default)s)")
    p.add_argument("--max-ratio", type=float, default=DEFAULT_LIMITS.max_ratio,
                   help="refuse archives expanding more than this many times (default %(default)s)")
    p.set_defaults(func=cmd_download)
    checkpoint_save.add_parsers(sub, common)
