"""Component images as code: `images/<name>/` holds a Dockerfile and what it copies, and
the tag is the content hash of exactly those files.

- The build context is the folder minus a fixed list of local debris (IGNORED); builds
  run from a staged copy of those files, so the hash covers exactly what is built.
- Same files, same tag, on every machine; any byte, name or executable bit that changes
  moves it. The Dockerfile names its base image by tag, so a rebuild of the same context
  can differ in bytes: the registry's immutable tags keep the first push (docs/authoring.md).
- What an image installs comes from uv.lock: the dependency group `image-<name>` in
  pyproject.toml is exported into `images/<name>/requirements.txt` (`kfp-gcp images lock`).
- Locally (kfp.local, tests, compiling without a registry) a component that chooses an
  image runs the Dockerfile's base image and installs the group's direct pins instead.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from kfp_gcp.errors import ConfigError, PrerequisiteError, ProjectError, ToolError

IMAGES_DIR = "images"
DOCKERFILE = "Dockerfile"
LOCK_FILE = "requirements.txt"
GROUP_PREFIX = "image-"
# The environment variable that tells which image a component chose; the compiled spec
# keeps it, so `pipelines compile --env` knows which executor runs which image.
IMAGE_ENV = "KFP_GCP_IMAGE"
# Never part of a context: interpreter caches and editor debris differ between machines.
IGNORED = ("__pycache__", "*.pyc", ".DS_Store", "*.swp", "*~")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
TAG_HEX = 32  # 128 bits of the SHA-256: a collision needs ~2^64 contexts


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """One `images/<name>/` folder."""

    name: str
    folder: Path

    @property
    def dockerfile(self) -> Path:
        return self.folder / DOCKERFILE

    def files(self) -> list[Path]:
        """The build context: every file under the folder, sorted, without IGNORED."""
        found: list[Path] = []
        for base, dirs, names in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not _ignored(d))
            found.extend(Path(base) / n for n in names if not _ignored(n))
        return sorted(found, key=lambda p: p.relative_to(self.folder).as_posix())

    @property
    def tag(self) -> str:
        return content_tag(self.folder, self.files())

    def stage(self, target: Path) -> Path:
        """Copy the context into `target` (what a build sends), modes kept."""
        for path in self.files():
            destination = target / path.relative_to(self.folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                destination.symlink_to(os.readlink(path))
            else:
                shutil.copy2(path, destination)
        return target


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def content_tag(folder: Path, files: list[Path]) -> str:
    """SHA-256 over each file's path, executable bit and content (a symlink's target)."""
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            kind, body = "l", os.readlink(path).encode()
        else:
            kind, body = ("x" if os.access(path, os.X_OK) else "f"), path.read_bytes()
        digest.update(f"{relative}\0{kind}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()[:TAG_HEX]


def discover(root: Path) -> list[ImageSource]:
    """Every `images/<name>/Dockerfile`, sorted by name."""
    folder = root / IMAGES_DIR
    if not folder.is_dir():
        return []
    images = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name.startswith(("_", ".")):
            continue
        where = entry.relative_to(root)
        if not NAME_PATTERN.match(entry.name):
            raise ProjectError(
                f"{where}: not a valid image name",
                hint="rename it to lower-case letters, digits and '-', starting with a letter "
                "(it becomes the image's name in the registry)",
            )
        if not (entry / DOCKERFILE).is_file():
            raise ProjectError(
                f"{where}: no {DOCKERFILE}", hint=f"add {where}/{DOCKERFILE}, or remove the folder"
            )
        images.append(ImageSource(entry.name, entry))
    return images


def select(root: Path, names: list[str] | None = None) -> list[ImageSource]:
    """The images called `names` (all when empty); an unknown name is an error."""
    images = discover(root)
    if not names:
        return images
    by_name = {i.name: i for i in images}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ProjectError(
            f"no image named {', '.join(map(repr, unknown))}",
            hint=f"known images: {', '.join(by_name) or 'none'} (folders under {IMAGES_DIR}/)",
        )
    return [by_name[n] for n in names]


# What a component runs locally instead of the image.


@dataclasses.dataclass(frozen=True)
class LocalRuntime:
    base_image: str  # the Dockerfile's base image
    packages: list[str]  # the image group's direct pins, without kfp (KFP installs it)


def base_image(dockerfile: Path) -> str:
    """The image the Dockerfile's last stage starts FROM (through earlier stages' names)."""
    stages: dict[str, str] = {}
    last = ""
    for line in _instructions(dockerfile.read_text(encoding="utf-8")):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            continue
        image = stages.get(args[0].lower(), args[0])
        if len(args) >= 3 and args[1].upper() == "AS":
            stages[args[2].lower()] = image
        last = image
    if not last:
        raise ProjectError(f"{dockerfile}: no FROM line", hint="start the Dockerfile with FROM")
    return last


def _instructions(text: str) -> list[str]:
    """Dockerfile lines with comments dropped and `\\` continuations joined."""
    joined: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    if current:
        joined.append(current)
    return joined


def dependency_groups(root: Path) -> dict[str, list[object]]:
    pyproject = root / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(
            f"cannot read dependency groups from {pyproject}: {exc}",
            hint="the image groups live in pyproject.toml's [dependency-groups]",
        ) from None
    groups = data.get("dependency-groups", {})
    return groups if isinstance(groups, dict) else {}


def group_requirements(root: Path, name: str) -> list[str]:
    """The direct requirements of the image's group (include-group entries followed)."""
    groups = dependency_groups(root)
    group = f"{GROUP_PREFIX}{name}"
    if group not in groups:
        raise ProjectError(
            f"pyproject.toml has no dependency group {group!r} for {IMAGES_DIR}/{name}",
            hint=f'add `{group} = ["kfp", "PACKAGE==VERSION", ...]` to [dependency-groups], '
            "then run `make sync` and `kfp-gcp images lock`",
        )
    found: list[str] = []

    def walk(key: str) -> None:
        for entry in groups.get(key, []):
            if isinstance(entry, dict) and "include-group" in entry:
                walk(str(entry["include-group"]))
            elif isinstance(entry, str) and entry not in found:
                found.append(entry)

    walk(group)
    return found


