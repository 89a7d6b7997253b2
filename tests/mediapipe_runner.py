"""Runs a .tflite in MediaPipe Tasks (AudioClassifier / AudioEmbedder) for tests/mediapipe_test.py.

A script for a throw-away venv that holds only `mediapipe` (and its numpy):
it imports nothing of mobile_ssl, so our TF/protobuf pins never meet
MediaPipe's. Works with mediapipe 0.10.21 (protobuf API) and 1.2.x (ctypes
API); both expose the same Python surface used here.

  python mediapipe_runner.py JOB.json OUT.json

JOB: {"task": "classify"|"embed", "mode": "clips"|"stream", "model": PATH,
      "inputs": [{"path": NPY (float32 [samples]), "rate": HZ}],
      "chunk_samples": N (stream mode: the one input is fed in chunks of N)}
OUT: {"mediapipe": version, "results": one list per input (clips) or one list
      (stream) of {"timestamp_ms", "categories": [[index, name, score]] in
      index order} or {"timestamp_ms", "embedding": [...]}}.
"""

import json
import sys
import threading

import numpy as np
import mediapipe
from mediapipe.tasks import python as mp_python
from mediapipe.tasks.python import audio as mp_audio
from mediapipe.tasks.python.components.containers import audio_data


def _categories(result) -> list:
  categories = result.classifications[0].categories
  return sorted([[c.index, c.category_name, float(c.score)] for c in categories])


def _row(task: str, result, timestamp_ms) -> dict:
  if task == "classify":
    return {"timestamp_ms": timestamp_ms, "categories": _categories(result)}
  return {"timestamp_ms": timestamp_ms,
          "embedding": [float(v) for v in result.embeddings[0].embedding]}


def _create(task: str, model: str, stream: bool, callback):
  base = mp_python.BaseOptions(model_asset_path=model)
  mode = mp_audio.RunningMode.AUDIO_STREAM if stream else mp_audio.RunningMode.AUDIO_CLIPS
  extra = {"result_callback": callback} if stream else {}
  if task == "classify":
    return mp_audio.AudioClassifier.create_from_options(mp_audio.AudioClassifierOptions(
        base_options=base, running_mode=mode, **extra))
  if not hasattr(mp_audio, "AudioEmbedder"):
    raise SystemExit(f"mediapipe {mediapipe.__version__} has no Python AudioEmbedder")
  return mp_audio.AudioEmbedder.create_from_options(mp_audio.AudioEmbedderOptions(
      base_options=base, running_mode=mode, **extra))


def run(job: dict) -> list:
  task, stream = job["task"], job["mode"] == "stream"
  received, lock = [], threading.Lock()

  def callback(result, timestamp_ms):
    with lock:
      received.append(_row(task, result, timestamp_ms))

  with _create(task, job["model"], stream, callback) as runner:
    if not stream:
      out = []
      for item in job["inputs"]:
        clip = audio_data.AudioData.create_from_array(np.load(item["path"]), item["rate"])
        results = runner.classify(clip) if task == "classify" else runner.embed(clip)
        out.append([_row(task, r, getattr(r, "timestamp_ms", None)) for r in results])
      return out
    (item,), chunk = job["inputs"], job["chunk_samples"]
    waveform, rate = np.load(item["path"]), item["rate"]
    send = runner.classify_async if task == "classify" else runner.embed_async
    for start in range(0, len(waveform), chunk):
      block = audio_data.AudioData.create_from_array(waveform[start:start + chunk], rate)
      send(block, int(round(1000 * start / rate)))
  # Closing the task (end of `with`) flushes the stream's last results.
  return sorted(received, key=lambda row: row["timestamp_ms"])


def main(argv):
  with open(argv[1]) as f:
    job = json.load(f)
  with open(argv[2], "w") as f:
    json.dump({"mediapipe": mediapipe.__version__, "results": run(job)}, f)


if __name__ == "__main__":
  main(sys.argv)
