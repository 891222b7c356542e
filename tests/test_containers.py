"""Containers and scale-out: image names, the Docker runtime (against a fake docker client), the build context,
and the workflow's bindings (each full-grid job's image, per-model cluster resources), without a Docker engine.
The real image build and a cell trained inside it are in test_docker_integration.py (marked slow and docker)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from docker.errors import APIError, ImageNotFound

from sumbench.containers import images as I
from sumbench.containers import jobs as J
from sumbench.config.model import load_model
from sumbench.config.schema import REPO_ROOT
from tests.test_workflow import IGNORE, job_counts, snakemake

FULL_GRID = ["kobart", "llama-3.2-korean-3b", "qwen3-4b", "solar-10.7b", "polyglot-ko-12.8b", "kullm-v2"]


# ------------------------------------------------------------------------------------------------ a fake docker SDK
class FakeContainer:
    def __init__(self, kwargs, chunks, code=0, on_chunk=None):
        self.kwargs, self.chunks, self.code, self.on_chunk = kwargs, chunks, code, on_chunk
        self.calls: list[str] = []

    def start(self):
        self.calls.append("start")

    def logs(self, stream, follow):
        assert stream and follow
        for i, chunk in enumerate(self.chunks):
            if self.on_chunk:
                self.on_chunk(i)
            yield chunk

    def wait(self):
        self.calls.append("wait")
        return {"StatusCode": self.code}

    def stop(self, timeout):
        self.calls.append(f"stop({timeout})")

    def remove(self, force):
        self.calls.append("remove")


class FakeImages:
    def __init__(self, present):
        self.present = present

    def get(self, ref):
        if ref not in self.present:
            raise ImageNotFound(f"No such image: {ref}")
        return type("Image", (), {"short_id": "sha256:abc", "attrs": {"Size": 2_070_000_000,
                                                                        "Created": "2026-11-24T01:00:00.0Z"}})()


class FakeContainers:
    def __init__(self, client):
        self.client = client

    def create(self, **kwargs):
        if self.client.create_error:
            raise self.client.create_error
        self.client.container = FakeContainer(kwargs, self.client.chunks, self.client.code, self.client.on_chunk)
        return self.client.container


class FakeClient:
    def __init__(self, present=("sumbench/seq2seq:0.1.0",), chunks=(b"step 1\n", b"done\n"), code=0, on_chunk=None,
                 create_error=None):
        self.images = FakeImages(set(present))
        self.containers = FakeContainers(self)
        self.chunks, self.code, self.on_chunk, self.create_error = list(chunks), code, on_chunk, create_error
        self.container: FakeContainer | None = None


@pytest.fixture()
def repo(tmp_path) -> Path:
    """A scratch copy of the workflow (as in test_workflow.py), so tests never touch the user's results/."""
    dst = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, dst, ignore=IGNORE, symlinks=True)
    return dst


@pytest.fixture()
def tiny_bart():
    return load_model("tiny-bart")


def plan_for(spec, tmp_path, command=("sumbench", "train", "--model", "tiny-bart"), environ=None, host_gpus=0,
             models_dir=None):
    environ = {"HOME": str(tmp_path / "home")} if environ is None else environ
    return J.plan_run(spec, list(command), workdir=tmp_path / "work", environ=environ, uid=1234, gid=5678,
                      host_gpus=host_gpus, models_dir=models_dir)


# ------------------------------------------------------------------------------------------------ image names
def test_every_model_names_a_docker_image_and_causal_models_share_the_causal_variant():
    from sumbench.config.model import model_files

    specs = [load_model(name) for name in model_files()]
    needs = {n.ref: n for n in I.images_needed(specs)}
    assert set(needs) == {"sumbench/seq2seq:0.1.0", "sumbench/causal:0.1.0"}
    assert needs["sumbench/seq2seq:0.1.0"].variant == "seq2seq" and "kobart" in needs["sumbench/seq2seq:0.1.0"].models
    assert needs["sumbench/causal:0.1.0"].variant == "causal" and "qwen3-4b" in needs["sumbench/causal:0.1.0"].models


