"""Per-model job images: which model needs which image, the Docker client, and building the images.

Each model YAML names its image (``container: docker://sumbench/causal:0.1.0``); models that share an image
share one build, and an image any causal model uses is built as the causal variant (bitsandbytes, flash-attn).
Read top to bottom: image names (:func:`images_needed`), the client (:func:`connect`), then building
(:func:`build_context`, :func:`build_image`). Everything that talks to Docker takes the client as an argument,
so tests pass a fake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sumbench.config.model import ModelSpec
from sumbench.config.schema import REPO_ROOT
from sumbench.environment import git_sha
from sumbench.errors import SumbenchError

DOCKER_SCHEME = "docker://"
EXTRAS_DIR = "docker/extras"          # where the build context carries the CA bundle and local wheels
# The host's caches a job reads inside its image: models (Hugging Face) and sumbench's tokenizers. The image sets
# none of them: under Apptainer an image's ENV wins over the host's and would hide the host's cache.
CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "SUMBENCH_CACHE")
# The job's Hugging Face cache as the job's shell names it: $HF_HOME, else the library's default under the home of
# the user who runs the job.
HF_CACHE_SH = "${HF_HOME:-$HOME/.cache/huggingface}"
# `--apptainer-args` for `snakemake --use-singularity`; the SLURM profile and every documented command carry it.
# Snakemake runs `apptainer exec --home <working dir> ARGS IMAGE ...`: the host's $HOME is not bound and HOME inside
# is the working directory, so without the bind and HF_HOME a job would look for models (and download them) under
# the working directory. --nv gives the job the host's GPUs. Snakemake pastes ARGS into the job's shell command
# as they are, so the job's shell expands the variables on the node that runs the job.
APPTAINER_ARGS = f"--nv --bind {HF_CACHE_SH} --env HF_HOME={HF_CACHE_SH}"


class DockerUnavailable(SumbenchError):
    """The Docker daemon cannot be reached."""


class ImageMissing(SumbenchError):
    """A model's image is not built on this machine."""


class BuildFailed(SumbenchError):
    """``docker build`` stopped with an error."""


# ------------------------------------------------------------------------------------------- image names
@dataclass(frozen=True)
class ImageNeed:
    """One image and the models that run in it. ``variant`` is the Dockerfile's VARIANT build argument."""

    ref: str                   # e.g. sumbench/seq2seq:0.1.0 (no docker:// scheme)
    variant: str               # seq2seq | causal
    models: tuple[str, ...]


def docker_ref(spec: ModelSpec) -> str:
    """The model's image as Docker names it: ``docker://sumbench/seq2seq:0.1.0`` -> ``sumbench/seq2seq:0.1.0``."""
    if not spec.container:
        raise SumbenchError(f"{spec.source_file}: key 'container' is not set; the Docker runtime needs an image")
    if not spec.container.startswith(DOCKER_SCHEME):
        raise SumbenchError(f"{spec.source_file}: key 'container' is {spec.container!r}; the Docker runtime needs a "
                            f"{DOCKER_SCHEME} image")
    return spec.container[len(DOCKER_SCHEME):]


def images_needed(specs: Iterable[ModelSpec]) -> list[ImageNeed]:
    """Group models by image; an image that any causal model uses is built as the causal variant."""
    by_ref: dict[str, list[ModelSpec]] = {}
    for spec in specs:
        by_ref.setdefault(docker_ref(spec), []).append(spec)
    return [ImageNeed(ref, "causal" if any(s.kind == "causal" for s in group) else "seq2seq",
                      tuple(sorted(s.name for s in group)))
            for ref, group in sorted(by_ref.items())]


# ------------------------------------------------------------------------------------------- the client
def connect(docker_module: Any = None):
    """A docker SDK client for the daemon named by DOCKER_HOST (default: the local socket), checked with a ping."""
    if docker_module is None:
        import docker as docker_module
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker_module.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001  the SDK raises DockerException, requests' ConnectionError, PermissionError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DockerUnavailable(f"Docker daemon unreachable at {where} ({reason[:120]}): start it "
                                "(`sudo systemctl start docker`, or `sudo dockerd &`) or set DOCKER_HOST") from None
    return client


def image_info(client, ref: str) -> dict[str, Any] | None:
    """``{"id", "size", "created"}`` of a local image, or None when it is not on this machine."""
    from docker.errors import ImageNotFound

    try:
        image = client.images.get(ref)
    except ImageNotFound:
        return None
    return {"id": image.short_id, "size": image.attrs.get("Size", 0), "created": image.attrs.get("Created", "")[:19]}


def require_image(client, ref: str, model: str) -> None:
    if image_info(client, ref) is None:
        raise ImageMissing(f"image {ref} (model {model}) is not built on this machine: run "
                           f"`sumbench images build --model {model}`")


