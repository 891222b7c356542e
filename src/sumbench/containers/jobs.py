"""Running a train job: on the host, in Apptainer through Snakemake, or in the model's image through Docker.

A train job runs in one of three ways (configs/config.yaml ``runtime:`` and Snakemake's flags):

- ``runtime: host``: this Python environment runs ``sumbench train ...``;
- ``runtime: host`` + ``snakemake --use-singularity``: Apptainer runs the same command inside the model's image
  (the train rule's ``container:``, from the model YAML);
- ``runtime: docker``: ``sumbench images run --model NAME -- sumbench train ...`` runs it inside the model's image
  through the docker SDK (:func:`run_in_image`). Workstations have Docker; Snakemake cannot drive it.

Read top to bottom: the plan (:func:`plan_run`, pure), the container (:func:`container_kwargs`,
:func:`run_in_image`), then the workflow's glue (:func:`job_launcher`, :func:`check_runtime`).
"""

from __future__ import annotations

import shlex
import shutil
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sumbench.config.model import ModelSpec
from sumbench.containers.images import docker_ref, require_image
from sumbench.errors import SumbenchError
from sumbench.training.distributed import launcher
from sumbench.training.lease import LEASED_ENV, LOCK_DIR_ENV, lock_dir

RUNTIMES = ("host", "docker")
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
    gpu_ids: tuple[str, ...] = ()       # the GPUs this job leased (UUIDs): exactly these are given to the container
    notes: tuple[str, ...] = ()         # printed into the job's log before it starts


def host_gpu_count(dev: Path = Path("/dev")) -> int:
    """NVIDIA GPUs this host exposes (/dev/nvidia0, /dev/nvidia1, ...)."""
    return sum(1 for p in dev.glob("nvidia*") if p.name[len("nvidia"):].isdigit())


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def plan_run(spec: ModelSpec, command: list[str], *, workdir: Path, environ: Mapping[str, str],
             uid: int, gid: int, host_gpus: int, models_dir: Path | None = None,
             gpu_ids: tuple[str, ...] = ()) -> RunPlan:
    """Decide mounts, environment, user and GPUs for running ``command`` in ``spec``'s image.

    Mounts: the working directory (data, results) at the same path, so relative and absolute paths in the command
    mean the same inside; the sumbench cache (tokenizers, ~/.cache/sumbench) and the Hugging Face cache (models,
    ``$HF_HOME`` or ~/.cache/huggingface) at /cache/..., with HF_HOME and SUMBENCH_CACHE pointing there (the image
    sets neither); the model-YAML folder read-only when it lies outside the working directory; the host's lock
    folder for timed windows at the same path, so windows stay exclusive across containers. ``gpu_ids``: the GPUs
    the host side leased for this job; the container gets exactly those, and the job inside trusts the lease.
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
    locks = lock_dir()
    mounts.append(Mount(str(locks), str(locks)))
    env[LOCK_DIR_ENV] = str(locks)
    if gpu_ids:
        env[LEASED_ENV] = ",".join(gpu_ids)
    if models_dir is not None:
        models_dir = (workdir / models_dir).resolve()
        env["SUMBENCH_MODELS_DIR"] = str(models_dir)
        if not _inside(models_dir, workdir):
            mounts.append(Mount(str(models_dir), str(models_dir), read_only=True))
    gpus, notes = len(gpu_ids), []
    wanted = spec.resources.gpus
    if wanted and not gpu_ids and host_gpus:  # nothing leased (nvidia-smi found none), yet the host has GPU devices
        gpus = min(wanted, host_gpus)
        if gpus < wanted:
            notes.append(f"sumbench: {spec.name} asks for {wanted} GPUs, this host has {host_gpus}: using {gpus}")
    elif wanted and not gpu_ids:  # the job inside then refuses to start, naming the cause
        notes.append(f"sumbench: {spec.name} asks for {wanted} GPU(s) but this host has none; to run it on the CPU on "
                     f"purpose, pass --set resources.gpus=0 to the job")
    return RunPlan(image=docker_ref(spec), model=spec.name, command=tuple(command), workdir=str(workdir),
                   user=f"{uid}:{gid}", environment=env, mounts=tuple(mounts), gpus=gpus, gpu_ids=tuple(gpu_ids),
                   notes=tuple(notes))


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
    if plan.gpu_ids:
        kwargs["device_requests"] = [DeviceRequest(device_ids=list(plan.gpu_ids), capabilities=[["gpu"]])]
    elif plan.gpus:
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

    ``sumbench`` on the host; for a model that trains as several processes, ``torchrun`` (one process per GPU, or
    ``resources.cpu_processes`` on the CPU: :func:`sumbench.training.distributed.launcher`), under ``sumbench lease``
    when they use GPUs (which leases the GPUs for all the ranks); wrapped in ``sumbench images run --model NAME
    --`` when ``runtime: docker`` (which leases the GPUs on the host and gives the container exactly those).
    """
    if runtime not in RUNTIMES:
        raise SumbenchError(f"configs/config.yaml: key 'runtime' must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    gpus = spec.resources.gpus
    program = launcher(spec)
    if runtime == "host" and gpus > 1:
        return f"sumbench lease --gpus {gpus} -- {program}"
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
