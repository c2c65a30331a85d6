"""Pointing this process at a separate benchmark database.

The benchmark never touches the application's own database: it works in databases
named after it (``iop_bench``, ``iop_bench_small``...), created when missing."""

from urllib.parse import urlparse

import dj_database_url
import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from psycopg import sql

LARGE_DB = "iop_bench"
SMALL_DB = "iop_bench_small"
PROTECTED = {"iop", "postgres", "template0", "template1"}


def base_url():
    return (
        getattr(settings, "DATABASE_URL", None) or "postgres://postgres@127.0.0.1/iop"
    )


def url_with_name(url, name):
    """The same server and credentials as `url`, another database name."""
    return urlparse(url)._replace(path=f"/{name}").geturl()


def name_of(url):
    return urlparse(url).path.lstrip("/")


def _admin_url(url):
    return url_with_name(url, "postgres")


def check_not_protected(url):
    name = name_of(url)
    if name in PROTECTED:
        raise ValueError(
            f"refusing to use the database {name!r} for the benchmark: "
            "give a database of its own (for example iop_bench)"
        )


def database_exists(url):
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name_of(url),)
        ).fetchone()
    return row is not None


def create_database(url, *, drop=False, template=None):
    """Create the database (dropping it first when `drop`). Returns True if created."""
    check_not_protected(url)
    name = name_of(url)
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=5) as conn:
        if drop:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists:
            return False
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop_database(url):
    check_not_protected(url)
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name_of(url))
            )
        )


def current_url():
    """The URL of the database the default connection points at now."""
    s = connections["default"].settings_dict
    auth = s.get("USER") or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    host = s.get("HOST") or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{s['NAME']}"


def use_database(url):
    """Point the default connection of this process at `url` (closing the old one)."""
    parsed = dj_database_url.parse(url)
    conn = connections["default"]
    conn.close()
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
        conn.settings_dict[key] = parsed.get(key, "")


def migrate():
    call_command("migrate", interactive=False, verbosity=0)
