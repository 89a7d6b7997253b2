"""Trains the trainable .tflite for a few steps, for tests/trainable_test.py's emulated-arm64 check.

Runs in whatever Python it is started with (the aarch64 one under qemu too):
it needs only numpy, ai_edge_litert, export/trainable_runner.py and mobile_ssl/core/atomic.py.

  python trainable_device_run.py MODEL.tflite WINDOWS.npz STEPS OUT_DIR

WINDOWS: 'anchor' and 'positive' [batch, 96, 64, 1]. Writes OUT_DIR/checkpoint.npz
and prints JSON: machine, the losses, the embedding of the anchors after
training, and the same embedding from a fresh interpreter restored from the checkpoint.
"""

import importlib.util
import json
import os
import platform
import sys

import numpy as np

# The emulated aarch64 Python has the repository on PYTHONPATH but no install of
# mobile_ssl, so the installed name mobile_ssl.export (setup.py's package_dir for
# the export/ folder) does not exist there: load the module from its file.
_RUNNER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "export",
                       "trainable_runner.py")
_spec = importlib.util.spec_from_file_location("trainable_runner", _RUNNER)
trainable_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trainable_runner)


def main(model: str, windows: str, steps: str, out_dir: str) -> None:
  with np.load(windows) as data:
    anchor, positive = data["anchor"], data["positive"]
  runner = trainable_runner.TrainableRunner(model)
  losses = [runner.train(anchor, positive, 1e-3) for _ in range(int(steps))]
  checkpoint = os.path.join(out_dir, "checkpoint.npz")
  runner.save_checkpoint(checkpoint)
  fresh = trainable_runner.TrainableRunner(model)
  fresh.restore_checkpoint(checkpoint)
  print(json.dumps({"machine": platform.machine(), "losses": losses,
                    "embedding": runner.embed(anchor).tolist(),
                    "restored_embedding": fresh.embed(anchor).tolist()}))


if __name__ == "__main__":
  main(*sys.argv[1:])
