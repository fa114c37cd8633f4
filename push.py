"""Push the service image for one environment: `python push.py --env local` (make push ENV=...).

Reads build/<env>/manifest.json (written by `make templates`) for the region, the ECR repository
and the tag, then pushes the local image `scalable-app:<tag>` (built by `make image`) there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deployer.registry_push import Docker, PushError, push_image

LOCAL_IMAGE = "scalable-app"


def read_manifest(path: Path) -> tuple[str, str, str]:
    """(region, repository name, tag) from the build manifest."""
    try:
        data = json.loads(path.read_text())
        return data["region"], data["image"]["repository_name"], data["image"]["tag"]
    except FileNotFoundError:
        raise PushError(f"{path}: not found; run `make templates ENV=...` first") from None
    except (ValueError, KeyError, TypeError) as error:
        raise PushError(f"{path}: malformed ({error!r}); run `make templates` again") from None


def main(argv: list[str] | None = None, docker: Docker | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment name (build/<env>/)")
    parser.add_argument("--build-dir", type=Path, default=Path("build"))
    parser.add_argument("--local-image", default=LOCAL_IMAGE, help="local image name, no tag")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        region, repository, tag = read_manifest(args.build_dir / args.env / "manifest.json")

        ecr = boto3.client("ecr", region_name=region)
        pushed = push_image(
            ecr,
            docker or Docker(),
            local_image=args.local_image,
            repository_name=repository,
            tag=tag,
        )
    except PushError as error:
        print(f"push: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(f"push: AWS said: {error}", file=sys.stderr)
        return 1
    print(f"pushed {pushed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
