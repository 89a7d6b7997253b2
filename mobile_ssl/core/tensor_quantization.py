"""Float values into and out of a quantized LiteRT tensor, by its scale and zero point.

The one quantize/dequantize of the project: `TFLiteEmbedder` (export) feeds
and reads int8 log-mel models with it, and the latency runner
(mobile_ssl/benchmark/latency.py) its timed inputs and compared outputs.
Standard library and numpy only, because the latency runner imports it in the
emulated aarch64 Python, which has nothing else.

`details` is a tensor's entry of LiteRT's `get_input_details()` /
`get_output_details()` (or a signature runner's): its 'dtype' and its
'quantization' (scale, zero point); q = round(x / scale) + zero point,
x = (q - zero point) * scale.
"""

import numpy as np


def quantize(x, details: dict) -> np.ndarray:
  """Values -> the tensor's dtype: floats into an integer tensor by its (scale, zero point).

  Rounded and clipped to the dtype's range. A float (or other non-integer)
  tensor, or values that are integers already, are only cast; a scale of 0
  (an integer tensor without quantization) counts as 1.
  """
  dtype = np.dtype(details["dtype"])
  x = np.asarray(x)
  if not np.issubdtype(dtype, np.integer) or np.issubdtype(x.dtype, np.integer):
    return x.astype(dtype)
  scale, zero_point = details["quantization"]
  info = np.iinfo(dtype)
  q = np.round(np.asarray(x, np.float64) / (scale or 1.0) + zero_point)
  return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(x, details: dict) -> np.ndarray:
  """A tensor's values -> float32: integers with a scale dequantized, anything else cast."""
  x = np.asarray(x)
  scale, zero_point = details["quantization"]
  if np.issubdtype(x.dtype, np.integer) and scale:
    return ((x.astype(np.float32) - zero_point) * scale).astype(np.float32)
  return x.astype(np.float32)