def _package_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else requirement


_PINNED = re.compile(r"[A-Za-z0-9._-]+(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+")


def local_runtime(root: Path, name: str) -> LocalRuntime:
    """What a component that chose image `name` runs without a registry."""
    (image,) = select(root, [name])
    packages = []
    for requirement in group_requirements(root, name):
        if _package_name(requirement) == "kfp":
            continue
        if not _PINNED.fullmatch(requirement):
            raise ProjectError(
                f"dependency group {GROUP_PREFIX}{name}: {requirement!r} is not pinned with ==",
                hint="pin it with == to the version in uv.lock, so local runs and the image "
                "agree (docs/authoring.md, a new dependency)",
            )
        packages.append(requirement)
    return LocalRuntime(base_image=base_image(image.dockerfile), packages=packages)


# requirements.txt from uv.lock.


def uv_binary() -> str:
    """The locked uv beside this Python (the dev group), else uv on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    found = shutil.which("uv")
    if not found:
        raise PrerequisiteError(
            "uv is not installed", hint="run `make sync` (the dev group installs uv into .venv)"
        )
    return found


LOCK_HEADER = (
    "# Exported from uv.lock by `kfp-gcp images lock` (dependency group {group}): the\n"
    "# versions the tests ran, with their hashes. Do not edit; change pyproject.toml.\n"
)


def export_requirements(root: Path, name: str) -> str:
    """`uv export` of the image's group: every package with its hashes, from uv.lock."""
    group = f"{GROUP_PREFIX}{name}"
    group_requirements(root, name)  # a clear error for a missing group
    command = [
        uv_binary(), "export", "--frozen", "--only-group", group, "--no-emit-project",
        "--no-header", "--format", "requirements.txt",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[-400:]
        raise ToolError(
            f"uv export of {group} failed: {said}",
            hint="run `make sync` (uv.lock must be current: `uv lock`), then try again",
        )
    return LOCK_HEADER.format(group=group) + done.stdout


def stale_locks(root: Path, images: list[ImageSource]) -> list[str]:
    """The requirements files that differ from what uv.lock gives now."""
    stale = []
    for image in images:
        path = image.folder / LOCK_FILE
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != export_requirements(root, image.name):
            stale.append(path.relative_to(root).as_posix())
    return stale


def write_locks(root: Path, images: list[ImageSource]) -> list[str]:
    """Rewrite each image's requirements.txt from uv.lock; returns the files that changed."""
    changed = []
    for image in images:
        path = image.folder / LOCK_FILE
        text = export_requirements(root, image.name)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path.relative_to(root).as_posix())
    return changed


def require_fresh_locks(root: Path, images: list[ImageSource]) -> None:
    stale = stale_locks(root, images)
    if stale:
        raise ConfigError(
            f"{', '.join(stale)} differ{'s' if len(stale) == 1 else ''} from uv.lock",
            hint="run `kfp-gcp images lock` and commit the result",
        )
