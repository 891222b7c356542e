"""The Docker route for real: build the job image with the docker SDK on a local Debian base (no registry here), profile
and train one tiny cell inside it from Snakemake (`--config runtime=docker`), and check the records that land on the
host.

Marked slow and docker. .ci/run starts a Docker engine first (`bash .ci/docker-setup.sh start`: docker.io, dockerd,
a debootstrap base image); without one these tests skip and say why. The image is tagged sumbench/seq2seq:ci-test,
so a developer's own sumbench/seq2seq:0.1.0 is left alone. Each stage's time is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from sumbench.containers import images as I
from sumbench.containers import jobs as J
from sumbench.config.model import load_model
from sumbench.config.schema import REPO_ROOT
from tests.test_workflow import IGNORE

pytestmark = [pytest.mark.slow, pytest.mark.docker]

BASE_IMAGE = os.environ.get("SUMBENCH_TEST_BASE_IMAGE", "sumbench/debian-base:bookworm")
TEST_IMAGE = "sumbench/seq2seq:ci-test"
CELL = "results/docker_test/runs/tiny-bart/aug-none_cap-all/bs4_ga1/fold0"
QUALITY = "results/docker_test/quality/tiny-bart/job0.json"
GRID = """
grids:
  docker_test:   # one split profiled, one tiny cell trained: tiny-bart, batch 4, no accumulation, 1 fold, 4 steps
    models: [tiny-bart]
    batch_sizes: [4]
    grad_accum: [1]
    k_folds: 1
    max_steps: 4
    max_eval_samples: 8
    timing_warmup_steps: 1
    profile: {warmup_steps: 1, timed_steps: 2}
    data: {synth: {n: 60, dev_n: 20, seed: 0}}
