"""The real hear-validator on mobile_ssl.evaluation.hear (slow; the in-process checks are in tests/unit/hear_test.py)."""

import os
import subprocess
import sys

import pytest

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = recipes.tiny()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  run = str(tmp_path_factory.mktemp("hear") / "run")
  model_dir.save_encoder(run, encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=1), TINY)
  return run


def _validator_venv(root):
  """A venv with hearvalidator + torch that also sees this interpreter's packages."""
  venv = os.path.join(root, "hear_venv")
  subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv],
                 check=True, capture_output=True)
  site = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        check=True, capture_output=True, text=True).stdout.strip()
  ours = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
  with open(os.path.join(site, "mobile_ssl_project.pth"), "w") as f:
    f.write("\n".join(ours) + "\n")
  install = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "hearvalidator",
                            "torch==2.13.0"], capture_output=True, text=True, timeout=1200)
  if install.returncode:
    # A slow check that cannot run fails: CI has the registries, so this is a real breakage.
    pytest.fail("hearvalidator/torch cannot be installed: " + install.stderr[-300:])
  return os.path.join(venv, "bin", "hear-validator")


@pytest.mark.slow
@pytest.mark.timeout(2400)  # installs torch in a venv, then two validator runs (600 s each at most)
def test_real_hear_validator(tmp_path, tiny_run):
  validator = os.environ.get("HEAR_VALIDATOR") or _validator_venv(str(tmp_path))
  env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="")
  for extra in ([], ["-m", tiny_run]):
    result = subprocess.run([validator, "mobile_ssl.evaluation.hear"] + extra, cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Looks good!" in result.stdout
