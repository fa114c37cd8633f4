"""Upload the service's static assets to the environment's CDN bucket (`make push`).

The bucket is the static stack's (its physical ID read through the deployer's Resolver, as
the stacks' own parameters are); the keys are `<image tag>/<path under service/static>`, the
same prefix the service stack puts in the container's STATIC_URL. A revision's files never
change under their key, so they are sent with a year-long `immutable` Cache-Control, and a file
already there with the same content (its ETag is the MD5 of a single-part upload) is skipped:
pushing the same revision again sends nothing.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.manifest import Manifest, StaticAssets
from deployer.params import Resolver, UpstreamMissing
from deployer.registry_push import PushError

CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Python's own table, not the machine's /etc/mime.types: the same types from every workstation.
_TYPES = mimetypes.MimeTypes()
for _extension in (".js", ".mjs"):  # RFC 9239; Python 3.11 says application/javascript
    _TYPES.add_type("text/javascript", _extension)
# Text the browser must decode: say the charset rather than let it guess.
_TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")


@dataclass(frozen=True)
class Uploaded:
    bucket: str
    prefix: str
    sent: tuple[str, ...]  # keys uploaded
    unchanged: tuple[str, ...]  # keys already there with the same content

    def summary(self) -> str:
        return (
            f"assets: {len(self.sent)} uploaded, {len(self.unchanged)} unchanged "
            f"in s3://{self.bucket}/{self.prefix}"
        )


def content_type(path: Path) -> str:
    guessed = _TYPES.guess_type(path.name)[0] or DEFAULT_CONTENT_TYPE
    return f"{guessed}; charset=utf-8" if guessed.startswith(_TEXT_TYPES) else guessed


def local_files(source: Path) -> list[tuple[str, Path]]:
    """(path relative to source, in URL form; the file), sorted; hidden files left out."""
    if not source.is_dir():
        raise PushError(f"{source}: no such directory of static assets")
    files = [
        (path.relative_to(source).as_posix(), path)
        for path in source.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(source).parts)
    ]
    return sorted(files)


def bucket_name(manifest: Manifest, assets: StaticAssets, client: Any) -> str:
    """The physical name of the static stack's bucket."""
    resolver = Resolver(client("cloudformation"), manifest, {}, client)
    try:
        physical = resolver.physical_ids(assets.stack)
    except UpstreamMissing as why:
        raise PushError(f"{why}: deploy the {assets.stack} stack before pushing") from None
    if assets.resource not in physical:
        name = manifest.stack(assets.stack).stack_name
        raise PushError(f"{name} has no {assets.resource} yet: deploy the {assets.stack} stack")
    return physical[assets.resource]


def existing_etags(s3: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Key -> ETag (unquoted) of every object under the prefix."""
    found: dict[str, str] = {}
    arguments = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**arguments)
        found.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
        if not page.get("IsTruncated"):
            return found
        arguments["ContinuationToken"] = page["NextContinuationToken"]


def upload_assets(s3: Any, bucket: str, source: Path, prefix: str) -> Uploaded:
    files = local_files(source)  # a missing folder is reported before any S3 call
    present = existing_etags(s3, bucket, prefix)
    sent, unchanged = [], []
    for relative, path in files:
        key = f"{prefix}{relative}"
        body = path.read_bytes()
        digest = hashlib.md5(body, usedforsecurity=False)
        if present.get(key) == digest.hexdigest():
            unchanged.append(key)
            continue
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type(path),
            CacheControl=CACHE_CONTROL,
            ContentMD5=base64.b64encode(digest.digest()).decode(),  # S3 checks what it got
        )
        sent.append(key)
    return Uploaded(bucket, prefix, tuple(sent), tuple(unchanged))


def push_assets(manifest: Manifest, assets: StaticAssets, client: Any, root: Path) -> Uploaded:
    """Upload `root / assets.source` to the static stack's bucket under the manifest's prefix."""
    bucket = bucket_name(manifest, assets, client)
    return upload_assets(client("s3"), bucket, root / assets.source, assets.prefix)
