# The sumbench job image: each Snakemake train job runs `sumbench train ...` inside its model's image.
# Build it through the CLI, which reads the image names from configs/models/*.yaml and adds the host's pip CA bundle
# and local wheels (a CPU torch) to the build context under docker/extras/:
#   sumbench images build                                   # every image the model YAMLs name, on the CUDA base
#   sumbench images build --model tiny-bart --base-image sumbench/debian-base:bookworm   # CPU image on a local base
# By hand:  docker build --build-arg VARIANT=causal -t sumbench/causal:0.1.0 .
#
# Build arguments:
#   BASE_IMAGE     any Debian/Ubuntu image; python3 >= 3.11 with venv is installed with apt if missing.
#                  Default: CUDA 12.8 runtime on Ubuntu 24.04 (Python 3.12) for GPU hosts.
#   VARIANT        seq2seq = sumbench only; causal = + the [gpu] extra (bitsandbytes; flash-attn where the base has CUDA).
#   TORCH_VERSION  the torch release (pyproject pins the same); a torch wheel in docker/extras/wheels/ wins over the index.
#   TORCH_INDEX_URL  where a base with CUDA gets torch: the PyTorch index of the CUDA release the base carries, so torch
#                  runs on the driver the base is meant for. Default: cu128, matching the default CUDA 12.8 base (driver
#                  525+). PyPI's own Linux torch 2.13 is a CUDA 13 build that needs driver 580+, and on an older driver
#                  torch.cuda.is_available() is False (sumbench then refuses a GPU model rather than train on the CPU).
#                  Another base, e.g. nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
#   TORCH_CPU_INDEX_URL  where a base without CUDA gets torch when docker/extras/wheels/ has no CPU wheel (the local
#                  Debian test base uses the CPU wheel from there).
#   GIT_SHA        the source's commit, recorded in every metrics.json made with this image (the CLI passes it).
ARG BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- python: the base image plus a Python that can make a venv -------------------------------------------------------
FROM ${BASE_IMAGE} AS python
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONUNBUFFERED=1
RUN if ! python3 -c 'import sys, ensurepip, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c 'import sys; assert sys.version_info >= (3, 11), "sumbench needs Python >= 3.11, the base has " + sys.version'

# ---- build: the venv with torch, sumbench's dependencies and sumbench (editable, so it finds workflow/ and configs/) --
FROM python AS build
ARG VARIANT=seq2seq
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_CPU_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The host's CA bundle (for networks whose TLS is intercepted), else pip's own; it lives only in this stage.
COPY docker/extras/ /tmp/extras/
RUN [ -s /tmp/extras/ca-bundle.crt ] || cp "$(python3 -m pip._vendor.certifi)" /tmp/extras/ca-bundle.crt
ENV PIP_CERT=/tmp/extras/ca-bundle.crt

# Torch first (the largest layer). A local wheel is used when it fits this Python, a CPU (+cpu) one only on a base
# without CUDA; otherwise torch comes from TORCH_INDEX_URL (a CUDA base) or TORCH_CPU_INDEX_URL. The CUDA release
# torch was built for is printed, so a build log shows what the image will need from the driver.
RUN set -eu; \
    py=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])'); \
    wheel=$(ls /tmp/extras/wheels/torch-"${TORCH_VERSION}"*-"$py"-*.whl 2>/dev/null | head -n 1 || true); \
    case "$wheel" in *+cpu*) [ ! -d /usr/local/cuda ] || wheel="" ;; esac; \
    if [ -n "$wheel" ]; then pip install "$wheel"; \
    elif [ -d /usr/local/cuda ]; then pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"; \
    else pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_CPU_INDEX_URL}"; fi; \
    python3 -c 'import torch; print("sumbench: torch", torch.__version__, "built for CUDA", torch.version.cuda)'

