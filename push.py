"""Push one environment's revision: `python push.py --env local` (make push ENV=...).

Reads build/<env>/manifest.json (written by `make templates`) for the region, the ECR repository,
the tag and where the static assets go. First uploads service/static/ to the static stack's
bucket under `<tag>/` (when the environment has a CDN), then pushes the local image
`scalable-app:<tag>` (built by `make image`) to ECR. Assets first: the deployer checks that the
image is in ECR, so an image there means its assets are in place too.

`--assets-only` uploads the assets without Docker (a machine or CI job with no Docker engine,
or a first deploy where the image is pushed from elsewhere).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from deployer.assets_push import push_assets
from deployer.errors import ManifestError
from deployer.manifest import Manifest, load
from deployer.preflight import PreflightError, credentials, credentials_problem
from deployer.registry_push import Docker, PushError, push_image
from deployer.session import Aws

LOCAL_IMAGE = "scalable-app"
ROOT = Path(__file__).resolve().parent


def read_manifest(directory: Path) -> Manifest:
    try:
        return load(directory)
    except ManifestError as error:
        raise PushError(str(error)) from None


def push(args: argparse.Namespace, docker: Docker | None, say: Callable[[str], None]) -> None:
    manifest = read_manifest(args.build_dir / args.env)
    aws = Aws(manifest.region)
    credentials(aws.session, manifest.region)  # missing ones said as plan and status say them
    assets = manifest.static_assets
    if assets is None:
        say(
            f"assets: {manifest.environment} has no CDN ([static_assets] cdn = false): nothing "
            "to upload, the app serves the copy in its image"
        )
    else:
        say(push_assets(manifest, assets, aws.client, args.root).summary())
    if not args.assets_only:
        # Every service built from this repository's Dockerfile runs the same image: one push
        # per repository and tag. A service whose file names an image URI has none to push.
        images = {service.image for service in manifest.services if service.image is not None}
        for image in sorted(images, key=lambda image: (image.repository_name, image.tag)):
            pushed = push_image(
                aws.client("ecr"),
                docker or Docker(),
                local_image=args.local_image,
                repository_name=image.repository_name,
                tag=image.tag,
            )
            say(f"pushed {pushed}")


def main(argv: list[str] | None = None, docker: Docker | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment name (build/<env>/)")
    parser.add_argument("--build-dir", type=Path, default=Path("build"))
    parser.add_argument("--local-image", default=LOCAL_IMAGE, help="local image name, no tag")
    parser.add_argument(
        "--assets-only", action="store_true", help="upload the static assets only (no Docker)"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    from deployer.status import is_credentials_error

    try:
        push(args, docker, lambda line: print(line, flush=True))
    except (PushError, PreflightError) as error:
        print(f"push: error: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        if is_credentials_error(error):
            region = read_manifest(args.build_dir / args.env).region
            print(f"push: error: {credentials_problem(region, error)}", file=sys.stderr)
        else:
            print(f"push: AWS said: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
