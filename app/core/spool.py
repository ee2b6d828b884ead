"""Where multipart uploads wait while Werkzeug parses a request: never in clear on disk.

Werkzeug spools large file parts to a temporary file. ``EphemeralSpool`` does the
same, but encrypts with AES-CTR under a key that lives only in this object, so
a crash or a disk image never shows an upload in clear.

A temporary directory that is full or cannot be written is our outage, not the
client's mistake: ``ServiceUnavailableError`` (503 with Retry-After).
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from app.errors import ServiceUnavailableError

_BLOCK = 16


def _unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError("附件暂时无法接收，请稍后再试")


class EphemeralSpool(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        self._key = os.urandom(32)
        self._nonce = os.urandom(8)
        try:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        except OSError:
            raise _unavailable() from None
        self._pos = 0
        self._size = 0

    def _xor(self, data: bytes, offset: int) -> bytes:
        block, skip = divmod(offset, _BLOCK)
        counter = self._nonce + block.to_bytes(8, "big")
        enc = Cipher(algorithms.AES(self._key), modes.CTR(counter)).encryptor()
        return enc.update(b"\0" * skip + data)[skip:]

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        try:
            self._file.seek(self._pos)
            self._file.write(self._xor(data, self._pos))
        except OSError:
            raise _unavailable() from None
        self._pos += len(data)
        self._size = max(self._size, self._pos)
        return len(data)

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        try:
            self._file.seek(self._pos)  # flushes what is buffered: a full disk shows here too
            data = self._xor(self._file.read(want), self._pos)
        except OSError:
            raise _unavailable() from None
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed and hasattr(self, "_file"):
            self._file.close()
            self._key = b""
        super().close()

    def __copy__(self) -> EphemeralSpool:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> EphemeralSpool:
        # A spool is an open resource: copies (webargs deep-copies parsed data) share it.
        return self