def test_docker_runtime_needs_a_docker_scheme(tiny_bart):
    with pytest.raises(J.SumbenchError, match=r"tiny-bart.yaml: key 'container' is 'library://x/y'"):
        I.docker_ref(replace(tiny_bart, container="library://x/y"))
    with pytest.raises(J.SumbenchError, match="key 'container' is not set"):
        I.docker_ref(replace(tiny_bart, container=None))


# ------------------------------------------------------------------------------------------------ the workflow glue
def test_job_launcher_host_docker_and_multi_gpu(tiny_bart):
    assert J.job_launcher(tiny_bart, "host") == "sumbench"
    assert J.job_launcher(tiny_bart, "docker", "configs/models") == \
        "sumbench images run --model tiny-bart --models-dir configs/models -- sumbench"
    four = replace(tiny_bart, resources=replace(tiny_bart.resources, gpus=4))
    # the ranks of a multi-GPU job must not lease GPUs of their own: `sumbench lease` holds all 4 for them
    assert J.job_launcher(four, "host") == \
        "sumbench lease --gpus 4 -- torchrun --standalone --nproc-per-node 4 --module sumbench.cli"
    assert J.job_launcher(four, "docker").startswith("sumbench images run --model tiny-bart -- torchrun")
    with pytest.raises(J.SumbenchError, match="key 'runtime' must be one of host, docker, got 'podman'"):
        J.job_launcher(tiny_bart, "podman")


def test_check_runtime_says_what_to_do_in_one_line():
    assert J.check_runtime("host", use_apptainer=False) == "host"
    assert J.check_runtime("host", use_apptainer=True, apptainer_found=True) == "host"
    with pytest.raises(J.SumbenchError) as exc:
        J.check_runtime("host", use_apptainer=True, apptainer_found=False)
    assert "--use-singularity needs Apptainer" in str(exc.value) and "runtime=docker" in str(exc.value)
    assert "\n" not in str(exc.value)
    with pytest.raises(J.SumbenchError, match="use one"):
        J.check_runtime("docker", use_apptainer=True, apptainer_found=True)


# ------------------------------------------------------------------------------------------------ planning a run
def test_plan_mounts_workdir_at_the_same_path_and_caches_at_cache(tiny_bart, tmp_path):
    plan = plan_for(tiny_bart, tmp_path)
    work = str((tmp_path / "work").resolve())
    assert plan.workdir == work and plan.user == "1234:5678" and plan.image == "sumbench/seq2seq:0.1.0"
    mounts = {m.target: m for m in plan.mounts}
    assert mounts[work].source == work and not mounts[work].read_only
    assert mounts["/cache/sumbench"].source == str(tmp_path / "home" / ".cache" / "sumbench")
    assert mounts["/cache/huggingface"].source == str(tmp_path / "home" / ".cache" / "huggingface")
    assert plan.environment["HOME"] == "/tmp" and plan.environment["HF_HOME"] == "/cache/huggingface"
    assert plan.environment["SUMBENCH_CACHE"] == "/cache/sumbench"


def test_plan_passes_hf_and_sumbench_settings_but_remaps_cache_paths(tiny_bart, tmp_path):
    environ = {"HOME": str(tmp_path), "HF_TOKEN": "t0k", "HF_HUB_OFFLINE": "1", "SUMBENCH_X": "y",
               "TOKENIZERS_PARALLELISM": "true", "HF_HOME": "/data/hf", "HF_HUB_CACHE": "/data/hub",
               "SUMBENCH_GIT_SHA": "host-sha", "AWS_SECRET_ACCESS_KEY": "no", "PATH": "/usr/bin"}
    plan = plan_for(tiny_bart, tmp_path, environ=environ)
    env = plan.environment
    assert env["HF_TOKEN"] == "t0k" and env["HF_HUB_OFFLINE"] == "1" and env["SUMBENCH_X"] == "y"
    assert env["TOKENIZERS_PARALLELISM"] == "true"
    assert "AWS_SECRET_ACCESS_KEY" not in env and "PATH" not in env
    assert "SUMBENCH_GIT_SHA" not in env  # the image records the commit it was built from
    assert env["HF_HOME"] == "/cache/huggingface" and env["HF_HUB_CACHE"] == "/cache/huggingface/hub"
    mounts = {m.target: m.source for m in plan.mounts}
    assert mounts["/cache/huggingface"] == "/data/hf" and mounts["/cache/huggingface/hub"] == "/data/hub"


