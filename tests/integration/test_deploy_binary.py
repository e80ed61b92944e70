"""What the README says about the `sluice` binary, and what the image ships, stay true.

- The README names the libraries the binary needs at run time; `ldd` of the binary the tests
  run (SLUICE_BIN, as the harness finds it) must need exactly those: one more (say libsasl2
  after turning on an rdkafka feature) or one fewer (OpenSSL gone after a move to rustls) makes
  the sentence wrong, and this test says which.
- docker/Dockerfile builds the same package and binary, with the same features, as the
  command CI tests (.ci/run → make test → tests/run-all.sh), and its runtime image installs
  the libraries that are not in the base image.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCKERFILE = REPO / "docker" / "Dockerfile"

# The README's names for the libraries, and the sonames each stands for. glibc includes its
# dynamic loader and the kernel's vDSO, which ldd lists too.
LIBRARIES = {
    "glibc": {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
              "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "linux-vdso.so.1", "linux-gate.so.1"},
    "libgcc_s": {"libgcc_s.so.1"},
    "OpenSSL 3": {"libssl.so.3", "libcrypto.so.3"},
    "zlib": {"libz.so.1"},
}
# Debian packages of the runtime image that provide them; libc6, libgcc-s1 and zlib1g are in
# every Debian base image (essential or required), libssl3 is not.
RUNTIME_PACKAGES = {"OpenSSL 3": "libssl3"}


def sluice_binary() -> Path:
    binary = Path(os.environ.get("SLUICE_BIN", REPO / "target" / "debug" / "sluice"))
    if not binary.exists():
        pytest.fail(f"{binary} does not exist: build it with `cargo build -p sluice-worker` (or set SLUICE_BIN)")
    return binary


def needed_libraries(binary: Path) -> set[str]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    # "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)"
    return {Path(line.split()[0]).name for line in out.splitlines() if line.strip()}


def readme_claim() -> str:
    """The sentence of the README's opening paragraph that names what the binary needs."""
    intro = README.read_text().split("\n\n")[1]
    sentence = re.search(r"[^.]*\bneeds only\b[^.]*\.", intro.replace("\n", " "))
    assert sentence, f"the README's first paragraph no longer says what the binary needs:\n{intro}"
    return sentence.group(0)


def test_the_binary_needs_exactly_the_libraries_the_readme_names():
    claim = readme_claim()
    named = {name for name in LIBRARIES if name in claim}
    allowed = set().union(*(LIBRARIES[n] for n in named))
    needed = needed_libraries(sluice_binary())
    assert needed <= allowed, f"the binary needs {sorted(needed - allowed)}, which the README does not name: {claim!r}"
    unused = {n for n in named if not needed & LIBRARIES[n]}
    assert not unused, f"the README names {sorted(unused)}, which the binary no longer needs: {claim!r}"


def test_nothing_calls_the_binary_static():
    for path in [README, REPO / "docker" / "README.md", *sorted((REPO / "docs").glob("**/*.md"))]:
        if path.exists():
            text = path.read_text().replace("\n", " ")
            assert not re.search(r"static(ally linked)?\s+binary", text, re.I), f"{path.relative_to(REPO)} calls sluice a static binary"


def cargo_build(command: str) -> dict:
    """Package, binary, profile and features of one `cargo build …` command."""
    args = shlex.split(command)
    args = args[args.index("build") + 1:]
    found = {"package": None, "bin": None, "release": "--release" in args, "features": set(),
             "default-features": "--no-default-features" not in args, "all-features": "--all-features" in args}
    for i, arg in enumerate(args):
        if arg in ("-p", "--package"):
            found["package"] = args[i + 1]
        elif arg == "--bin":
            found["bin"] = args[i + 1]
        elif arg in ("-F", "--features"):
            found["features"] |= set(re.split(r"[ ,]+", args[i + 1]))
    return found


def build_commands(text: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [m.group(0) for m in re.finditer(r"cargo build[^\n&;|]*", joined)]


def test_the_dockerfile_builds_the_binary_ci_tests():
    # CI's chain: .ci/run runs `make test`, which runs tests/run-all.sh.
    assert re.search(r"^\s*make test\s*$", (REPO / ".ci" / "run").read_text(), re.M)
    assert re.search(r"^test:\n\ttests/run-all\.sh$", (REPO / "Makefile").read_text(), re.M)
    run_all = (REPO / "tests" / "run-all.sh").read_text()
    (ci,) = [cargo_build(c) for c in build_commands(run_all)]
    assert re.search(r'SLUICE_BIN="[^"]*/debug/%s"' % re.escape(ci["bin"]), run_all), "the tests run another binary than CI builds"

    dockerfile = DOCKERFILE.read_text()
    (image_command,) = build_commands(dockerfile)
    image = cargo_build(image_command)
    assert image["release"], image_command
    for key in ("package", "bin", "features", "default-features", "all-features"):
        assert image[key] == ci[key], f"Dockerfile builds {key}={image[key]!r}, CI tests {key}={ci[key]!r}"
    assert (ci["package"], ci["bin"]) == ("sluice-worker", "sluice")
    # …and the image ships that binary.
    assert re.search(r"target/release/%s\s" % re.escape(image["bin"]), dockerfile), "the image copies another binary"
    assert re.search(r'ENTRYPOINT \["%s"\]' % re.escape(image["bin"]), dockerfile)


def test_the_runtime_image_installs_the_libraries_the_binary_needs():
    dockerfile = DOCKERFILE.read_text()
    runtime = dockerfile[dockerfile.rindex("\nFROM "):]
    assert re.search(r"^FROM \$\{RUNTIME_IMAGE\}", runtime.strip(), re.M), runtime.splitlines()[1]
    base = re.search(r"^ARG RUNTIME_IMAGE=(\S+)", dockerfile, re.M).group(1)
    assert base.startswith("debian:") and base.endswith("-slim"), f"the checks below assume a Debian base, not {base}"
    needed = needed_libraries(sluice_binary())
    installed = set(re.findall(r"^\s+([a-z0-9][\w.+-]*)\s*\\?$", runtime, re.M))
    for name, package in RUNTIME_PACKAGES.items():
        if needed & LIBRARIES[name]:
            assert package in installed, f"the runtime image lacks {package} ({name}), which the binary needs"
