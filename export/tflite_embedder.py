"""Runs an exported .tflite encoder on audio of any length: `TFLiteEmbedder`.

The framing, batching and timestamps are `mobile_ssl.core.embedding.Embedder`'s,
shared with the Keras encoder and the evaluation; this backend only maps
975 ms windows to embeddings with the LiteRT interpreter
(`ai_edge_litert`, never the deprecated `tf.lite.Interpreter`), one window
per invoke: the exported graph has batch 1, as on a phone.

Either input kind runs: a `waveform` model takes the windows as they are; a
`log_mel` model gets each window's log-mel from `mobile_ssl.core.features` with the
run's front end (float64 STFT, as in training). Quantized inputs (int8 log-mel)
are quantized with the tensor's scale and zero point, and quantized outputs
dequantized (`mobile_ssl.core.tensor_quantization`), so `embed` always returns float32. A classifier file
(`export_tflite --classifier_task`) runs too: its `scores` come back in place
of embeddings, one row of class probabilities per window.
"""

from concurrent import futures
import os
import typing
import weakref

import numpy as np
from ai_edge_litert import interpreter as litert

from mobile_ssl.core import embedding
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import tensor_quantization
from mobile_ssl.export import metadata as metadata_lib

SIGNATURE = "serving_default"


def model_inputs(windows: np.ndarray, input_kind: str,
                 feature_params: params_lib.FeatureParams) -> np.ndarray:
  """Waveform windows [n, slice_samples] -> float inputs of a model of `input_kind`.

  Returns:
    float32 [n, slice_samples] for 'waveform'; [n, slice_frames, bins, 1]
    log-mel for 'log_mel', with the run's front end (`feature_params`, float64
    STFT by default, as the encoder saw in training).
  """
  windows = np.asarray(windows, np.float32)
  if input_kind == "waveform":
    return windows
  return features.log_mel_spectrogram(windows, feature_params).numpy()[..., None]


class TFLiteEmbedder(embedding.Embedder):
  """Embeds audio with an exported .tflite (path or bytes).

  Attributes:
    metadata: the file's mobile_ssl metadata (`mobile_ssl.export.metadata.read_metadata`),
      or {} for a .tflite from elsewhere (then the default front end is
      assumed and the input kind is read from the input shape).
    input_kind: 'waveform' or 'log_mel'.
    input_name, output_name: the signature's tensor names.
    input_details, output_details: the signature's tensor details (dtype,
      shape, quantization (scale, zero point)).
  """

  def __init__(self, model: typing.Union[str, bytes, os.PathLike], *, num_threads: int = 1,
               workers: int = 1):
    """`num_threads`: the interpreter's threads (1: as on a phone's one core).

    `workers`: interpreters that share a call's windows, each in its own
    thread (0: one per CPU this process may use). LiteRT releases Python's
    lock while it runs, so on 2 cores 2 workers embed a split 1.8x faster
    than one; every window still gets the same batch-1 invoke, so the
    embeddings are the same. `run` must not be called from two threads at once.
    """
    data = metadata_lib.model_bytes(model)  # Clear errors for a missing or wrong file.
    try:
      self.metadata = metadata_lib.read_metadata(data)
    except ValueError:
      self.metadata = {}
    if self.metadata:
      run_params = params_lib.from_dict(self.metadata["params"])
      feature_params = run_params.features
    else:
      feature_params = params_lib.FeatureParams()
    self._interpreter = litert.Interpreter(model_content=data, num_threads=num_threads)
    signatures = self._interpreter.get_signature_list()
    name = SIGNATURE if SIGNATURE in signatures else next(iter(signatures), None)
    if name is None:
      raise ValueError(f"{self._where(model)}: the model has no signature")
    self._runner = self._interpreter.get_signature_runner(name)
    workers = workers or len(os.sched_getaffinity(0))
    # Extra interpreters: a runner is not safe to share between threads.
    self._runners = [self._runner] + [
        litert.Interpreter(model_content=data, num_threads=num_threads).get_signature_runner(name)
        for _ in range(workers - 1)]
    self._pool = futures.ThreadPoolExecutor(workers - 1) if workers > 1 else None
    if self._pool:
      weakref.finalize(self, self._pool.shutdown, wait=False)
    inputs, outputs = self._runner.get_input_details(), self._runner.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
      raise ValueError(f"{self._where(model)}: expected one input and one output, got "
                       f"{sorted(inputs)} -> {sorted(outputs)}")
    (self.input_name, self.input_details), = inputs.items()
    (self.output_name, self.output_details), = outputs.items()
    self.input_kind = self.metadata.get("input_kind") or self._guess_kind(feature_params)
    # The output's own size: `embedding_dim` for an encoder, the classes for
    # a classifier's `scores` (then `embed` returns window class probabilities).
    super().__init__(feature_params, int(self.output_details["shape"][-1]))

  @staticmethod
  def _where(model) -> str:
    return "model bytes" if isinstance(model, (bytes, bytearray)) else str(model)

  def _guess_kind(self, feature_params: params_lib.FeatureParams) -> str:
    shape = tuple(self.input_details["shape"])
    if shape == (1, feature_params.slice_samples):
      return "waveform"
    if shape == (1, feature_params.slice_frames, feature_params.num_mel_bins, 1):
      return "log_mel"
    raise ValueError(f"input {self.input_name!r} {shape} is neither a waveform "
                     f"[1, {feature_params.slice_samples}] nor a log-mel slice")

  def model_inputs(self, windows: np.ndarray) -> np.ndarray:
    """Waveform windows [n, 15600] -> float inputs of the model, one row per window."""
    return model_inputs(windows, self.input_kind, self.feature_params)

  def run(self, inputs: np.ndarray) -> np.ndarray:
    """Invokes the model once per row: float inputs [n, ...] -> embeddings [n, d] float32."""
    out = np.zeros((len(inputs), self.embedding_dim), np.float32)
    parts = np.array_split(np.arange(len(inputs)), min(len(self._runners), len(inputs)) or 1)

    def invoke(runner, rows):
      for i in rows:
        result = runner(
            **{self.input_name: tensor_quantization.quantize(inputs[i][None], self.input_details)})
        out[i] = tensor_quantization.dequantize(result[self.output_name], self.output_details)[0]

    others = [self._pool.submit(invoke, runner, rows)
              for runner, rows in zip(self._runners[1:], parts[1:])]
    invoke(self._runner, parts[0])
    for other in others:
      other.result()
    return out

  def embed_windows(self, windows: np.ndarray) -> np.ndarray:
    return self.run(self.model_inputs(windows))
