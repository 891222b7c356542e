"""``sumbench images list | build | run``: the per-model Docker images, and a job run inside one."""

from __future__ import annotations

import argparse
import sys

from sumbench.errors import SumbenchError


def _image_needs(models_dir: str | None, only: list[str] | None = None):
    from sumbench.config.model import DEFAULT_MODELS_DIR, load_model, model_files
    from sumbench.containers.images import images_needed

    folder = models_dir or DEFAULT_MODELS_DIR
    specs = [load_model(name, folder) for name in model_files(folder)]
    unknown = sorted(set(only or ()) - {s.name for s in specs})
    if unknown:
        raise SumbenchError(f"unknown model {unknown[0]!r}: no {unknown[0]}.yaml under {folder}")
    needs = images_needed(s for s in specs if s.container)
    return [n for n in needs if not only or set(n.models) & set(only)]


def _images_list(args: argparse.Namespace) -> int:
    from sumbench.containers.images import DockerUnavailable, connect, format_table, list_rows

    needs = _image_needs(args.models_dir)
    try:
        client = connect()
    except DockerUnavailable:
        print(format_table(list_rows(needs)))  # the mapping still helps; LOCAL is unknown
        raise
    print(format_table(list_rows(needs, client)))
    return 0


def _images_build(args: argparse.Namespace) -> int:
    from sumbench.containers.images import build_image, connect, parse_build_args

    build_args = parse_build_args(args.build_arg)
    needs = _image_needs(args.models_dir, args.model)
    client = connect()
    for need in needs:
        build_image(client, need, base_image=args.base_image, build_args=build_args,
                    extras={} if args.no_extras else None, echo=lambda line: print(line, flush=True))
    return 0


def _images_run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from sumbench.config.model import DEFAULT_MODELS_DIR, load_model
    from sumbench.containers.images import connect
    from sumbench.containers.jobs import host_gpu_count, plan_run, run_in_image

    from sumbench.training.lease import DeviceLease

    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    spec = load_model(args.model, args.models_dir or DEFAULT_MODELS_DIR)
    host_gpus = host_gpu_count()
    # the host side leases the GPUs (held while the container runs): no two jobs' containers share one
    lease = DeviceLease.acquire(min(spec.resources.gpus, host_gpus), environ=dict(os.environ))
    plan = plan_run(spec, command, workdir=Path.cwd(), environ=os.environ, uid=os.getuid(), gid=os.getgid(),
                    host_gpus=host_gpus, models_dir=Path(args.models_dir or DEFAULT_MODELS_DIR), gpu_ids=lease.gpus)
    return run_in_image(connect(), plan, sys.stdout.buffer)


def add_parsers(sub) -> None:
    images = sub.add_parser("images", help="the per-model Docker images: list, build, run a job inside one")
    isub = images.add_subparsers(dest="images_command", required=True)
    ls = isub.add_parser("list", help="which model needs which image, and whether it is built here")
    ls.add_argument("--models-dir", default=None, help="folder of model YAMLs (default: configs/models)")
    ls.set_defaults(func=_images_list)
    b = isub.add_parser("build", help="build and tag the images the model YAMLs name (docker SDK, output shown)")
    b.add_argument("--model", action="append", default=None, help="only this model's image (repeatable)")
    b.add_argument("--base-image", default=None, help="the Dockerfile's BASE_IMAGE (default: a CUDA runtime base)")
    b.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="a Dockerfile ARG (repeatable)")
    b.add_argument("--no-extras", action="store_true",
                   help="leave pip's CA bundle and local torch wheels out of the build context")
    b.add_argument("--models-dir", default=None)
    b.set_defaults(func=_images_build)
    r = isub.add_parser("run", help="run a job command inside a model's image (the workflow's runtime: docker)")
    r.add_argument("--model", required=True, help="the model whose image to use (configs/models/<name>.yaml)")
    r.add_argument("--models-dir", default=None)
    r.add_argument("job", nargs=argparse.REMAINDER, help="-- COMMAND... e.g. -- sumbench train --model tiny-bart ...")
    r.set_defaults(func=_images_run)
