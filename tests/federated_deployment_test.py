"""Flower's deployment engine on localhost: a SuperLink and SuperNodes as real processes, TLS and node auth.

The ServerApp and ClientApp of mobile_ssl/federated/flower_app.py, submitted with
`flwr run deploy/flower_app`; the SuperLink runs with `--ssl-*` certificates
and `--enable-supernode-auth`; two SuperNodes whose public keys were
registered with `flwr supernode register` train, a third with an unknown key
is refused, and the rounds complete with the other two.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from mobile_ssl.core import model_dir
from mobile_ssl.federated import credentials
from mobile_ssl.federated import run_state
from tests import audio_fixtures
from tests import federated_test

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _wait_for_port(port: int, process, seconds: float = 90) -> None:
  deadline = time.time() + seconds
  while time.time() < deadline:
    assert process.poll() is None, "SuperLink exited during start-up"
    with socket.socket() as s:
      if s.connect_ex(("127.0.0.1", port)) == 0:
        return
    time.sleep(0.5)
  raise AssertionError(f"nothing listens on port {port} after {seconds} s")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a SuperLink, three SuperNodes, two rounds (flwr run: 400 s at most)
class TestDeployment:

  def test_tls_node_auth_refuses_unknown_key_and_rounds_complete(self, tmp_path):
    data = tmp_path / "clients"
    for i, (speaker, hz) in enumerate(audio_fixtures.FSDD_LIKE_SPEAKERS.items()):
      (data / speaker).mkdir(parents=True)
      for take in range(4):
        audio_fixtures.write(data / speaker / f"{take}.wav",
                             audio_fixtures.speaker_tone(hz, 1.0, 10 * i + take))
    params_file = tmp_path / "params.json"
    params_file.write_text(federated_test.PARAMS.to_json())
    tls = credentials.write_tls(str(tmp_path / "certs"))
    keys = {name: str(tmp_path / "keys" / name) for name in ("node0", "node1", "intruder")}
    for path in keys.values():
      credentials.write_node_key(path)
    home = tmp_path / "flwr_home"
    home.mkdir()
    port = _free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local-tls"\n\n[superlink.local-tls]\n'
        f'address = "127.0.0.1:{port}"\nroot-certificates = "{tls["ca.crt"]}"\n')
    env = dict(os.environ, FLWR_HOME=str(home), PYTHONPATH=REPO,
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    processes = []

    def start(name, args):
      log = open(tmp_path / f"{name}.log", "wb")
      process = subprocess.Popen([os.path.join(BIN, args[0])] + args[1:], env=env, cwd=tmp_path,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
      processes.append(process)
      return process

    try:
      superlink = start("superlink", [
          "flower-superlink", "--ssl-ca-certfile", tls["ca.crt"], "--ssl-certfile",
          tls["server.pem"], "--ssl-keyfile", tls["server.key"], "--enable-supernode-auth",
          "--disable-runtime-dependency-installation", "--port", str(port)])
      _wait_for_port(port, superlink)
      for name in ("node0", "node1"):
        registered = subprocess.run([os.path.join(BIN, "flwr"), "supernode", "register",
                                     keys[name] + ".pub", "local-tls"], env=env,
                                    capture_output=True, text=True, timeout=120)
        assert registered.returncode == 0 and "registered" in registered.stdout, registered.stdout
      nodes = {}
      for partition, name in enumerate(("node0", "node1", "intruder")):
        nodes[name] = start(name, [
            "flower-supernode", "--superlink", f"127.0.0.1:{port}", "--root-certificates",
            tls["ca.crt"], "--auth-supernode-private-key", keys[name], "--node-config",
            f"partition-id={partition} num-partitions=3", "--port", str(_free_port())])
      run = tmp_path / "run"
      config = (f'model-dir="{run}" dataset="{data}" clients-by="folder" rounds=2 '
                f'local-steps=2 min-clients=2 params-file="{params_file}" timeout-seconds=300')
      app = tmp_path / "app"
      shutil.copytree(os.path.join(REPO, "deploy", "flower_app"), app)
      result = subprocess.run([os.path.join(BIN, "flwr"), "run", str(app), "local-tls",
                               "--run-config", config, "--stream"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=400)
      assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
      # The node with an unregistered key was refused and gave up ...
      nodes["intruder"].wait(timeout=120)
      intruder_log = (tmp_path / "intruder.log").read_text()
      assert nodes["intruder"].returncode != 0
      assert "Failed to activate SuperNode" in intruder_log, intruder_log[-2000:]
      # ... and both rounds completed with the two registered nodes.
      state = json.loads((run / run_state.STATE_FILE).read_text())
      assert [(r["round"], r["clients_ok"], r["clients_failed"]) for r in state["rounds"]] == [
          (1, 2, 0), (2, 2, 0)]
      encoder, _ = model_dir.load_encoder(str(run))
      assert encoder.output_shape[-1] == federated_test.PARAMS.encoder.output_dim(
          federated_test.PARAMS.features)
    finally:
      for process in processes:  # our own process groups only
        if process.poll() is None:
          os.killpg(process.pid, signal.SIGTERM)
      for process in processes:
        try:
          process.wait(timeout=20)
        except subprocess.TimeoutExpired:
          os.killpg(process.pid, signal.SIGKILL)