# Then the dependencies listed in pyproject.toml (cached until it changes), then the source.
COPY pyproject.toml /opt/sumbench/
RUN set -eu; \
    cd /opt/sumbench; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["gpu"]))' \
        > /tmp/requirements-gpu.txt; \
    pip install -r /tmp/requirements.txt "torch==${TORCH_VERSION}"; \
    case "$VARIANT" in \
        seq2seq) ;; \
        causal) \
            grep -v '^flash-attn' /tmp/requirements-gpu.txt > /tmp/requirements-no-fa.txt; \
            pip install -r /tmp/requirements-no-fa.txt; \
            if [ ! -d /usr/local/cuda ]; then \
                echo "sumbench: no CUDA in the base image: flash-attn skipped (models use SDPA attention)"; \
            elif ! (pip install packaging ninja setuptools wheel \
                    && MAX_JOBS=4 pip install --no-build-isolation "$(grep '^flash-attn' /tmp/requirements-gpu.txt)"); then \
                if [ -x /usr/local/cuda/bin/nvcc ]; then exit 1; fi; \
                echo "sumbench: flash-attn has no prebuilt wheel for this torch/CUDA and the base has no nvcc" \
                     "(a -devel base compiles it): models use SDPA attention"; \
            fi ;; \
        *) echo "sumbench: VARIANT must be seq2seq or causal, got '$VARIANT'" >&2; exit 1 ;; \
    esac
# DeepSpeed (the [deepspeed] extra) with its ops compiled here, at image build time, so that no job compiles one
# (DeepSpeed would, on first use: ~1-2 minutes per op on two cores). Without CUDA: the CPU accelerator's shared-memory
# all-reduce and CPU Adam. With CUDA and nvcc (a -devel base): CPU Adam for optimizer offload. A CUDA runtime base has
# no nvcc: DeepSpeed is installed without prebuilt ops, and sumbench loads (compiles) what a setting needs before the
# timed window and records the seconds.
RUN set -eu; \
    cd /opt/sumbench; \
    spec=$(python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["deepspeed"])'); \
    if [ -d /usr/local/cuda ] && [ ! -x /usr/local/cuda/bin/nvcc ]; then pip install "$spec"; \
    else \
        if ! command -v g++ >/dev/null || ! python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))'; then \
            apt-get update && apt-get install -y --no-install-recommends g++ python3-dev && rm -rf /var/lib/apt/lists/*; \
        fi; \
        pip install setuptools wheel ninja packaging py-cpuinfo; \
        if [ -d /usr/local/cuda ]; then DS_BUILD_OPS=0 DS_BUILD_CPU_ADAM=1 pip install --no-build-isolation "$spec"; \
        else DS_ACCELERATOR=cpu DS_BUILD_OPS=0 DS_BUILD_CPU_ADAM=1 DS_BUILD_SHM_COMM=1 pip install --no-build-isolation "$spec"; fi; \
    fi; \
    DS_ACCELERATOR=$([ -d /usr/local/cuda ] && echo cuda || echo cpu) python3 -c 'from deepspeed.git_version_info import installed_ops; print("sumbench: DeepSpeed ops built into the image:", sorted(k for k, v in installed_ops.items() if v) or "none")'
COPY . /opt/sumbench/
RUN pip install --no-deps -e /opt/sumbench && rm -rf /opt/sumbench/docker/extras /opt/sumbench/build \
    && sumbench --help > /dev/null

# ---- the job image -----------------------------------------------------------------------------------------------------
FROM python
ARG VARIANT=seq2seq
ARG GIT_SHA=
LABEL org.opencontainers.image.title="sumbench-${VARIANT}" \
      org.opencontainers.image.description="sumbench job image: runs one grid cell (sumbench train ...)"
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/sumbench /opt/sumbench
# Caches are the host's. Docker: `sumbench images run` bind-mounts them at /cache/... and sets HF_HOME and
# SUMBENCH_CACHE to those mounts (world-writable mount points, so any --user can use them). Apptainer: Snakemake
# runs `apptainer exec --home <working dir>`, so the host's HOME is NOT bound; the documented --apptainer-args bind
# the job's Hugging Face cache and pass HF_HOME with --env:
#   snakemake --cores 1 --use-singularity --apptainer-args '--nv --bind ${HF_HOME:-$HOME/.cache/huggingface} --env HF_HOME=${HF_HOME:-$HOME/.cache/huggingface}'
# No cache path is set in ENV here:
# under Apptainer an image's ENV wins over the host's, and a baked HF_HOME would hide the host's Hugging Face cache.
RUN useradd --create-home --shell /bin/bash sumbench \
    && mkdir -p /cache/huggingface /cache/sumbench && chmod 1777 /cache /cache/huggingface /cache/sumbench
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv \
    TOKENIZERS_PARALLELISM=false SUMBENCH_VARIANT=${VARIANT} SUMBENCH_GIT_SHA=${GIT_SHA}
USER sumbench
WORKDIR /home/sumbench
ENTRYPOINT ["sumbench"]
CMD ["--help"]
