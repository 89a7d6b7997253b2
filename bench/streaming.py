r"""Cost of live streaming: compute per second of audio at several hops.

  python bench/streaming.py [--model=a.tflite,b.tflite] [--hops=0.975,0.5,0.25,0.1]
      [--seconds=30] [--chunk_ms=100] [--num_threads=1]

Feeds `--seconds` of audio (seeded noise plus a chirp) in `--chunk_ms` chunks,
as a microphone callback delivers them, through `mobile_ssl.core.streaming.
StreamingEmbedder` over `mobile_ssl.export.tflite_embedder.TFLiteEmbedder` (LiteRT, XNNPACK,
batch-1 invokes), and prints a Markdown table per model and hop: windows per
second of audio (1 / hop), CPU milliseconds per second of audio (the number
that sets battery drain), per window, and the real-time factor (CPU time /
audio time). CPU time is this process's (`time.process_time`), so other load
on a shared machine does not inflate it as it does wall time.

Without --model it converts the default (width 1.0, untrained: latency does
not depend on the weights) encoder with the waveform front end in float32
and dynamic range, as export_tflite would (no validation). Not a test.
"""

import os
import tempfile
import time

import numpy as np
from absl import app
from absl import flags

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import streaming
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import tflite_embedder as embedder_lib

flags.DEFINE_list("model", [], ".tflite files (default: the untrained width-1.0 encoder).")
flags.DEFINE_list("hops", ["0.975", "0.5", "0.25", "0.1"], "Hops between windows, seconds.")
flags.DEFINE_float("seconds", 30.0, "Audio streamed per model and hop.")
flags.DEFINE_integer("chunk_ms", 100, "Chunk size pushed at a time.")
flags.DEFINE_integer("num_threads", 1, "LiteRT threads.")
FLAGS = flags.FLAGS
RATE = 16000


def _default_models(folder: str):
  params = params_lib.Params()
  encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=0)
  model = inference_model_lib.inference_model(encoder, params.features, "waveform")
  paths = []
  for quantization in ("float32", "dynamic"):
    path = os.path.join(folder, f"width1_{quantization}_waveform.tflite")
    with open(path, "wb") as f:
      f.write(convert.convert(model, quantization))
    paths.append(path)
  return paths


def _audio(seconds: float) -> np.ndarray:
  n = int(seconds * RATE)
  t = np.arange(n) / RATE
  chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 40 * t ** 2 % 4000))
  noise = 0.05 * np.random.default_rng(0).standard_normal(n)
  return (chirp + noise).astype(np.float32)


def measure(path: str, hop_seconds: float, audio: np.ndarray, chunk: int,
            num_threads: int) -> dict:
  """One streamed pass: windows, CPU and wall seconds per second of audio."""
  lite = embedder_lib.TFLiteEmbedder(path, num_threads=num_threads)
  streamer = streaming.StreamingEmbedder(lite, hop_seconds)
  streamer.push(audio[:lite.feature_params.slice_samples])  # warm-up: first invoke
  streamer.flush()
  windows = 0
  cpu, wall = time.process_time(), time.perf_counter()
  for start in range(0, len(audio), chunk):
    windows += len(streamer.push(audio[start:start + chunk]))
  cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
  seconds = len(audio) / RATE
  return {"model": os.path.basename(path), "size_bytes": os.path.getsize(path),
          "hop_seconds": hop_seconds, "windows": windows,
          "windows_per_audio_second": windows / seconds,
          "cpu_ms_per_audio_second": 1000 * cpu / seconds,
          "cpu_ms_per_window": 1000 * cpu / max(windows, 1),
          "wall_ms_per_audio_second": 1000 * wall / seconds,
          "real_time_factor": cpu / seconds}


def main(argv):
  del argv
  audio = _audio(FLAGS.seconds)
  chunk = int(FLAGS.chunk_ms * RATE / 1000)
  with tempfile.TemporaryDirectory() as tmp:
    paths = FLAGS.model or _default_models(tmp)
    rows = [measure(p, float(h), audio, chunk, FLAGS.num_threads)
            for p in paths for h in FLAGS.hops]
  print(f"{FLAGS.seconds:g} s of audio in {FLAGS.chunk_ms} ms chunks, "
        f"{FLAGS.num_threads} LiteRT thread(s)\n")
  print("| model | size (KB) | hop (s) | windows / s | CPU ms / s of audio | CPU ms / window "
        "| real-time factor |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  for r in rows:
    print(f"| {r['model']} | {r['size_bytes'] / 1000:.0f} | {r['hop_seconds']:g} | "
          f"{r['windows_per_audio_second']:.2f} | {r['cpu_ms_per_audio_second']:.2f} | "
          f"{r['cpu_ms_per_window']:.2f} | {r['real_time_factor']:.4f} |")


if __name__ == "__main__":
  app.run(main)
