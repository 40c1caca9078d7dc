"""``https://`` and ``s3://`` checkpoints: downloaded once into a cache directory, optionally pinned by sha256.

``s3://BUCKET/KEY`` is read with boto3 (the ``pipeline`` extra): the endpoint comes from
``$AWS_ENDPOINT_URL`` (an S3-compatible store such as Ceph radosgw or MinIO; unset: AWS), credentials
from boto3's usual chain (environment, ``~/.aws``); transient failures are retried by boto3.
Cache: ``$STYLEALIGN_CACHE`` or ``~/.cache/stylealign``; files live under ``downloads/<url hash>/``.
A stylealign checkpoint is addressed by the URL of its ``.json`` (or ``.safetensors``); the other
file of the pair is fetched from beside it and verified against the manifest's sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import CheckpointError
from .native import MANIFEST_SUFFIX, TENSORS_SUFFIX, sha256_file

URL_SCHEMES = ("https://", "s3://")
TIMEOUT_S = 60
_CHUNK = 1 << 20


def is_url(uri) -> bool:
    return isinstance(uri, str) and "://" in uri


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    if override:
        return Path(override)
    env = os.environ.get("STYLEALIGN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "stylealign"


def _urlopen(url: str):  # indirection so tests can serve files without a network
    if url.startswith("s3://"):
        return _s3_open(url)
    return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 - scheme checked by the caller


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://BUCKET/KEY`` (the key unquoted; empty when the URL names only a bucket)."""
    parsed = urllib.parse.urlsplit(url)
    return parsed.netloc, urllib.parse.unquote(parsed.path.lstrip("/"))


def s3_client(endpoint_url: str | None = None):
    """A boto3 S3 client: endpoint ``endpoint_url``, else ``$AWS_ENDPOINT_URL`` (unset: AWS); credentials from
    boto3's chain (environment, ``~/.aws``); bounded timeouts, transient failures retried. ImportError
    without boto3."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=10, read_timeout=TIMEOUT_S, retries={"max_attempts": 4, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None, config=config)


def _s3_open(url: str):
    """A readable stream of the object at ``s3://BUCKET/KEY`` (boto3, endpoint from ``$AWS_ENDPOINT_URL``)."""
    bucket, key = split_s3_url(url)
    if not bucket or not key:
        raise CheckpointError(url, "an s3:// URL needs a bucket and a key", "write it as s3://BUCKET/path/to/file")
    try:
        client = s3_client()
    except ImportError:
        raise CheckpointError(url, "s3:// needs boto3", "pip install 'stylealign[pipeline]' (or boto3)") from None
    return client.get_object(Bucket=bucket, Key=key)["Body"]


def _download(url: str, target: Path, sha256: str | None) -> Path:
    """``url`` -> ``target`` (atomic), reusing a cached copy; a sha256 mismatch removes the file."""
    if target.exists():
        if sha256 is None or sha256_file(target) == sha256.lower():
            return target
        target.unlink()  # stale or tampered cache entry: fetch again
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f, _urlopen(url) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    except CheckpointError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, timeouts, ...
        Path(tmp).unlink(missing_ok=True)
        where = f" (endpoint {os.environ['AWS_ENDPOINT_URL']})" if url.startswith("s3://") and \
            os.environ.get("AWS_ENDPOINT_URL") else ""
        raise CheckpointError(url, f"download failed{where} ({type(exc).__name__}: {exc})",
                              "check the URL, the network and (for s3://) AWS_ENDPOINT_URL and the credentials, "
                              "or download the file and pass its local path") from None
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(url, f"downloaded file has sha256 {digest.hexdigest()}, expected {sha256.lower()}; "
                              "the download was discarded", "check the URL and the expected hash")
    os.replace(tmp, target)
    return target


def fetch(url: str, sha256: str | None = None, cache: str | os.PathLike | None = None) -> Path:
    """Local path of the checkpoint at ``url`` (for our format: of its manifest)."""
    if not url.startswith(URL_SCHEMES):
        raise CheckpointError(url, f"unsupported URL scheme (supported: {', '.join(URL_SCHEMES)})",
                              "download the file and pass its local path")
    parsed = urllib.parse.urlsplit(url)
    name = Path(urllib.parse.unquote(parsed.path)).name or "checkpoint"
    native = name.endswith((MANIFEST_SUFFIX, TENSORS_SUFFIX))
    if native:
        stem = name[: -len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else name[: -len(TENSORS_SUFFIX)]
        name = stem + MANIFEST_SUFFIX
        manifest_url_path = parsed.path.rsplit("/", 1)[0] + "/" + urllib.parse.quote(name)
        url = urllib.parse.urlunsplit(parsed._replace(path=manifest_url_path))
    folder = cache_dir(cache) / "downloads" / hashlib.sha256(url.encode()).hexdigest()[:16]
    if not native:
        return _download(url, folder / name, sha256)
    manifest_path = folder / name
    for attempt in range(2):  # a cached manifest that disagrees with the pinned sha256 is fetched again
        if not manifest_path.exists():
            _download(url, manifest_path, None)
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            file, expected = manifest["tensors"]["file"], manifest["tensors"]["sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            manifest_path.unlink(missing_ok=True)
            raise CheckpointError(url, f"not a stylealign checkpoint manifest ({exc}); the download was discarded"
                                  ) from None
        if sha256 is None or expected == sha256.lower() or attempt:
            break
        manifest_path.unlink()
    if Path(file).name != file:
        raise CheckpointError(url, f"manifest names tensor file {file!r}; it must be a plain file name")
    if sha256 is not None and expected != sha256.lower():
        manifest_path.unlink(missing_ok=True)
        raise CheckpointError(url, f"checkpoint sha256 {expected} (from its manifest), expected {sha256.lower()}; "
                              "the download was discarded", "check the URL and the expected hash")
    tensors_url = url.rsplit("/", 1)[0] + "/" + urllib.parse.quote(file)
    _download(tensors_url, folder / file, expected)
    return manifest_path
