"""`export_tflite --debug_quantization`: where an int8 model loses its accuracy, layer by layer.

TensorFlow's `tf.lite.experimental.QuantizationDebugger` works with TF 2.21:
it runs the int8 model with a NumericVerify op after every quantized layer,
which feeds the layer the *quantized* inputs, computes its float result too
and compares them, so each row is the error that layer adds on its own (not
the error it inherits). It runs `tf.lite.Interpreter` (deprecated; LiteRT's
interpreter has no NumericVerify kernel), which is used only here, for this
report; the shipped file is checked with `ai_edge_litert` as always. The
model is the same int8 conversion `convert.convert` makes (same calibration
windows, the front end and pooling denylisted), with float input and output.

Per layer (output tensor) the table gives:
  * rmse_over_scale: RMSE of the layer's output in units of its quantization
    step; rounding alone gives 1/sqrt(12) = 0.29, much more means clipping
    (a range too narrow for outliers) or an amplified input error;
  * relative_error: mean squared error / variance of the float output, the
    error-to-signal power ratio the layer adds (its variance, not its mean
    square: a constant offset in the output carries no information, and a
    ratio against the mean square would hide class-dependent error behind it);
  * share: relative_error / the sum over all layers. Independent errors that
    a layer passes on at the same signal-to-noise ratio add up in these units,
    so share is the layer's part of the predicted error of the embedding
    (`predicted_relative_error`, beside the `measured_relative_error` of the
    final embedding, int8 against float, on the same windows).
docs/export.md shows how to read it.
"""

import csv
import io
import os
import tempfile
import typing
import warnings

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.export import convert
from mobile_ssl.export import float_ends
from mobile_ssl.export import validation

COLUMNS = ("layer", "op", "rmse_over_scale", "relative_error", "share", "scale")


def _relative(float_outputs, quant_outputs) -> float:
  f, q = np.asarray(float_outputs[0], np.float64), np.asarray(quant_outputs[0], np.float64)
  return float(np.mean((f - q) ** 2))


def layer_errors(model: keras.Model, examples: typing.Sequence[np.ndarray],
                 debug_examples: typing.Sequence[np.ndarray]) -> dict:
  """Runs the quantization debugger on an int8 conversion of an inference model.

  Args:
    model: `inference_model.inference_model(...)` (float I/O).
    examples: calibration examples, batch-1 (`convert.representative`).
    debug_examples: held-out batch-1 examples the errors are measured on.

  Returns:
    {'rows': [{COLUMNS...}] in graph order, 'predicted_relative_error',
     'measured_relative_error', 'measured_centred_cosine', 'examples'}.
  """
  examples = [np.asarray(x, np.float32) for x in examples]
  debug_examples = [np.asarray(x, np.float32) for x in debug_examples]
  if not examples or not debug_examples:
    raise ValueError("--debug_quantization needs calibration and validation windows")
  float_outputs, quant_outputs = [], []

  def keep_outputs(f, q):  # A model metric that records the outputs (used below).
    float_outputs.append(np.asarray(f[0], np.float64).ravel())
    quant_outputs.append(np.asarray(q[0], np.float64).ravel())
    return _relative(f, q)

  metrics = {"layer_direct_compare_metrics": {
      "float_variance": lambda f, q, scale, zero_point: float(np.var(f))},
             "model_debug_metrics": {"output_mse": keep_outputs}}
  with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    converter = convert.saved_model_converter(model, tmp)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in examples)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: ([x] for x in debug_examples),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(**metrics))
    denied = float_ends.float_nodes(debugger.calibrated_model, model)
    if denied:
      debugger.options = tf.lite.experimental.QuantizationDebugOptions(
          denylisted_nodes=denied, **metrics)
    debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
  rows = []
  for stats in csv.DictReader(io.StringIO(dump.getvalue())):
    mse, scale = float(stats["mean_squared_error"]), float(stats["scale"])
    variance = float(stats["float_variance"])
    rows.append({"layer": stats["tensor_name"], "op": stats["op_name"],
                 "rmse_over_scale": float(np.sqrt(mse) / scale) if scale else float("nan"),
                 "relative_error": mse / variance if variance > 0 else 0.0, "scale": scale})
  total = sum(r["relative_error"] for r in rows if np.isfinite(r["relative_error"]))
  for row in rows:
    row["share"] = row["relative_error"] / total if total else 0.0
  f, q = np.stack(float_outputs), np.stack(quant_outputs)
  cosine = validation.centred_cosines(q, f)
  return {"rows": rows, "predicted_relative_error": total,
          "measured_relative_error": float(np.mean((f - q) ** 2) / max(np.var(f), 1e-30)),
          "measured_centred_cosine": float(np.mean(cosine)), "examples": len(debug_examples)}


def markdown(result: dict, title: str = "int8 quantization error per layer") -> str:
  """The table, largest share first, with the summary figures above it."""
  lines = [f"# {title}", "",
           f"{result['examples']} held-out windows. Error of the final embedding (int8 vs "
           f"float): relative error {result['measured_relative_error']:.4g} (predicted from "
           f"the layers: {result['predicted_relative_error']:.4g}), mean centred cosine "
           f"{result['measured_centred_cosine']:.5f}.", "",
           "| layer | op | RMSE / scale | relative error | share |", "|---|---|---:|---:|---:|"]
  for row in sorted(result["rows"], key=lambda r: -r["share"]):
    lines.append(f"| {row['layer']} | {row['op']} | {row['rmse_over_scale']:.3f} | "
                 f"{row['relative_error']:.3g} | {row['share']:.1%} |")
  return "\n".join(lines) + "\n"


def write(result: dict, output: str) -> typing.Dict[str, str]:
  """Writes OUTPUT.quantization.csv (graph order) and .md beside `output`; their paths."""
  stem = os.path.splitext(output)[0]
  paths = {"csv": stem + ".quantization.csv", "md": stem + ".quantization.md"}
  text = io.StringIO()
  writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
  writer.writeheader()
  for row in result["rows"]:
    writer.writerow({k: row[k] for k in COLUMNS})
  for kind, content in (("csv", text.getvalue()), ("md", markdown(result))):
    with open(paths[kind], "w") as f:
      f.write(content)
  return paths
