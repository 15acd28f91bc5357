"""generated/<env>/deploy-stack.sh against a stand-in docker: a first deploy (no stack
yet: `docker service ps` and `inspect` fail) must get through to the migrations, not
die under `set -euo pipefail` before `docker stack deploy`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A stand-in docker: the stack's services exist only after `docker stack deploy`.
FAKE_DOCKER = r"""#!/bin/bash
printf 'docker %s\n' "$*" >>"$CALLS"
case "$*" in
  "stack deploy"*) touch "$STATE/deployed"; exit 0 ;;
esac
[[ -e "$STATE/deployed" ]] || { echo "Error: no such service" >&2; exit 1; }
case "$*" in
  *"service ps"*--format*) echo "task1 Complete 1 second ago" ;;
  *"service inspect"*) echo 7 ;;
esac
"""


@pytest.mark.parametrize("env", ["prod", "swarm"])
def test_a_first_deploy_runs_and_waits_for_the_migrations(env: str, tmp_path: Path) -> None:
    script = tmp_path / "deploy-stack.sh"
    script.write_text((ROOT / "generated" / env / "deploy-stack.sh").read_text())
    fake, state = tmp_path / "bin", tmp_path / "state"
    fake.mkdir()
    state.mkdir()
    (fake / "docker").write_text(FAKE_DOCKER)
    for tool in ("stat", "sha256sum"):
        (fake / tool).write_text("#!/bin/bash\necho 1\n")
    for tool in fake.iterdir():
        tool.chmod(0o755)
    calls = tmp_path / "calls"
    done = subprocess.run(["bash", str(script), "--with-registry-auth"], capture_output=True,
                          text=True, env={"PATH": f"{fake}:/usr/bin:/bin", "CALLS": str(calls),
                                          "STATE": str(state)})
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    deploy = [i for i, c in enumerate(lines) if c.startswith("docker stack deploy --prune "
                                                               "--with-registry-auth -c stack.yaml")]
    assert len(deploy) == 1
    # A new migrate service runs its first task: nothing to force.
    assert not any("service update --force" in c for c in lines)
    assert "_migrate: completed" in done.stdout
