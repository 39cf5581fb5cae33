"""Seal short secrets (provider API keys, alert webhook URLs) for storage, stdlib only.

A database dump alone must not reveal a tenant's API key. ``cryptography`` is not a dependency,
so this is authenticated encryption built from HMAC-SHA256, a PRF:

- keys: ``enc = HMAC(secret, "aiops-seal-v1:enc")``, ``mac = HMAC(secret, "aiops-seal-v1:mac")``
  where ``secret`` is Django's SECRET_KEY (fallback keys are tried when unsealing, so rotating
  SECRET_KEY with SECRET_KEY_FALLBACKS keeps stored keys readable);
- encryption: counter mode, keystream block ``i`` = ``HMAC(enc, nonce ‖ i)``, 16-byte random nonce;
- integrity: encrypt-then-MAC, ``tag = HMAC(mac, version ‖ len(context) ‖ context ‖ nonce ‖ ct)``,
  checked in constant time. ``context`` binds a sealed value to where it belongs (the tenant's
  schema), so a value copied into another tenant's row does not unseal.

Threat model: protects against reading a dump or a backup without the SECRET_KEY; it does not
protect against someone holding both. Stored as ``v1:<urlsafe base64 of nonce ‖ ct ‖ tag>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

VERSION = "v1"
_NONCE = 16
_TAG = 32


class SealError(ValueError):
    """The value cannot be unsealed: wrong key, wrong context, or tampered with."""


def _keys(secret: str) -> tuple[bytes, bytes]:
    root = secret.encode("utf-8")
    enc = hmac.new(root, b"aiops-seal-v1:enc", hashlib.sha256).digest()
    mac = hmac.new(root, b"aiops-seal-v1:mac", hashlib.sha256).digest()
    return enc, mac


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(
        hmac.new(key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest() for i in range(blocks)
    )[:length]


def _tag(key: bytes, context: str, nonce: bytes, ct: bytes) -> bytes:
    ctx = context.encode("utf-8")
    msg = VERSION.encode() + len(ctx).to_bytes(4, "big") + ctx + nonce + ct
    return hmac.new(key, msg, hashlib.sha256).digest()


def seal(plaintext: str, *, secret: str, context: str) -> str:
    """Encrypt and authenticate ``plaintext`` for ``context`` (e.g. a schema name)."""
    if not secret:
        raise SealError("no secret to seal with")
    enc, mac = _keys(secret)
    nonce = os.urandom(_NONCE)
    data = plaintext.encode("utf-8")
    ct = bytes(a ^ b for a, b in zip(data, _keystream(enc, nonce, len(data)), strict=True))
    blob = nonce + ct + _tag(mac, context, nonce, ct)
    return f"{VERSION}:{base64.urlsafe_b64encode(blob).decode('ascii')}"


def unseal(token: str, *, secrets: Iterable[str], context: str) -> str:
    """The plaintext of ``token``; tries each of ``secrets`` (current key first)."""
    prefix, _, body = token.partition(":")
    if prefix != VERSION or not body:
        raise SealError("not a sealed value")
    try:
        blob = base64.urlsafe_b64decode(body.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SealError("not a sealed value") from None
    if len(blob) < _NONCE + _TAG:
        raise SealError("sealed value too short")
    nonce, ct, tag = blob[:_NONCE], blob[_NONCE:-_TAG], blob[-_TAG:]
    for secret in secrets:
        if not secret:
            continue
        enc, mac = _keys(secret)
        if hmac.compare_digest(_tag(mac, context, nonce, ct), tag):
            data = bytes(a ^ b for a, b in zip(ct, _keystream(enc, nonce, len(ct)), strict=True))
            return data.decode("utf-8")
    raise SealError("the value does not unseal with the configured keys")
