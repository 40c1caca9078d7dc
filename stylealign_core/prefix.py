"""A prefix of files: a local directory or ``s3://BUCKET/PREFIX``, listed, read and written the same way.

    src = open_prefix("s3://emoji/inbox", endpoint_url="http://127.0.0.1:7480")   # or a local path
    for entry in src.list(suffixes=(".png", ".jpg")):
        data = src.read(entry.name)                  # names are relative to the prefix, "/"-separated
    open_prefix("runs/translated").write("a/b.png", data)

Writes are atomic: a local file goes through :func:`stylealign_core.atomic.write_bytes_atomic` (temporary
file beside it, fsync, rename); an S3 object is sent in one ``put_object`` of the complete bytes, which
S3 makes visible only once it has all of them. S3 uses :func:`stylealign_core.checkpoints.remote.s3_client`:
the endpoint is ``endpoint_url`` or ``$AWS_ENDPOINT_URL`` (unset: AWS), credentials come only from boto3's
chain (environment variables, ``~/.aws``), never from a parameter.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_bytes_atomic
from .errors import StylealignError


class PrefixError(StylealignError):
    """A prefix that cannot be listed, read or written; the message names it and the fix."""


@dataclass(frozen=True)
class Entry:
    name: str        # relative to the prefix, "/"-separated
    size: int


def is_s3(uri: str | os.PathLike) -> bool:
    return str(uri).startswith("s3://")


def open_prefix(uri: str | os.PathLike, endpoint_url: str | None = None) -> "LocalPrefix | S3Prefix":
    """The prefix at ``uri``: ``s3://BUCKET[/PREFIX]`` or a local directory (created on first write)."""
    if is_s3(uri):
        return S3Prefix(str(uri), endpoint_url)
    if "://" in str(uri):
        raise PrefixError(f"{uri}: unsupported URL scheme (fix: use a local directory or s3://BUCKET/PREFIX)")
    return LocalPrefix(Path(uri).expanduser())


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


class LocalPrefix:
    def __init__(self, root: Path):
        self.root = root
        self.uri = str(root)

    def __repr__(self) -> str:
        return f"LocalPrefix({self.uri!r})"

    def list(self, suffixes: tuple[str, ...] | None = None, under: str = "") -> list[Entry]:
        """Files under the prefix (or its sub-folder ``under``), sorted by name; hidden files (a temporary
        file of an atomic write) are not listed. A missing directory lists as empty."""
        base = self.root / under if under else self.root
        if not base.is_dir():
            return []
        out = []
        for path in base.rglob("*"):
            name = path.relative_to(self.root).as_posix()
            if path.is_file() and not _hidden(name) and (suffixes is None or name.lower().endswith(suffixes)):
                out.append(Entry(name, path.stat().st_size))
        return sorted(out, key=lambda e: e.name)

    def read(self, name: str) -> bytes:
        try:
            return (self.root / name).read_bytes()
        except OSError as exc:
            raise PrefixError(f"cannot read {self.root / name}: {exc} (fix: check the path)") from None

    def write(self, name: str, data: bytes) -> str:
        return str(write_bytes_atomic(self.root / name, data))


class S3Prefix:
    def __init__(self, uri: str, endpoint_url: str | None = None):
        from .checkpoints.remote import split_s3_url

        self.bucket, key = split_s3_url(uri)
        if not self.bucket:
            raise PrefixError(f"{uri}: an s3:// prefix needs a bucket (fix: write s3://BUCKET/PREFIX)")
        self.key = key.strip("/")
        self.uri = f"s3://{self.bucket}/{self.key}".rstrip("/")
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._client = None

    def __repr__(self) -> str:
        return f"S3Prefix({self.uri!r}, endpoint {self.endpoint_url or 'AWS'})"

    @property
    def client(self):
        if self._client is None:
            from .checkpoints.remote import s3_client
            try:
                self._client = s3_client(self.endpoint_url)
            except ImportError:
                raise PrefixError(f"{self.uri}: s3:// needs boto3 (fix: pip install 'stylealign[pipeline]')") from None
        return self._client

    def _object(self, name: str) -> str:
        return f"{self.key}/{name}" if self.key else name

    def _fail(self, what: str, exc: Exception):
        where = f" (endpoint {self.endpoint_url})" if self.endpoint_url else ""
        raise PrefixError(f"{what} failed{where}: {type(exc).__name__}: {exc} (fix: check the bucket, "
                          "AWS_ENDPOINT_URL and the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)") from None

    def list(self, suffixes: tuple[str, ...] | None = None, under: str = "") -> list[Entry]:
        """Objects under the prefix (or ``under`` inside it), sorted by name; a missing prefix lists as empty."""
        start = self._object(under.strip("/")) if under else self.key
        start = f"{start}/" if start else ""
        out = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.key) + 1:] if self.key else obj["Key"]
                    if name and not _hidden(name) and (suffixes is None or name.lower().endswith(suffixes)):
                        out.append(Entry(name, int(obj["Size"])))
        except PrefixError:
            raise
        except Exception as exc:  # noqa: BLE001 - botocore ClientError, EndpointConnectionError, ...
            self._fail(f"listing {self.uri}/{under}".rstrip("/"), exc)
        return sorted(out, key=lambda e: e.name)

    def read(self, name: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object(name))["Body"].read()
        except PrefixError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._fail(f"reading {self.uri}/{name}", exc)

    def write(self, name: str, data: bytes) -> str:
        """One ``put_object`` of the complete bytes: readers see the old object or the new one."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object(name), Body=data)
        except PrefixError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._fail(f"writing {self.uri}/{name}", exc)
        return f"{self.uri}/{name}"
