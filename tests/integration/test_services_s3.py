"""The S3-compatible object store the Parquet sink will write to: SeaweedFS, started by
`services.sh up s3` (opt-in, so this module starts it; it is left running like the other
services, and stops nothing, so it is not `disruptive`).

Talks to it the way the sink's tests will read the sink's output: pyarrow's S3FileSystem with
the access key `services.sh env` prints. A bucket is created, a Parquet file written, listed and
read back with its values compared, and a client signing with a wrong secret key is refused.
"""

import subprocess

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from sluice_harness import REPO, unique

SERVICES = str(REPO / "tests" / "services" / "services.sh")


def services(*args: str) -> str:
    out = subprocess.run([SERVICES, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"services.sh {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout.strip()


@pytest.fixture(scope="module")
def s3_env() -> dict[str, str]:
    services("up", "s3")
    env = dict(line.removeprefix("export ").split("=", 1) for line in services("env").splitlines() if line.startswith("export "))
    return {k: v.strip("'\"") for k, v in env.items() if k.startswith("SLUICE_S3_")}


def s3_filesystem(s3_env: dict[str, str], secret_key: str | None = None) -> pafs.S3FileSystem:
    scheme, endpoint = s3_env["SLUICE_S3_URL"].split("://", 1)
    return pafs.S3FileSystem(
        endpoint_override=endpoint,
        scheme=scheme,
        access_key=s3_env["SLUICE_S3_ACCESS_KEY"],
        secret_key=secret_key or s3_env["SLUICE_S3_SECRET_KEY"],
        region=s3_env["SLUICE_S3_REGION"],
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
        connect_timeout=5,
        request_timeout=30,
    )


@pytest.fixture
def bucket(s3_env):
    s3 = s3_filesystem(s3_env)
    name = unique("sluice-test").replace("_", "-").lower()
    s3.create_dir(name)
    yield name
    s3.delete_dir(name)


def test_parquet_written_listed_and_read_back(s3_env, bucket):
    s3 = s3_filesystem(s3_env)
    assert s3.get_file_info(bucket).type == pafs.FileType.Directory
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["pump-1", "valve", None], pa.string()),
            "temp": pa.array([21.5, None, -3.25], pa.float64()),
        }
    )
    path = f"{bucket}/topic=events/partition=0/00000000000000000042.parquet"
    pq.write_table(table, path, filesystem=s3)

    listed = s3.get_file_info(pafs.FileSelector(bucket, recursive=True))
    files = {f.path: f.size for f in listed if f.type == pafs.FileType.File}
    assert list(files) == [path]
    assert files[path] > 0

    back = pq.read_table(path, filesystem=s3)
    assert back.schema.equals(table.schema)
    assert back.to_pylist() == [
        {"id": 1, "name": "pump-1", "temp": 21.5},
        {"id": 2, "name": "valve", "temp": None},
        {"id": 3, "name": None, "temp": -3.25},
    ]

    # a second client (no state shared with the writer) sees the same file
    again = pq.read_table(path, filesystem=s3_filesystem(s3_env))
    assert again.column("id").to_pylist() == [1, 2, 3]


def test_wrong_secret_key_is_refused(s3_env, bucket):
    wrong = s3_filesystem(s3_env, secret_key="not-" + s3_env["SLUICE_S3_SECRET_KEY"])
    with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH"):
        wrong.get_file_info(pafs.FileSelector(bucket))
    with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH"):
        pq.write_table(pa.table({"id": [1]}), f"{bucket}/refused.parquet", filesystem=wrong)
    listed = s3_filesystem(s3_env).get_file_info(pafs.FileSelector(bucket, recursive=True))
    assert [f.path for f in listed] == [], "nothing may be written with a wrong secret key"
