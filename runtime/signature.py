"""Who made a bundle: sign it with a private key, verify it with the public key (OpenSSF model-signing).

The manifest's own sha256 catches corruption, not tampering: whoever edits a bundle can recompute
it. A signature made with an elliptic-curve private key (offline, no Sigstore account) covers
every file of the bundle; `vaedge.sig` beside them holds it. Verification checks the signature
with model-signing, then compares the digests it signed against the sha256 of the bytes this
process read and will load, never against files re-read from disk after the check.

Needs `pip install 'vaedge[sign]'`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from vaedge.errors import BundleError, SignatureError
from vaedge.io import atomic
from vaedge.io.files import MiB, describe, read_regular
from vaedge.runtime.manifest import SIGNATURE, Manifest

MAX_SIGNATURE_BYTES = 1 * MiB


def sign_bundle(bundle: Path, private_key: Path, password: str | bytes | None = None) -> Path:
    """Sign every file of `bundle` with an EC private key (PEM, encrypted if `password` is given);
    write `bundle/vaedge.sig` atomically and return its path.

    The bundle must hold exactly the manifest and the files it lists (plus an old vaedge.sig, which
    is replaced): anything else (a symlink, a FIFO, a stray file) is a SignatureError naming it. The
    bundle folder is locked (flock) from the check to the write, so two signers take turns and the
    signature left is one of theirs, whole; and the hashing never sees the other's temporary file.
    """
    from model_signing import hashing, signing

    from vaedge.runtime.manifest import read_manifest, unlisted_files

    bundle = Path(bundle).resolve()
    if isinstance(password, str):
        password = password.encode()
    with _locked(bundle), tempfile.TemporaryDirectory() as tmp:  # outside the bundle: never signs itself
        sig = bundle / SIGNATURE
        if sig.is_symlink() or (sig.exists() and not sig.is_file()):
            raise SignatureError(f"{describe(sig)}: is a symlink or not a regular file; remove it and sign again")
        try:
            stray = unlisted_files(read_manifest(bundle))
        except BundleError as exc:
            raise SignatureError(f"{describe(bundle)}: cannot sign it ({exc})") from None
        if stray:
            raise SignatureError(
                f"{describe(bundle)}: holds files the manifest does not list: {', '.join(stray)}; "
                "a signature covers only a bundle's own files"
            )
        # ignored paths go through set_ignored_paths, relative to the bundle: the serializer's own
        # ignore_paths argument is replaced by these when hashing, and an old vaedge.sig got signed.
        hashing_config = (
            hashing.Config()
            .use_file_serialization(hashing_algorithm="sha256", allow_symlinks=False)
            .set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=False)
        )
        try:
            key = _key_copy(private_key, Path(tmp))
            config = signing.Config().use_elliptic_key_signer(private_key=key, password=password)
        except SignatureError:
            raise
        except Exception as exc:  # cryptography's key errors have no common base
            why = (
                "wrong or missing password"
                if "password" in str(exc).lower() or "decrypt" in str(exc).lower()
                else _first_line(exc)
            )
            raise SignatureError(f"{describe(private_key)}: not a usable EC private key ({why})") from None
        config.set_hashing_config(hashing_config)
        try:
            config.sign(bundle, Path(tmp) / SIGNATURE)
        except (OSError, ValueError) as exc:  # a file changed or turned into a link while it was hashed
            raise SignatureError(f"{describe(bundle)}: cannot sign it ({_first_line(exc)})") from None
        atomic.write_bytes(sig, (Path(tmp) / SIGNATURE).read_bytes())
    return sig


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive flock on `folder` itself (no lock file that would become part of the bundle)."""
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SignatureError(f"{describe(folder)}: not a bundle directory ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def verify_bundle(manifest: Manifest, loaded: dict[str, bytes], public_key: Path) -> None:
    """Raise SignatureError unless `vaedge.sig` verifies with `public_key` and its signed digests are
    exactly the sha256 of `loaded` ({file name: bytes read}, the manifest included)."""
    from model_signing import verifying
    from model_signing._signing import sign_sigstore_pb

    where = describe(manifest.root / SIGNATURE)
    if not (manifest.root / SIGNATURE).exists():
        raise SignatureError(f"{where}: missing; the bundle is not signed and a public key was given")
    data = read_regular(manifest.root / SIGNATURE, MAX_SIGNATURE_BYTES, SignatureError, follow_symlinks=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = verifying.Config().use_elliptic_key_verifier(public_key=_key_copy(public_key, Path(tmp)))
    except SignatureError:
        raise
    except Exception as exc:
        raise SignatureError(f"{describe(public_key)}: not a usable EC public key ({_first_line(exc)})") from None
    try:
        with tempfile.TemporaryDirectory() as tmp:  # model-signing reads a path: give it the bytes we read
            copy = Path(tmp) / SIGNATURE
            copy.write_bytes(data)
            signature = sign_sigstore_pb.Signature.read(copy)
        # model-signing's public verify() re-hashes the files on disk; its verifier alone checks the
        # signature and returns the signed digests, which are compared with the bytes loaded here.
        signed = config._verifier.verify(signature)
    except Exception as exc:
        raise SignatureError(f"{where}: does not verify with {describe(public_key)} ({_first_line(exc)})") from None
    digests = {d.identifier: d.digest.digest_hex for d in signed.resource_descriptors()}
    actual = {name: hashlib.sha256(content).hexdigest() for name, content in loaded.items()}
    problems = [f"{describe(name)} is not covered by the signature" for name in sorted(set(actual) - set(digests))]
    problems += [f"{describe(name)} is signed but missing" for name in sorted(set(digests) - set(actual))]
    problems += [
        f"{describe(name)}: sha256 {actual[name]}, signed {digests[name]}"
        for name in sorted(set(actual) & set(digests))
        if actual[name] != digests[name]
    ]
    if problems:
        raise SignatureError(f"{where}: the signature does not match the bundle: " + "; ".join(problems))


def _key_copy(key: Path, folder: Path) -> Path:
    """A private copy of a key file, read as a bounded regular file (a FIFO or device would hang model-signing)."""
    copy = folder / "key.pem"
    copy.write_bytes(read_regular(key, MAX_SIGNATURE_BYTES, SignatureError))
    return copy


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return describe(text[0][:200]) if text else type(exc).__name__
