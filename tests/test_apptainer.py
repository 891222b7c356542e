"""Apptainer under Snakemake: the command Snakemake's own code builds for a train job finds the host's Hugging Face
cache. Snakemake runs ``apptainer exec --home <working dir> ARGS IMAGE ...``, so the host's $HOME is not bound; the
arguments the SLURM profile and the docs give must bind the cache and name it (HF_HOME) whatever its path.

No Apptainer is needed: a fake ``apptainer``/``singularity`` on PATH answers Snakemake's version check and records
the argv it is started with, after the job's shell has expanded the command Snakemake built.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sumbench.config.schema import REPO_ROOT
from sumbench.containers.images import APPTAINER_ARGS

SLURM_PROFILE = REPO_ROOT / "workflow" / "profiles" / "slurm"
FAKE_APPTAINER = """#!/bin/sh
# Answers `--version` like Apptainer; for anything else records its argv (JSON) and HF_HOME in $FAKE_ARGV.
if [ "$1" = "--version" ]; then echo "apptainer version 1.3.4"; exit 0; fi
"{python}" -c 'import json, os, sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$FAKE_ARGV"
"""
KOBART_ONLY = """grids:
  kobart_only:
    models: [kobart]
    batch_sizes: [8]
    grad_accum: [1]
    k_folds: 2
    augmentation: [none]
    max_train_samples: [null]
    seed: 42
    data: {synth: {n: 40, dev_n: 8, seed: 0}}
"""


@pytest.fixture
def fake_apptainer(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("apptainer", "singularity"):
        (bin_dir / name).write_text(FAKE_APPTAINER.format(python=sys.executable), encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def profile_apptainer_args() -> str:
    """``--apptainer-args`` as Snakemake's own command-line parser reads it from the SLURM profile."""
    from snakemake.cli import parse_args

    _, args = parse_args(["--profile", str(SLURM_PROFILE), "--use-singularity"])
    assert args.use_apptainer
    return args.apptainer_args


def kobart_profile_job(fake_bin: Path, tmp_path: Path) -> tuple[str, str]:
    """(image URL, shell command) of the kobart profile job, from a dry run of the workflow with the SLURM profile
    under --use-singularity (the fake Apptainer passes Snakemake's and sumbench's start-up checks)."""
    config = tmp_path / "kobart_only.yaml"
    config.write_text(KOBART_ONLY, encoding="utf-8")
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-m", "snakemake", "results/kobart_only/profile/kobart.json", "-n", "-p",
                          "--profile", str(SLURM_PROFILE), "--use-singularity", "--configfile", str(config)],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    text = out.stdout + out.stderr
    commands = [line.removeprefix("Shell command: ") for line in text.splitlines()
                if line.startswith("Shell command: sumbench profile")]
    assert len(commands) == 1 and "--model kobart" in commands[0], text[-2000:]
    from sumbench.config.model import load_model

    return load_model("kobart").container, commands[0]


def snakemake_apptainer_command(image_url: str, job_command: str, args: str) -> str:
    """The command Snakemake's shell() runs for a job with a container: the same call as snakemake/shell.py makes,
    on the image path Snakemake's Image gives the URL."""
    from snakemake.deployment import singularity

    dag = SimpleNamespace(workflow=SimpleNamespace(persistence=SimpleNamespace(
        container_img_path=str(REPO_ROOT / ".snakemake" / "singularity"))))
    image = singularity.Image(image_url, dag, is_containerized=False)
    return singularity.shellcmd(image.path, job_command, bind=None, args=args, envvars=None,
                                shell_executable="bash", container_workdir=None, is_python_script=False)


def run_as_the_job_shell(command: str, fake_bin: Path, tmp_path: Path, **environ: str) -> list[str]:
    """Run ``command`` as the job's shell would (bash -c, the job's environment) and return the argv the fake
    Apptainer was started with."""
    record = tmp_path / f"argv-{len(list(tmp_path.glob('argv-*')))}.jsonl"
    env = {"PATH": f"{fake_bin}{os.pathsep}/usr/bin:/bin", "FAKE_ARGV": str(record), **environ}
    subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, check=True, timeout=60)
    (argv,) = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    return argv


def option_values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == option]


def test_the_slurm_profile_gives_apptainer_the_gpus_and_the_hugging_face_cache():
    args = profile_apptainer_args()
    assert args == APPTAINER_ARGS
    assert args.split()[0] == "--nv" and "--bind" in args.split() and "HF_HOME=" in args


def test_snakemakes_command_for_a_kobart_profile_job_binds_and_names_the_cache(fake_apptainer, tmp_path):
    """Must show: the command Snakemake builds for kobart's profile job with the SLURM profile, printed; once the
    job's shell expands it, Apptainer gets --nv, a bind of the cache and HF_HOME, with HF_HOME unset (the default
    under the user's home, which Snakemake's --home does not bind) and set to a path elsewhere."""
    url, job_command = kobart_profile_job(fake_apptainer, tmp_path)
    command = snakemake_apptainer_command(url, job_command, profile_apptainer_args())
    print(f"\nSnakemake's command for the kobart profile job:\n{command}")
    assert re.search(r" exec --home '[^']+' --nv --bind \$\{HF_HOME:-\$HOME/\.cache/huggingface\} "
                     r"--env HF_HOME=\$\{HF_HOME:-\$HOME/\.cache/huggingface\} ", command), command
    assert "sumbench profile" in command and "--model kobart" in command

    home = tmp_path / "home"
    argv = run_as_the_job_shell(command, fake_apptainer, tmp_path, HOME=str(home))
    assert argv[0] == "exec" and "--nv" in argv
    assert option_values(argv, "--home") == [str(REPO_ROOT)]  # Snakemake's --home: the working directory
    assert option_values(argv, "--bind") == [f"{home}/.cache/huggingface"]
    assert option_values(argv, "--env") == [f"HF_HOME={home}/.cache/huggingface"]
    assert argv[-2] == "-c" and "sumbench profile" in argv[-1] and argv[-3] == "bash"

    argv = run_as_the_job_shell(command, fake_apptainer, tmp_path, HOME=str(home), HF_HOME="/scratch/hf")
    assert option_values(argv, "--bind") == ["/scratch/hf"]
    assert option_values(argv, "--env") == ["HF_HOME=/scratch/hf"]


def test_every_documented_apptainer_command_carries_the_gpus_and_the_cache():
    """Every `snakemake ... --use-singularity` in the README, Dockerfile, Snakefile, config and model YAMLs passes
    APPTAINER_ARGS, or uses the SLURM profile, which carries it."""
    files = [REPO_ROOT / "README.md", REPO_ROOT / "Dockerfile", REPO_ROOT / "Snakefile",
             REPO_ROOT / "configs" / "config.yaml", SLURM_PROFILE / "config.yaml",
             *sorted((REPO_ROOT / "configs" / "models").glob("*.yaml"))]
    commands = [(path.name, line.strip()) for path in files for line in path.read_text(encoding="utf-8").splitlines()
                if "snakemake " in line and "--use-singularity" in line]
    assert len(commands) >= 12
    missing = [c for c in commands
               if f"--apptainer-args '{APPTAINER_ARGS}'" not in c[1] and "--profile workflow/profiles/slurm" not in c[1]]
    assert missing == []