def test_plan_models_dir_is_passed_and_mounted_read_only_when_outside_the_workdir(tiny_bart, tmp_path):
    inside = plan_for(tiny_bart, tmp_path, models_dir=Path("configs/models"))
    assert inside.environment["SUMBENCH_MODELS_DIR"] == str((tmp_path / "work" / "configs" / "models").resolve())
    assert len(inside.mounts) == 4  # workdir, the two caches, the timed windows' lock folder
    assert inside.environment["SUMBENCH_LOCK_DIR"] == inside.mounts[-1].target == inside.mounts[-1].source
    outside = plan_for(tiny_bart, tmp_path, models_dir=tmp_path / "elsewhere")
    assert J.Mount(str(tmp_path / "elsewhere"), str(tmp_path / "elsewhere"), read_only=True) in outside.mounts


def test_a_leased_gpu_is_the_one_the_container_gets_and_the_job_inside_trusts(tiny_bart, tmp_path):
    spec = replace(tiny_bart, resources=replace(tiny_bart.resources, gpus=1))
    plan = J.plan_run(spec, ["sumbench", "train"], workdir=tmp_path, environ={"HOME": str(tmp_path)}, uid=1, gid=1,
                      host_gpus=4, gpu_ids=("GPU-cafe",))
    request = J.container_kwargs(plan)["device_requests"][0]
    assert request["DeviceIDs"] == ["GPU-cafe"] and request.get("Count") in (None, 0)
    assert plan.environment["SUMBENCH_LEASED_GPUS"] == "GPU-cafe" and plan.gpus == 1


@pytest.mark.parametrize("wanted, host, expected, note", [(0, 2, 0, None), (1, 0, 0, "has none; to run it on the CPU"),
                                                          (1, 2, 1, None), (4, 2, 2, "asks for 4 GPUs")])
def test_plan_requests_gpus_only_when_the_model_wants_them_and_the_host_has_them(tiny_bart, tmp_path, wanted, host,
                                                                                 expected, note):
    spec = replace(tiny_bart, resources=replace(tiny_bart.resources, gpus=wanted))
    plan = plan_for(spec, tmp_path, host_gpus=host)
    assert plan.gpus == expected
    assert (note is None and not plan.notes) or any(note in n for n in plan.notes)
    kwargs = J.container_kwargs(plan)
    if expected:
        assert kwargs["device_requests"][0]["Count"] == expected
        assert kwargs["device_requests"][0]["Capabilities"] == [["gpu"]]
    else:
        assert "device_requests" not in kwargs


def test_container_kwargs_run_the_command_as_the_caller_in_the_workdir(tiny_bart, tmp_path):
    plan = plan_for(tiny_bart, tmp_path)
    kwargs = J.container_kwargs(plan, name="job1")
    assert kwargs["entrypoint"] == ["sumbench"] and kwargs["command"] == ["train", "--model", "tiny-bart"]
    assert kwargs["user"] == "1234:5678" and kwargs["working_dir"] == plan.workdir and kwargs["name"] == "job1"
    assert kwargs["network_mode"] == "host" and kwargs["init"] is True and kwargs["labels"] == {J.JOB_LABEL: "tiny-bart"}
    assert {(m["Source"], m["Target"], m["Type"]) for m in kwargs["mounts"]} == \
        {(m.source, m.target, "bind") for m in plan.mounts}


def test_host_gpu_count_reads_dev_nvidia_devices(tmp_path):
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    assert J.host_gpu_count(tmp_path) == 2
    assert J.host_gpu_count(tmp_path / "none") == 0


# ------------------------------------------------------------------------------------------------ running a job
def test_run_streams_logs_propagates_the_exit_code_and_removes_the_container(tiny_bart, tmp_path):
    client = FakeClient(chunks=[b"loading\n", b"step 1 loss 3.2\n"], code=3)
    out = io.BytesIO()
    code = J.run_in_image(client, plan_for(tiny_bart, tmp_path), out)
    assert code == 3
    log = out.getvalue().decode()
    assert "running in sumbench/seq2seq:0.1.0 as 1234:5678: sumbench train --model tiny-bart" in log
    assert log.endswith("loading\nstep 1 loss 3.2\n")
    assert client.container.calls == ["start", "wait", "remove"]
    assert (tmp_path / "home" / ".cache" / "sumbench").is_dir()  # bind sources are created before the run


