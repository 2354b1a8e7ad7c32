"""Build every distribution of the repository into a wheelhouse, offline.

    python scripts/wheels.py OUT_DIR [--deps] [--cache DIR]

- Distributions are found generically: every ``pyproject.toml`` in the tree with a ``[project]``
  table (virtualenvs, build and dist folders skipped), so new plugins are picked up.
- Wheels are built with ``pip wheel --no-deps --no-build-isolation`` (no package index needed;
  the running interpreter must have ``setuptools>=77``), each from an emptied ``build/`` folder.
  With ``--cache`` a wheel is reused while its sources are unchanged (keyed on a hash of the
  project's files).
- ``--deps`` also puts wheels of the third-party dependencies into OUT_DIR, repacked from the
  distributions installed in the running interpreter (no download): a virtualenv can then
  ``pip install --no-index --find-links OUT_DIR "tinkex[all]"``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "build", "dist", "node_modules", ".git", "site", "__pycache__"}
SOURCE_SUFFIXES = {".py", ".toml", ".json", ".md", ".txt", ".typed", ".cfg"}


def projects(root: Path = ROOT) -> dict[str, Path]:
    """Distribution name -> project folder, for every pyproject.toml with a [project] table."""
    found: dict[str, Path] = {}
    for pyproject in sorted(root.rglob("pyproject.toml")):
        rel = pyproject.relative_to(root).parts
        if any(part in SKIP_DIRS or part.startswith((".venv", ".")) for part in rel[:-1]):
            continue
        data = tomllib.loads(pyproject.read_text())
        if "project" in data:
            found[data["project"]["name"]] = pyproject.parent
    return found


def _own_files(folder: Path, all_projects: list[Path]) -> list[Path]:
    nested = [p for p in all_projects if p != folder and folder in p.parents]
    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or (path.suffix not in SOURCE_SUFFIXES and path.name != "LICENSE"):
            continue
        rel = path.relative_to(folder).parts
        if any(part in SKIP_DIRS or part == "tests" or part.endswith(".egg-info") for part in rel):
            continue
        if any(n in path.parents for n in nested):
            continue
        files.append(path)
    return files


def source_hash(folder: Path, all_projects: list[Path]) -> str:
    """A hash of the project's own source files (nested projects and tests excluded)."""
    digest = hashlib.sha256()
    for path in _own_files(folder, all_projects):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(out: Path, cache: Path | None = None, *, quiet: bool = True) -> list[Path]:
    """Build a wheel of every project into ``out``; returns the wheel paths."""
    out.mkdir(parents=True, exist_ok=True)
    found = projects()
    folders = list(found.values())
    wheels: list[Path] = []
    todo: list[tuple[str, Path, Path | None]] = []
    for name, folder in found.items():
        slot = cache / f"{name}-{source_hash(folder, folders)}" if cache else None
        cached = sorted(slot.glob("*.whl")) if slot and slot.is_dir() else []
        if cached:
            for wheel in cached:
                wheels.append(Path(shutil.copy2(wheel, out)))
        else:
            todo.append((name, folder, slot))
    if todo:
        for _, folder, _ in todo:
            # setuptools copies sources into build/lib and never removes what is gone from the
            # tree: a module moved to another distribution would still ship from a stale copy.
            shutil.rmtree(folder / "build", ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "--no-build-isolation"]
        scratch = out / ".fresh"
        shutil.rmtree(scratch, ignore_errors=True)
        result = subprocess.run(
            [*pip, *(["--quiet"] if quiet else []), "-w", str(scratch), *(str(f) for _, f, _ in todo)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise SystemExit(f"building wheels failed:\n{result.stdout}\n{result.stderr}")
        for wheel in sorted(scratch.glob("*.whl")):
            dist = _dist_name(wheel.name)
            for _, _, slot in (t for t in todo if _norm(t[0]) == dist):
                if slot is not None:
                    slot.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(wheel, slot)
            wheels.append(Path(shutil.move(str(wheel), out / wheel.name)))
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(wheels)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _dist_name(wheel_name: str) -> str:
    return _norm(wheel_name.split("-")[0])


def _requirement_names(requirements: list[str] | None, extras: set[str]) -> list[tuple[str, set[str]]]:
    """(name, requested extras) of the requirements that apply (markers and extras evaluated)."""
    names = []
    for req in requirements or []:
        spec, _, marker = req.partition(";")
        if "extra ==" in marker and not any(f'"{e}"' in marker or f"'{e}'" in marker for e in extras):
            continue
        if marker.strip() and "extra ==" not in marker:
            try:
                from packaging.markers import Marker  # type: ignore[import-not-found]

                if not Marker(marker.strip()).evaluate():
                    continue
            except ImportError:
                pass
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?", spec)
        if match:
            wanted = {e.strip() for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip()}
            names.append((match.group(1), wanted))
    return names


def third_party(ours: set[str], top: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``top`` (ours, with extras 'all') need, transitively, minus ours."""
    seen: dict[str, metadata.Distribution] = {}
    expanded: dict[str, set[str]] = {}
    stack = [(name, {"all"}) for name in top]
    while stack:
        name, extras = stack.pop()
        key = _norm(name)
        if key in seen:
            if extras - expanded.get(key, set()):  # the same distribution, now with more extras
                expanded[key] = expanded.get(key, set()) | extras
                stack.extend(_requirement_names(seen[key].requires, extras))
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed in {sys.prefix}: cannot repack it offline") from None
        seen[key] = dist
        expanded[key] = set(extras)
        stack.extend(_requirement_names(dist.requires, extras))
    return [d for k, d in sorted(seen.items()) if k not in {_norm(o) for o in ours}]


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """Rebuild a wheel from an installed distribution's files (as listed in its RECORD)."""
    info = Path(str(dist._path))  # type: ignore[attr-defined]
    site = info.parent
    wheel_meta = (info / "WHEEL").read_text()
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    name, version = _norm(dist.metadata["Name"]), dist.version
    target = out / f"{name}-{version}-{tags[0] if tags else 'py3-none-any'}.whl"
    if target.exists():
        return target
    info_name = info.name
    records: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in dist.files or []:
            path = str(file)
            if "__pycache__" in path or path.endswith(".pyc"):
                continue
            source = site / path
            if path.startswith(".."):
                if "/bin/" not in path:
                    continue
                path = f"{name}-{version}.data/scripts/{Path(path).name}"  # console scripts, binaries
            if path.startswith(info_name + "/") and path.split("/")[-1] in {
                "RECORD", "INSTALLER", "REQUESTED", "direct_url.json"
            }:
                continue
            data = source.read_bytes()
            if ".data/scripts/" in path and data.startswith(b"#!"):
                continue  # a generated console script: pip writes it again from entry_points.txt
            wheel.writestr(path, data)
            hashed = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append((path, f"sha256={hashed}", str(len(data))))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(records)
        writer.writerow((f"{info_name}/RECORD", "", ""))
        wheel.writestr(f"{info_name}/RECORD", buffer.getvalue())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build every distribution of the repository into a wheelhouse.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--deps", action="store_true", help="also repack the installed third-party dependencies")
    parser.add_argument("--cache", type=Path, help="reuse wheels whose sources did not change")
    args = parser.parse_args(argv)
    wheels = build(args.out, args.cache)
    for wheel in wheels:
        print(f"built {wheel.name}")
    if args.deps:
        ours = set(projects())
        for dist in third_party(ours, sorted(ours)):
            print(f"repacked {repack(dist, args.out).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