"""


def say(pytestconfig, message: str) -> None:
    """Print past pytest's capture, so CI's log shows how long each stage took."""
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n[docker integration] {message}", flush=True)


def skip_or_fail(reason: str):
    """Skip locally; fail where SUMBENCH_REQUIRE_DOCKER=1 (.ci/run), so a broken Docker setup cannot pass as a skip."""
    if os.environ.get("SUMBENCH_REQUIRE_DOCKER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def client():
    try:
        client = I.connect()
    except I.DockerUnavailable as exc:
        skip_or_fail(f"no Docker engine: {exc} (CI starts one with `bash .ci/docker-setup.sh start`)")
    if I.image_info(client, BASE_IMAGE) is None:
        skip_or_fail(f"base image {BASE_IMAGE} is missing: `bash .ci/docker-setup.sh start` makes it with debootstrap")
    return client


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A scratch copy of the workflow whose tiny-bart runs in the test image, plus the one-cell grid."""
    dst = tmp_path_factory.mktemp("docker") / "repo"
    shutil.copytree(REPO_ROOT, dst, ignore=IGNORE, symlinks=True)
    yaml = dst / "configs" / "models" / "tiny-bart.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("docker://sumbench/seq2seq:0.1.0", f"docker://{TEST_IMAGE}"),
                    encoding="utf-8")
    (dst / "docker_test.yaml").write_text(GRID, encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def image(client, workdir, tmp_path_factory, pytestconfig):
    """Build the image as a user would: `sumbench images build` (CPU torch wheel and CA bundle from pip's config)."""
    started = time.monotonic()
    proc = subprocess.run(["sumbench", "images", "build", "--model", "tiny-bart", "--models-dir",
                           str(workdir / "configs" / "models"), "--base-image", BASE_IMAGE],
                          capture_output=True, text=True, timeout=1800)
    log = tmp_path_factory.getbasetemp() / "image-build.log"
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, f"build failed (full log: {log}): {proc.stderr[-2000:]} {proc.stdout[-3000:]}"
    assert "Step 1/" in proc.stdout and f"built {TEST_IMAGE} in " in proc.stdout  # progress was visible
    info = I.image_info(client, TEST_IMAGE)
    say(pytestconfig, f"image build: {time.monotonic() - started:.0f} s, {info['size'] / 1e9:.2f} GB")
    return TEST_IMAGE


@pytest.fixture()
def open_tmp():
    """A scratch folder another user can enter (pytest's own tmp folders are closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix="sumbench-owner-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def leftover_containers(client) -> list:
    return client.containers.list(all=True, filters={"label": J.JOB_LABEL})


def key_paths(obj, prefix: str = "") -> set[str]:
    if not isinstance(obj, dict):
        return set()
    return {p for k, v in obj.items() for p in {prefix + k} | key_paths(v, prefix + k + ".")}


def test_the_image_carries_deepspeeds_cpu_ops_built_at_image_build_time(client, image):
    """The shared-memory all-reduce and CPU Adam are in the image's DeepSpeed install: a job loads them, never
    compiles them (the image is CPU-only here, so both are built)."""
    script = ("from deepspeed.accelerator import get_accelerator\n"
              "from sumbench.training.deepspeed_ops import CPU_ADAM, SHM_COMM, extensions_root, is_built\n"
              "print(sorted(get_accelerator().create_op_builder(op).name for op in (SHM_COMM, CPU_ADAM)\n"
              "             if is_built(get_accelerator().create_op_builder(op))), extensions_root().exists())")
    out = client.containers.run(image, ["-c", script], entrypoint="python3", remove=True,  # the image runs sumbench
                                environment={"DS_ACCELERATOR": "cpu", "SUMBENCH_DEEPSPEED_JIT": "0"})
    # both ops built into the install, and no just-in-time build cached
    assert out.decode().strip().splitlines()[-1] == "['cpu_adam', 'deepspeed_shm_comm'] False"


def test_a_tiny_cell_is_profiled_and_trained_inside_the_image_from_snakemake(client, image, workdir, pytestconfig):
    started = time.monotonic()
    proc = subprocess.run(["snakemake", QUALITY, "--configfile", "configs/config.yaml", "docker_test.yaml",
                           "--config", "runtime=docker"], cwd=workdir, capture_output=True, text=True, timeout=1200)
    say(pytestconfig, f"snakemake, runtime=docker (synth, split, warm start and plan on the host; the profile and the "
                      f"quality job in the container): {time.monotonic() - started:.0f} s")
    assert proc.returncode == 0, proc.stderr[-4000:]
    for phase, log_name in (("profile", "tiny-bart.log"), ("quality", "tiny-bart/job0.log")):
        log = (workdir / f"results/docker_test/logs/{phase}/{log_name}").read_text()
        assert f"running in {TEST_IMAGE} as {os.getuid()}:{os.getgid()}: sumbench {phase} --grid-json" in log
    # the job's own output, streamed from the container into the rule's log
    assert "sumbench quality: 1/1 ok" in (workdir / "results/docker_test/logs/quality/tiny-bart/job0.log").read_text()
    profile = json.loads((workdir / "results/docker_test/profile/tiny-bart.json").read_text(encoding="utf-8"))
    assert profile["splits"][0]["status"] == "ok" and profile["splits"][0]["exclusive"] is True

    metrics = workdir / CELL / "metrics.json"
    record = json.loads(metrics.read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["model"] == "tiny-bart"
    assert record["environment"]["packages"]["torch"].endswith("+cpu")
    for name in ("metrics.json", "train_log.jsonl", "predictions.jsonl"):
        stat = (workdir / CELL / name).stat()
        assert (stat.st_uid, stat.st_gid) == (os.getuid(), os.getgid()), name
    assert not leftover_containers(client)

    # The same cell on the host: the record has the same schema (every key path), whatever ran it.
    started = time.monotonic()
    host = subprocess.run(["sumbench", "train", "--model", "tiny-bart", "--batch-size", "4", "--grad-accum", "1",
                           "--fold", "0", "--data", "results/docker_test/data/folds", "--out", "host-cell",
                           "--base", "results/docker_test/base/tiny-bart", "--max-steps", "4", "--max-eval-samples",
                           "8", "--warmup-steps", "1", "--threads", "1", "--grid", "docker_test", "--config",
                           "docker_test.yaml"],
                          cwd=workdir, capture_output=True, text=True, timeout=600)
    say(pytestconfig, f"the same cell on the host: {time.monotonic() - started:.0f} s")
    assert host.returncode == 0, host.stderr[-2000:]
    host_record = json.loads((workdir / "host-cell" / "metrics.json").read_text(encoding="utf-8"))
    assert key_paths(record) == key_paths(host_record)
    assert record["rouge_sum"] == pytest.approx(host_record["rouge_sum"], abs=0.05)


def test_files_belong_to_the_user_the_job_runs_as(client, image, workdir, open_tmp):
    """Run as another uid:gid than the test's (root in CI): what the job writes is that user's."""
    tmp_path = open_tmp
    out = tmp_path / "owned"
    out.mkdir()
    out.chmod(0o777)
    spec = load_model("tiny-bart", workdir / "configs" / "models")
    plan = J.plan_run(spec, ["sumbench", "data", "synth", "--n", "12", "--out", str(out / "corpus")], workdir=tmp_path,
                      environ={"HOME": str(tmp_path / "home")}, uid=4321, gid=4322, host_gpus=0)
    log = tmp_path / "job.log"
    with open(log, "wb") as fh:
        assert J.run_in_image(client, plan, fh) == 0, log.read_text()
    written = sorted((out / "corpus").iterdir())
    assert written and all((p.stat().st_uid, p.stat().st_gid) == (4321, 4322) for p in written)
    assert not leftover_containers(client)


def test_sigterm_stops_and_removes_the_container(client, image, workdir, pytestconfig):
    proc = subprocess.Popen(["sumbench", "images", "run", "--model", "tiny-bart", "--models-dir",
                             str(workdir / "configs" / "models"), "--", "sleep", "300"],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300  # a hang guard, not a speed claim
    while not client.containers.list(filters={"label": J.JOB_LABEL, "status": "running"}):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.poll() is not None else ""
        time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    say(pytestconfig, f"SIGTERM to container gone: {time.monotonic() - started:.1f} s")  # a figure, not a claim
    assert not leftover_containers(client)
    assert not leftover_containers(client)


def test_missing_image_is_one_line_with_the_build_command(client, workdir, tmp_path):
    yaml = tmp_path / "models" / "tiny-bart.yaml"
    yaml.parent.mkdir()
    yaml.write_text((workdir / "configs/models/tiny-bart.yaml").read_text(encoding="utf-8")
                    .replace(TEST_IMAGE, "sumbench/seq2seq:not-built"), encoding="utf-8")
    proc = subprocess.run(["sumbench", "images", "run", "--model", "tiny-bart", "--models-dir", str(yaml.parent), "--",
                           "sumbench", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("sumbench: image sumbench/seq2seq:not-built (model tiny-bart) is not built on this machine: "
                           "run `sumbench images build --model tiny-bart`\n")
