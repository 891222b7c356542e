"""Job images on GPU hosts: the torch build the image installs, the GPUs and the host's Hugging Face cache inside
the container under Docker (``sumbench images run``) and Apptainer (``snakemake --use-singularity``)."""

from __future__ import annotations

from sumbench.config.model import load_model
from sumbench.config.schema import REPO_ROOT
from sumbench.containers import images as I
from sumbench.containers import jobs as J


def plan_for(spec, tmp_path, environ):
    return J.plan_run(spec, ["sumbench", "train", "--model", spec.name], workdir=tmp_path / "work", environ=environ,
                      uid=1234, gid=5678, host_gpus=0)


def test_the_hosts_hugging_face_cache_is_found_inside_under_docker(tmp_path):
    """The image sets no cache variable (Apptainer would let it win over the host's): Docker gets the cache mounted
    and HF_HOME pointed at it. (Apptainer: tests/test_apptainer.py.)"""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = dockerfile.replace("\\\n", " ").splitlines()  # continuation lines joined
    baked = " ".join(line for line in instructions if line.startswith("ENV "))
    assert "PATH=" in baked and not any(f"{name}=" in baked for name in I.CACHE_VARIABLES)
    environ = {"HOME": str(tmp_path / "home"), "HF_HOME": "/scratch/hf models"}
    plan = plan_for(load_model("tiny-bart"), tmp_path, environ)
    assert {m.target: m.source for m in plan.mounts}["/cache/huggingface"] == "/scratch/hf models"
    assert plan.environment["HF_HOME"] == "/cache/huggingface"


def test_the_image_installs_a_torch_built_for_its_cuda_base():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=nvidia/cuda:12.8." in dockerfile
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128" in dockerfile  # the base's CUDA 12.8
    assert '--index-url "${TORCH_INDEX_URL}"' in dockerfile and "*+cpu*" in dockerfile  # local CPU wheel: CPU bases only