def list_rows(needs: list[ImageNeed], client=None) -> list[dict[str, str]]:
    """Rows for `sumbench images list`; without a client the LOCAL column is unknown."""
    rows = []
    for need in needs:
        info = image_info(client, need.ref) if client is not None else None
        if client is None:
            local = "?"
        elif info is None:
            local = f"missing: sumbench images build --model {need.models[0]}"
        else:
            local = f"yes ({info['size'] / 1e9:.2f} GB, {info['created']})"
        rows.append({"IMAGE": need.ref, "VARIANT": need.variant, "MODELS": ", ".join(need.models), "LOCAL": local})
    return rows


def format_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "no models"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- building
def pip_setting(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """A pip setting (``cert``, ``find-links``) as pip sees it: PIP_<NAME> first, then `pip config list`."""
    value = environ.get("PIP_" + name.upper().replace("-", "_"))
    if value:
        return value
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():  # global.cert='/etc/ssl/certs/ca-certificates.crt'
        key, sep, raw = line.partition("=")
        if sep and key.rsplit(".", 1)[-1] == name:
            return raw.strip().strip("'\"")
    return None


def torch_version(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """The torch release pyproject.toml pins (``torch==X``); the Dockerfile installs the same."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dep in deps:
        name, sep, version = dep.partition("==")
        if name.strip() == "torch" and sep:
            return version.strip()
    raise SumbenchError(f"{pyproject}: torch is not pinned with == in project.dependencies")


def local_extras(environ: Mapping[str, str] = os.environ, version: str | None = None) -> dict[str, Path]:
    """Files for docker/extras/: pip's CA bundle and the local torch wheels of the pinned version (pip's find-links)."""
    extras: dict[str, Path] = {}
    cert = pip_setting("cert", environ)
    if cert and Path(cert).is_file():
        extras["ca-bundle.crt"] = Path(cert)
    version = version or torch_version()
    for link in (pip_setting("find-links", environ) or "").split():
        folder = Path(link.removeprefix("file://"))
        if folder.is_dir():
            for wheel in sorted(folder.glob(f"torch-{version}*.whl")):
                extras[f"wheels/{wheel.name}"] = wheel
    return extras


def dockerignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build_context(root: Path, extras: Mapping[str, Path], fileobj: IO[bytes] | None = None) -> IO[bytes]:
    """A tar of the source tree as .dockerignore filters it, plus ``extras`` under docker/extras/ (an uncompressed
    tar, rewound). The extras exist only in the tar; nothing is written into the tree."""
    from docker.utils.build import exclude_paths

    fileobj = fileobj if fileobj is not None else tempfile.TemporaryFile()  # noqa: SIM115  the caller closes it
    with tarfile.open(mode="w", fileobj=fileobj) as tar:
        for rel in sorted(exclude_paths(str(root), dockerignore_patterns(root))):
            info = tar.gettarinfo(str(root / rel), arcname=rel)
            if info is None:  # a socket
                continue
            if info.isfile():
                with open(root / rel, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
        for name, path in sorted(extras.items()):
            tar.add(str(Path(path).resolve()), arcname=f"{EXTRAS_DIR}/{name}", recursive=False)  # a file, not a link
    fileobj.seek(0)
    return fileobj


def parse_build_args(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SumbenchError(f"--build-arg {item!r}: expected KEY=VALUE, e.g. TORCH_VERSION=2.13.0")
        out[key] = value
    return out


def build_image(client, need: ImageNeed, *, root: Path = REPO_ROOT, base_image: str | None = None,
                build_args: Mapping[str, str] | None = None, extras: Mapping[str, Path] | None = None,
                echo: Callable[[str], None] = print) -> str:
    """Build and tag one image with the Dockerfile at ``root``, echoing the build's output as it comes.

    Builds use the host network (the daemon may run without a bridge, and pip needs the package index).
    Returns the image id.
    """
    args = {"VARIANT": need.variant, "GIT_SHA": git_sha() or "", **({"BASE_IMAGE": base_image} if base_image else {}),
            **(build_args or {})}
    extras = local_extras() if extras is None else extras
    echo(f"building {need.ref} (variant {need.variant}, for {', '.join(need.models)}) "
         f"with {' '.join(f'{k}={v}' for k, v in sorted(args.items()))}; context extras: "
         f"{', '.join(sorted(extras)) or 'none'}")
    started = time.monotonic()
    image_id, last = None, []
    with build_context(root, extras) as context:
        stream = client.api.build(fileobj=context, custom_context=True, tag=need.ref, buildargs=args, rm=True,
                                  forcerm=True, network_mode="host", decode=True)
        for chunk in stream:
            if "error" in chunk:
                raise BuildFailed(f"building {need.ref} failed: {chunk['error'].strip()} "
                                  f"(last output: {' | '.join(last[-3:])})")
            text = chunk.get("stream") or chunk.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    echo(line.rstrip())
                    last.append(line.strip())
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
    info = image_info(client, need.ref)
    size = f", {info['size'] / 1e9:.2f} GB" if info else ""
    echo(f"built {need.ref} in {time.monotonic() - started:.0f} s{size}")
    return image_id or (info or {}).get("id", "")
