"""The signed-in user's msal token cache, kept in one file only its owner can read, written atomically."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import msal

from recon.errors import SettingsError

LOGIN_HINT = "run `recon auth login`"
_registry_lock = threading.Lock()
_registry: dict[Path, TokenCacheFile] = {}


class TokenCacheFile:
    """An msal SerializableTokenCache mirrored to `path` (mode 0600); shared by every app in the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) of the file last read or written

    def refresh(self) -> None:
        """Re-read the file when it changed on disk; refuse a missing file or one others can read."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            raise SettingsError(f"no signed-in user (no token cache at {self.path}): {LOGIN_HINT}") from None
        except OSError as exc:
            raise SettingsError(f"RECON_TOKEN_CACHE: cannot read {self.path}: {exc.strerror}") from None
        if os.name == "posix" and info.st_mode & 0o077:
            raise SettingsError(
                f"RECON_TOKEN_CACHE: {self.path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); "
                f"run `chmod 600 {self.path}` or `recon auth login` again"
            )
        signature = (info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            if signature == self._seen:
                return
            try:
                self.cache.deserialize(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SettingsError(
                    f"RECON_TOKEN_CACHE: {self.path} is not a readable token cache ({type(exc).__name__}); {LOGIN_HINT}"
                ) from None
            self._seen = signature

    def save(self) -> None:
        """Write the cache if msal changed it: a private temporary file renamed over the old one."""
        with self._lock:
            if not self.cache.has_state_changed:
                return
            data = self.cache.serialize()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # mkstemp creates the file with mode 0600, so the tokens are never readable by others, even briefly.
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            info = self.path.stat()
            self._seen = (info.st_ino, info.st_size, info.st_mtime_ns)

    def username(self) -> str | None:
        """The signed-in user's name (UPN) from the cached account, if any."""
        accounts = list(self.cache.search(msal.TokenCache.CredentialType.ACCOUNT))
        return str(accounts[0].get("username")) if accounts else None


def _key(path: Path) -> Path:
    return path.expanduser().resolve()


def open_token_cache(path: Path) -> TokenCacheFile:
    """The process's token cache for `path`, loaded (again, if it changed) from the file."""
    with _registry_lock:
        cache = _registry.setdefault(_key(path), TokenCacheFile(_key(path)))
    cache.refresh()
    return cache


def new_token_cache(path: Path) -> TokenCacheFile:
    """An empty token cache for `path` that replaces the file (and the process's copy) when saved."""
    cache = TokenCacheFile(_key(path))
    with _registry_lock:
        _registry[_key(path)] = cache
    return cache
