"""Per-model job images: which model needs which image, building them, and running a job inside one.

A train job runs in one of three ways (configs/config.yaml ``runtime:`` and Snakemake's flags):

- ``runtime: host``: this Python environment runs ``sumbench train ...``;
- ``runtime: host`` + ``snakemake --use-singularity``: Apptainer runs the same command inside the model's image
  (the train rule's ``container:``, from the model YAML);
- ``runtime: docker``: ``sumbench images run --model NAME -- sumbench train ...`` runs it inside the model's image
  through the docker SDK (:func:`run_in_image`). Workstations have Docker; Snakemake cannot drive it.

Read top to bottom: image names (:func:`images_needed`), the client (:func:`connect`), building
(:func:`build_context`, :func:`build_image`), then running (:func:`plan_run`, :func:`container_kwargs`,
:func:`run_in_image`). Everything that talks to Docker takes the client as an argument, so tests pass a fake.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sumbench.config.model import ModelSpec
from sumbench.config.schema import REPO_ROOT
from sumbench.environment import git_sha
from sumbench.errors import SumbenchError

DOCKER_SCHEME = "docker://"
RUNTIMES = ("host", "docker")
EXTRAS_DIR = "docker/extras"          # where the build context carries the CA bundle and local wheels
STOP_TIMEOUT_S = 10                    # SIGTERM -> SIGKILL grace period when a job is interrupted
SHM_SIZE = "8g"                        # PyTorch DataLoader workers share tensors through /dev/shm (Docker's default: 64 MB)
CONTAINER_CACHE = "/cache"             # the image's cache mount points (Dockerfile)
JOB_LABEL = "sumbench.job"             # `docker ps --filter label=sumbench.job` lists running sumbench jobs
# Host environment variables a job sees inside its container (cache locations are remapped, not passed).
PASS_PREFIXES = ("HF_", "SUMBENCH_", "TRANSFORMERS_", "TOKENIZERS_", "PYTORCH_", "ACCELERATE_", "NCCL_", "BNB_")
PASS_NAMES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "HUGGING_FACE_HUB_TOKEN", "WANDB_MODE")
# Not passed: cache paths (remapped to the mounts) and the code version (the image's own, baked in at build time).
NOT_PASSED = ("HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE", "SUMBENCH_CACHE", "SUMBENCH_MODELS_DIR",
              "SUMBENCH_GIT_SHA")


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


# ------------------------------------------------------------------------------------------- running a job
@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class RunPlan:
    """Everything `docker run` needs for one job; built by :func:`plan_run` (pure), used by :func:`run_in_image`."""

    image: str
    model: str
    command: tuple[str, ...]            # argv; argv[0] becomes the container's entrypoint
    workdir: str                        # the host working directory, mounted at the same path
    user: str                           # uid:gid of the caller, so every file written is the caller's
    environment: dict[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    gpus: int = 0                       # GPUs requested from the daemon (0 = none)
    notes: tuple[str, ...] = ()         # printed into the job's log before it starts


def host_gpu_count(dev: Path = Path("/dev")) -> int:
    """NVIDIA GPUs this host exposes (/dev/nvidia0, /dev/nvidia1, ...)."""
    return sum(1 for p in dev.glob("nvidia*") if p.name[len("nvidia"):].isdigit())


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def plan_run(spec: ModelSpec, command: list[str], *, workdir: Path, environ: Mapping[str, str],
             uid: int, gid: int, host_gpus: int, models_dir: Path | None = None) -> RunPlan:
    """Decide mounts, environment, user and GPUs for running ``command`` in ``spec``'s image.

    Mounts: the working directory (data, results) at the same path, so relative and absolute paths in the command
    mean the same inside; the sumbench cache (tokenizers, ~/.cache/sumbench) and the Hugging Face cache (models) at
    /cache/...; the model-YAML folder read-only when it lies outside the working directory.
    """
    if not command:
        raise SumbenchError("sumbench images run: give the command after `--`, e.g. -- sumbench train --model ...")
    workdir = workdir.resolve()
    home = Path(environ.get("HOME") or Path.home())
    sumbench_cache = Path(environ.get("SUMBENCH_CACHE") or home / ".cache" / "sumbench")
    hf_home = Path(environ.get("HF_HOME") or home / ".cache" / "huggingface")
    mounts = [Mount(str(workdir), str(workdir)),
              Mount(str(sumbench_cache), f"{CONTAINER_CACHE}/sumbench"),
              Mount(str(hf_home), f"{CONTAINER_CACHE}/huggingface")]
    env = {k: v for k, v in environ.items()
           if (k.startswith(PASS_PREFIXES) or k in PASS_NAMES) and k not in NOT_PASSED}
    env.update(HOME="/tmp", USER=environ.get("USER") or "sumbench",
               SUMBENCH_CACHE=f"{CONTAINER_CACHE}/sumbench", HF_HOME=f"{CONTAINER_CACHE}/huggingface",
               TOKENIZERS_PARALLELISM=environ.get("TOKENIZERS_PARALLELISM", "false"))
    if environ.get("HF_HUB_CACHE"):
        mounts.append(Mount(str(Path(environ["HF_HUB_CACHE"])), f"{CONTAINER_CACHE}/huggingface/hub"))
        env["HF_HUB_CACHE"] = f"{CONTAINER_CACHE}/huggingface/hub"
    if models_dir is not None:
        models_dir = (workdir / models_dir).resolve()
        env["SUMBENCH_MODELS_DIR"] = str(models_dir)
        if not _inside(models_dir, workdir):
            mounts.append(Mount(str(models_dir), str(models_dir), read_only=True))
    gpus, notes = 0, []
    wanted = spec.resources.gpus
    if wanted and host_gpus:
        gpus = min(wanted, host_gpus)
        if gpus < wanted:
            notes.append(f"sumbench: {spec.name} asks for {wanted} GPUs, this host has {host_gpus}: using {gpus}")
    elif wanted:
        notes.append(f"sumbench: {spec.name} asks for {wanted} GPU(s) but this host has none: running on the CPU")
    return RunPlan(image=docker_ref(spec), model=spec.name, command=tuple(command), workdir=str(workdir),
                   user=f"{uid}:{gid}", environment=env, mounts=tuple(mounts), gpus=gpus, notes=tuple(notes))


def container_kwargs(plan: RunPlan, name: str | None = None) -> dict[str, Any]:
    """``client.containers.create(**kwargs)`` for a plan (pure; docker.types only builds dicts)."""
    from docker.types import DeviceRequest
    from docker.types import Mount as DockerMount

    kwargs: dict[str, Any] = {
        "image": plan.image, "entrypoint": [plan.command[0]], "command": list(plan.command[1:]), "user": plan.user,
        "working_dir": plan.workdir, "environment": dict(plan.environment),
        "mounts": [DockerMount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
                   for m in plan.mounts],
        "network_mode": "host", "shm_size": SHM_SIZE,
        "init": True,  # PID 1 forwards SIGTERM to the job, so `docker stop` is prompt
        "detach": True, "labels": {JOB_LABEL: plan.model},
        "name": name or f"sumbench-{plan.model}-{uuid.uuid4().hex[:8]}",
    }
    if plan.gpus:
        kwargs["device_requests"] = [DeviceRequest(count=plan.gpus, capabilities=[["gpu"]])]
    return kwargs


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


def run_in_image(client, plan: RunPlan, out: IO[bytes], *, name: str | None = None) -> int:
    """Run the plan's command in its image; stream its output to ``out``; return its exit code.

    The container is removed afterwards whatever happens; on SIGTERM or SIGINT it is stopped first (SIGTERM, then
    SIGKILL after STOP_TIMEOUT_S) and the exit code is 128 + the signal, as a shell reports it.
    """
    from docker.errors import APIError

    require_image(client, plan.image, plan.model)
    for mount in plan.mounts:  # Docker refuses a missing bind source; caches may not exist yet
        if not mount.read_only:
            Path(mount.source).mkdir(parents=True, exist_ok=True)
    for note in plan.notes:
        out.write((note + "\n").encode())
    out.write(f"sumbench: running in {plan.image} as {plan.user}: {shlex.join(plan.command)}\n".encode())
    out.flush()
    previous = {}
    container = None
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _raise_interrupted)
        try:
            container = client.containers.create(**container_kwargs(plan, name))
            container.start()
        except APIError as exc:
            raise SumbenchError(_api_error_line(exc, plan)) from None
        for chunk in container.logs(stream=True, follow=True):
            out.write(chunk)
            out.flush()
        status = container.wait()
        code = int(status.get("StatusCode", 1))
        if code == 137:
            out.write(b"sumbench: the container was killed (exit 137): out of memory? see `docker inspect` / dmesg\n")
        return code
    except Interrupted as exc:
        out.write(f"sumbench: {exc}: stopping the container\n".encode())
        if container is not None:
            container.stop(timeout=STOP_TIMEOUT_S)
        return 128 + exc.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if container is not None:
            container.remove(force=True)
        out.flush()


def _api_error_line(exc: Exception, plan: RunPlan) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip().splitlines()[0]
    if plan.gpus and ("device driver" in text or "gpu" in text.lower()):
        return (f"Docker cannot give GPUs to {plan.image} ({text}): install the NVIDIA Container Toolkit and "
                "restart dockerd (`sudo nvidia-ctk runtime configure --runtime=docker`)")
    return f"docker could not start {plan.image}: {text}"


# ------------------------------------------------------------------------------------------- workflow glue
def job_launcher(spec: ModelSpec, runtime: str, models_dir: str | None = None) -> str:
    """The program that runs a train job, as the train rule's shell prefix (``{params.launch} train ...``).

    ``sumbench`` on the host; ``accelerate launch`` for a model that needs more than one GPU (one process per GPU);
    wrapped in ``sumbench images run --model NAME --`` when ``runtime: docker``.
    """
    if runtime not in RUNTIMES:
        raise SumbenchError(f"configs/config.yaml: key 'runtime' must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    gpus = spec.resources.gpus
    program = (f"accelerate launch --multi_gpu --num_processes {gpus} --module sumbench.cli" if gpus > 1
               else "sumbench")
    if runtime == "docker":
        where = f" --models-dir {shlex.quote(models_dir)}" if models_dir else ""
        return f"sumbench images run --model {shlex.quote(spec.name)}{where} -- {program}"
    return program


def apptainer_available() -> bool:
    return bool(shutil.which("apptainer") or shutil.which("singularity"))


def check_runtime(runtime: str, use_apptainer: bool, apptainer_found: bool | None = None) -> str:
    """One clear line before the run when the requested runtime cannot work here; returns the runtime."""
    if runtime not in RUNTIMES:
        raise SumbenchError(f"configs/config.yaml: key 'runtime' must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if use_apptainer and runtime == "docker":
        raise SumbenchError("--use-singularity and runtime=docker both put train jobs in containers: use one "
                            "(Apptainer: drop --config runtime=docker; Docker: drop --use-singularity)")
    found = apptainer_available() if apptainer_found is None else apptainer_found
    if use_apptainer and not found:
        raise SumbenchError("--use-singularity needs Apptainer (`apptainer` or `singularity` on PATH), which this "
                            "machine lacks: with Docker run `snakemake --config runtime=docker`, else run on the host "
                            "(drop --use-singularity)")
    return runtime
