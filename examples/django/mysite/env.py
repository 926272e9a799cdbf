"""Settings from the environment, or from a `.env` file next to manage.py.

A tiny reader of `KEY=value` lines (comments, blank lines, `export `, single or double quotes), so
that the example needs nothing beyond Django itself. A variable already set in the environment
wins over the file, as with python-dotenv's default.
"""
import os
from pathlib import Path


def load_env_file(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


def env(key: str, default: str = "") -> str:
    return os.environ.get(key, default)


def env_bool(key: str, default: bool = False) -> bool:
    value = os.environ.get(key)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(key: str, default: str = "") -> list:
    return [item.strip() for item in env(key, default).split(",") if item.strip()]
