"""Mailbox secrets encrypted at rest with the instance's Fernet keys (no Flask)."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts mailbox secrets with the instance's Fernet keys (newest first)."""

    def __init__(self, keys: list[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the keys kept one per line in the instance key file."""
        return cls([line for line in path.read_bytes().split() if line])

    def encrypt(self, plaintext: str) -> bytes:
        """Encrypt a secret with the newest key."""
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        """Decrypt a secret made with any of the keys; raise ValueError when none fits."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("mailbox secret cannot be decrypted with the instance keys") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a secret under the newest key."""
        return self._fernet.rotate(token)
