"""Images for the docker target, built locally (no registry can be reached on our machines).

1. Base image ``prsm-base:bookworm``: when absent, built from Debian packages with debootstrap;
   the mirror is read from this machine's apt configuration at run time (never written in the
   repo), and Python 3.11 is included so the image build needs no network.
2. Reference image ``prsm-ref:<content hash>``: the repo's wheels (built and downloaded on the
   host) installed offline on the base. The tag is a hash of everything that goes in, so a
   second run with unchanged sources does not rebuild.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_IMAGE = "prsm-base:bookworm"
IMAGE_REPO = "prsm-ref"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "procps")
# Requirements whose markers hold for the image's Python (Debian's 3.11.2) but maybe not for
# the host's: redis needs async-timeout below 3.11.3.
IMAGE_ONLY_REQUIREMENTS = ("async-timeout>=4.0.3",)
REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "reference_system" / "deploy" / "Dockerfile"


class ImageError(RuntimeError):
    """An image could not be built; the message says which step and why."""


def _run(argv: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise ImageError(f"{what} failed ({result.returncode}):\n" + "\n".join(tail))
    return result


def image_exists(tag: str) -> bool:
    """True when the local engine has ``tag``."""
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if not path.is_file() or "disabled" in path.name:
            continue
        text = path.read_text(errors="replace")
        match = (re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M)
                 or re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s", text, re.M))
        if match:
            return match.group(1)
    raise ImageError("no Debian mirror found in /etc/apt/sources.list(.d): configure apt first")


def ensure_base_image() -> str:
    """Build ``prsm-base:bookworm`` with debootstrap unless the engine already has it."""
    if image_exists(BASE_IMAGE):
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is needed to build the base image: apt-get install "
                         "debootstrap (or load an image tagged prsm-base:bookworm)")
    with tempfile.TemporaryDirectory(prefix="prsm-rootfs-") as rootfs:
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
              SUITE, rootfs, apt_mirror()], "debootstrap")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", "-", BASE_IMAGE], "docker import", stdin=tar.stdout)
        tar.wait()
    return BASE_IMAGE


def source_hash() -> str:
    """Hash of every file that goes into the reference image."""
    digest = hashlib.sha256()
    files = [REPO / "pyproject.toml", DOCKERFILE]
    for package in ("prsm_validate", "reference_system"):
        files += sorted(p for p in (REPO / package).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_image() -> str:
    """The reference image for the current sources, built if needed; returns its tag."""
    tag = f"{IMAGE_REPO}:{source_hash()}"
    if image_exists(tag):
        return tag
    ensure_base_image()
    with tempfile.TemporaryDirectory(prefix="prsm-build-") as context:
        wheels = Path(context) / "wheels"
        # Wheels come from the host (PyPI through the machine's own pip configuration): the
        # image build itself needs no network.
        _run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(REPO),
              *IMAGE_ONLY_REQUIREMENTS], "pip wheel of the project and its dependencies")
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        _run(["docker", "build", "-q", "--network=none", "--label", "prsm.image=reference",
              "-t", tag, context], f"docker build of {tag}")
    return tag


if __name__ == "__main__":
    print(ensure_image())