def test_run_stops_and_removes_the_container_on_sigterm(tiny_bart, tmp_path):
    client = FakeClient(chunks=[b"a\n", b"b\n", b"never\n"],
                        on_chunk=lambda i: os.kill(os.getpid(), signal.SIGTERM) if i == 1 else None)
    before = signal.getsignal(signal.SIGTERM)
    out = io.BytesIO()
    assert J.run_in_image(client, plan_for(tiny_bart, tmp_path), out) == 128 + signal.SIGTERM
    assert client.container.calls == ["start", f"stop({J.STOP_TIMEOUT_S})", "remove"]
    assert b"never" not in out.getvalue() and b"SIGTERM: stopping the container" in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) is before


def test_missing_image_is_one_line_with_the_build_command(tiny_bart, tmp_path):
    with pytest.raises(I.ImageMissing) as exc:
        J.run_in_image(FakeClient(present=()), plan_for(tiny_bart, tmp_path), io.BytesIO())
    assert str(exc.value) == ("image sumbench/seq2seq:0.1.0 (model tiny-bart) is not built on this machine: "
                              "run `sumbench images build --model tiny-bart`")


def test_docker_refusing_gpus_says_to_install_the_container_toolkit(tiny_bart, tmp_path):
    spec = replace(tiny_bart, resources=replace(tiny_bart.resources, gpus=1))
    error = APIError("500", explanation='could not select device driver "" with capabilities: [[gpu]]')
    client = FakeClient(create_error=error)
    with pytest.raises(J.SumbenchError, match="install the NVIDIA Container Toolkit"):
        J.run_in_image(client, plan_for(spec, tmp_path, host_gpus=1), io.BytesIO())


def test_unreachable_daemon_is_one_line_with_what_to_start(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(I.DockerUnavailable) as exc:
        I.connect()
    message = str(exc.value)
    assert message.startswith("Docker daemon unreachable at unix:///nonexistent/docker.sock")
    assert "systemctl start docker" in message and "\n" not in message


def test_cli_images_without_a_daemon(monkeypatch, tmp_path):
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    listing = subprocess.run(["sumbench", "images", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert listing.returncode == 2
    assert "sumbench/seq2seq:0.1.0  seq2seq" in listing.stdout and "tiny-bart" in listing.stdout
    assert listing.stderr.startswith("sumbench: Docker daemon unreachable") and listing.stderr.count("\n") == 1
    run = subprocess.run(["sumbench", "images", "run", "--model", "tiny-bart", "--", "sumbench", "--help"],
                         capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.startswith("sumbench: Docker daemon unreachable")


# ------------------------------------------------------------------------------------------------ building
class FakeApi:
    def __init__(self, chunks):
        self.chunks, self.kwargs, self.context_names = chunks, None, []

    def build(self, **kwargs):
        self.kwargs = kwargs
        with tarfile.open(fileobj=kwargs["fileobj"]) as tar:
            self.context_names = tar.getnames()
        return iter(self.chunks)


def test_build_context_is_the_filtered_tree_plus_extras(tmp_path):
    root = tmp_path / "repo"
    for rel in ("Dockerfile", "src/sumbench/x.py", "results/quick_test/summary.md", ".venv/bin/python",
                "docker/extras/README.md", "data/train.csv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    (root / ".dockerignore").write_text("# comment\nresults\n.venv\ndata\n")
    cert = tmp_path / "ca.crt"
    cert.write_text("CERT")
    with I.build_context(root, {"ca-bundle.crt": cert}) as ctx, tarfile.open(fileobj=ctx) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("docker/extras/ca-bundle.crt").read() == b"CERT"
    assert {"Dockerfile", "src/sumbench/x.py", "docker/extras/README.md", "docker/extras/ca-bundle.crt"} <= names
    assert not {n for n in names if n.startswith(("results", ".venv", "data"))}
    assert not (root / "docker" / "extras" / "ca-bundle.crt").exists()


def test_real_dockerignore_keeps_results_caches_and_environments_out():
    from docker.utils.build import exclude_paths

    kept = exclude_paths(str(REPO_ROOT), I.dockerignore_patterns(REPO_ROOT))
    assert {"Dockerfile", "pyproject.toml", "src/sumbench/containers/jobs.py", "workflow/schemas/model.schema.yaml",
            "configs/models/tiny-bart.yaml", "docker/extras/README.md"} <= kept
    assert not any(p.split("/")[0] in {"results", ".venv", ".git", ".snakemake", ".pytest_cache", "data"} or
                   "__pycache__" in p for p in kept)


def test_local_extras_take_pips_cert_and_the_pinned_torch_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "torch-2.12.0-cp311-none.whl", "numpy-2.whl"):
        (wheels / name).touch()
    cert = tmp_path / "ca.crt"
    cert.write_text("C")
    extras = I.local_extras({"PIP_CERT": str(cert), "PIP_FIND_LINKS": f"file://{wheels} /nonexistent"}, "2.13.0")
    assert extras == {"ca-bundle.crt": cert,
                      "wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl":
                          wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"}
    assert I.torch_version() == "2.13.0"


def test_build_image_shows_progress_and_passes_variant_base_and_host_network(tmp_path):
    api = FakeApi([{"stream": "Step 1/3 : FROM base\n"}, {"stream": " ---> abc\n"}, {"aux": {"ID": "sha256:123"}}])
    client = type("Client", (), {"api": api, "images": FakeImages({"sumbench/causal:0.1.0"})})()
    lines: list[str] = []
    need = I.ImageNeed("sumbench/causal:0.1.0", "causal", ("tiny-llama",))
    image_id = I.build_image(client, need, base_image="debian:local", build_args={"TORCH_VERSION": "2.13.0"},
                             extras={}, echo=lines.append)
    assert image_id == "sha256:123"
    assert api.kwargs["tag"] == "sumbench/causal:0.1.0" and api.kwargs["network_mode"] == "host"
    assert api.kwargs["custom_context"] is True and api.kwargs["decode"] is True
    args = api.kwargs["buildargs"]
    assert args["VARIANT"] == "causal" and args["BASE_IMAGE"] == "debian:local" and args["TORCH_VERSION"] == "2.13.0"
    assert "GIT_SHA" in args and "Dockerfile" in api.context_names
    assert "Step 1/3 : FROM base" in lines and lines[-1].startswith("built sumbench/causal:0.1.0 in ")


def test_build_error_is_reported_with_the_last_output():
    api = FakeApi([{"stream": "Step 5/9 : RUN pip install x\n"}, {"error": "The command returned a non-zero code: 1"}])
    client = type("Client", (), {"api": api, "images": FakeImages(set())})()
    with pytest.raises(I.BuildFailed, match=r"building sumbench/seq2seq:0.1.0 failed: The command .* RUN pip install x"):
        I.build_image(client, I.ImageNeed("sumbench/seq2seq:0.1.0", "seq2seq", ("kobart",)), extras={},
                      echo=lambda line: None)


def test_parse_build_args():
    assert I.parse_build_args(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(J.SumbenchError, match="expected KEY=VALUE"):
        I.parse_build_args(["A"])


# ------------------------------------------------------------------------------------------------ the workflow
DAG_SCRIPT = r"""
# Snakemake's Python API (9.x): build the DAG of the default target and print each job's rule, wildcards, container
# image and resources. (_workflow/_prepare_dag/_build_dag are what `snakemake -n` uses; pinned to snakemake<10.)
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, ResourceSettings

with SnakemakeApi() as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=ConfigSettings(),
                      snakefile=Path("Snakefile"), workdir=Path("."))
    wf.dag(DAGSettings(forceall=True))
    workflow = wf._workflow
    workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
    workflow._build_dag()
    jobs = [dict(rule=j.rule.name, wildcards=dict(j.wildcards_dict), container=j.container_img_url,
                 resources={k: v for k, v in dict(j.resources).items() if not k.startswith("_")})
            for j in workflow.dag.jobs]
print("JOBS=" + json.dumps(jobs, default=str))
"""


def full_grid_data(repo: Path) -> None:
    subprocess.run(["sumbench", "data", "synth", "--n", "60", "--out", str(repo / "data")], check=True,
                   capture_output=True)


def test_every_full_grid_job_is_bound_to_its_models_image(repo):
    """What `snakemake --use-singularity` runs each job in (Apptainer itself is not needed to ask)."""
    full_grid_data(repo)
    proc = subprocess.run([sys.executable, "-c", DAG_SCRIPT], cwd=repo, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = json.loads(proc.stdout.split("JOBS=", 1)[1])
    # the profile jobs; the quality jobs follow from the plan (a checkpoint) and use the same container: function
    profile = [j for j in jobs if j["rule"] == "profile"]
    assert len(profile) == 6 and {j["wildcards"]["model"] for j in profile} == set(FULL_GRID)
    for job in profile:
        spec = load_model(job["wildcards"]["model"], repo / "configs" / "models")
        assert job["container"] == spec.container, job
    assert {j["container"] for j in profile} == {"docker://sumbench/seq2seq:0.1.0", "docker://sumbench/causal:0.1.0"}


def resources_by_job(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(wildcards line, resources) of every profile job in a `snakemake -n` listing."""
    out = []
    for block in dry_run_output.split("\nrule profile:")[1:]:
        fields = dict(line.strip().split(": ", 1) for line in block.split("\nShell command")[0].splitlines()
                      if ": " in line)
        resources = dict(item.split("=", 1) for item in fields["resources"].split(", "))
        out.append((fields["wildcards"], resources))
    return out


@pytest.mark.parametrize("profile, extra", [("slurm", []), ("kubernetes", ["--executor", "dryrun"])])
def test_cluster_profile_dry_run_lists_every_full_grid_job_with_its_models_resources(repo, profile, extra):
    pytest.importorskip(f"snakemake_executor_plugin_{profile}", reason=f"pip install -e '.[cluster]' for {profile}")
    full_grid_data(repo)
    proc = snakemake(repo, "-n", "--forceall", "--profile", f"workflow/profiles/{profile}", *extra)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    assert job_counts(proc.stdout)["profile"] == 6
    jobs = resources_by_job(proc.stdout)
    assert len(jobs) == 6
    for wildcards, resources in jobs:
        model = wildcards.split("model=")[1].split(",")[0]
        spec = load_model(model, repo / "configs" / "models")
        assert resources["gpu"] == str(spec.resources.gpus), (wildcards, resources)
        assert resources["mem_mb"] == str(spec.resources.mem_mb) and resources["runtime"] == str(spec.resources.runtime)
        if profile == "kubernetes":
            assert resources["gpu_manufacturer"] == "nvidia"


def test_docker_runtime_wraps_profile_and_quality_jobs_and_nothing_else(repo):
    proc = snakemake(repo, "-n", "-p", "quick_test", "--config", "runtime=docker")
    assert proc.returncode == 0, proc.stderr
    shells = [line for line in proc.stdout.splitlines() if line.startswith("Shell command:")]
    profile = [s for s in shells if " profile --grid-json " in s]
    assert len(profile) == 3  # the quality jobs follow from the plan and use the same launcher
    assert all(s.startswith("Shell command: sumbench images run --model tiny-") and " -- sumbench profile " in s
               for s in profile)
    assert not any("images run" in s for s in shells if s not in profile)


def test_use_singularity_without_apptainer_fails_before_the_run_in_one_line(repo):
    if J.apptainer_available():
        pytest.skip("apptainer is installed here")
    proc = snakemake(repo, "-n", "quick_test", "--use-singularity")
    assert proc.returncode != 0
    assert "--use-singularity needs Apptainer" in proc.stderr + proc.stdout
    assert "Building DAG of jobs" not in proc.stdout + proc.stderr


def test_bad_runtime_is_a_schema_error(repo):
    proc = snakemake(repo, "-n", "quick_test", "--config", "runtime=podman")
    assert proc.returncode != 0 and "runtime" in proc.stderr + proc.stdout
