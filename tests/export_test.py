"""Tests of export_tflite: 4 precisions x 2 inputs, metadata, validation, CLI, TFLiteEmbedder, classifier."""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert
from ai_edge_litert import schema_py_generated as schema

from mobile_ssl.commands import export_tflite
from mobile_ssl.core import embedding
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import linear_eval
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import suite
from mobile_ssl.evaluation import window_embeddings
from mobile_ssl.export import calibration
from mobile_ssl.export import classifier
from mobile_ssl.export import convert
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import exporter
from mobile_ssl.export import float_ends
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import metadata
from mobile_ssl.export import probe_accuracy
from mobile_ssl.export import quantization_debug
from mobile_ssl.export import tflite_embedder as embedder_lib
from mobile_ssl.export import validation
from tests import audio_fixtures
from tests import model_fixtures

DATASET = "synthetic_audio/tiny"
PARAMS = dataclasses.replace(recipes.tiny(), datasets=(DATASET,))
DIM = PARAMS.encoder.embedding_dim
COMBINATIONS = list(export_params_lib.COMBINATIONS)
INPUT_SHAPES = {"waveform": [1, 15600], "log_mel": [1, 96, 64, 1]}
_TYPES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


@pytest.fixture(scope="module")
def exported(encoder_dir, tiny_synthetic, data_dir, tmp_path_factory):
  """(quantization, input kind) -> (path, report), all 9 made once."""
  folder = tmp_path_factory.mktemp("tflite")
  out = {}
  for quantization, kind in COMBINATIONS:
    path = str(folder / f"{quantization}_{kind}.tflite")
    report = exporter.export_encoder(encoder_dir, path, export_params_lib.ExportParams(
        quantization=quantization, input_kind=kind, data_dir=data_dir))
    out[quantization, kind] = (path, report)
  return out


@pytest.fixture(scope="module")
def keras_embedder(encoder_dir):
  return embedding.KerasEmbedder(encoder_dir)


def _op_tensor_types(path):
  """[(op name, [input types], [output types])] from the flatbuffer."""
  model = schema.Model.GetRootAs(open(path, "rb").read(), 0)
  graph = model.Subgraphs(0)
  names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
  ops = []
  for i in range(graph.OperatorsLength()):
    op = graph.Operators(i)
    code = model.OperatorCodes(op.OpcodeIndex())
    types = lambda idx: [_TYPES[graph.Tensors(t).Type()] for t in idx if t >= 0]
    ops.append((names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())],
                types(op.InputsAsNumpy()), types(op.OutputsAsNumpy())))
  return ops


class TestPrecisionsAndInputs:

  @pytest.mark.parametrize("quantization,kind", COMBINATIONS)
  def test_signature_tensors_and_ops(self, exported, quantization, kind):
    path, report = exported[quantization, kind]
    interpreter = litert.Interpreter(model_path=path)
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": [kind], "outputs": ["embedding"]}}
    runner = interpreter.get_signature_runner()
    inp, out = runner.get_input_details()[kind], runner.get_output_details()["embedding"]
    fully_integer = quantization == "int8" and kind == "log_mel"
    assert list(inp["shape"]) == INPUT_SHAPES[kind] == list(inp["shape_signature"])  # batch 1
    assert list(out["shape"]) == [1, DIM]
    assert inp["dtype"] == out["dtype"] == (np.int8 if fully_integer else np.float32)
    assert report["size_bytes"] == os.path.getsize(path) and report["passed"]
    assert report["input"]["dtype"] == np.dtype(inp["dtype"]).name
    ops = validation.op_histogram(open(path, "rb").read())
    assert ops == report["ops"] and ops["CONV_2D"] == 10
    assert not validation.forbidden_ops(ops) and not any(op.startswith("CUSTOM") for op in ops)
    # The front end (its STFT as matmuls, features.dft_magnitude) is in waveform models only.
    assert ("LOG" in ops and "TRANSPOSE" in ops) == (kind == "waveform") and "RFFT2D" not in ops
    if quantization == "int16x8":  # 16x8: int16 activations between float input and output
      kinds = {t for _, ins, outs in _op_tensor_types(path) for t in ins + outs}
      assert {"INT16", "INT8"} <= kinds
    if fully_integer:  # no float tensor anywhere: int8 activations, int32 biases/shapes
      kinds = {t for _, ins, outs in _op_tensor_types(path) for t in ins + outs}
      assert kinds <= {"INT8", "INT32"} and "QUANTIZE" not in ops
      assert report["input"]["quantization"]["scale"] > 0

  @pytest.mark.parametrize("quantization,kind", COMBINATIONS)
  def test_graph_tensors_carry_the_signature_names(self, exported, quantization, kind):
    # What benchmark_model, Netron and MediaPipe show: the tensors' own names,
    # not the converter's 'serving_default_waveform:0' / 'StatefulPartitionedCall_1:0'.
    interpreter = litert.Interpreter(model_path=exported[quantization, kind][0])
    assert [d["name"] for d in interpreter.get_input_details()] == [kind]
    assert [d["name"] for d in interpreter.get_output_details()] == ["embedding"]

  @pytest.mark.parametrize("quantization", ["dynamic", "int8"])
  def test_waveform_front_end_stays_float(self, exported, quantization):
    ops = _op_tensor_types(exported[quantization, "waveform"][0])
    by_name = {}
    for name, ins, outs in ops:
      by_name.setdefault(name, []).append((ins, outs))
    assert by_name["LOG"] == [(["FLOAT32"], ["FLOAT32"])]
    # Every op before the encoder (the two-stage DFT's and the grouped mel projection's
    # FULLY_CONNECTED, their weights, MUL, SQRT, ...) is float; int32 inputs are shapes,
    # permutations and indices. Only int8's QUANTIZE into the encoder is not.
    front = ops[:next(i for i, (name, _, _) in enumerate(ops) if name == "CONV_2D")]
    assert sum(name == "FULLY_CONNECTED" for name, _, _ in front) == 5 + features.MEL_GROUPS
    for name, ins, outs in front:
      if name == "QUANTIZE":
        continue
      assert outs == ["FLOAT32"] and set(ins) <= {"FLOAT32", "INT32"}, (name, ins, outs)
    conv_weights = [ins[1] for ins, _ in by_name["CONV_2D"]]
    if quantization == "int8":  # ...while the encoder is quantized
      assert set(conv_weights) == {"INT8"}
    else:  # dynamic range leaves tensors under 1024 weights float
      assert conv_weights[-1] == "INT8"

  @pytest.mark.parametrize("quantization,kind", COMBINATIONS)
  def test_cosine_to_keras_on_new_audio(self, exported, keras_embedder, tiny_synthetic,
                                        quantization, kind):
    path, report = exported[quantization, kind]
    x = np.concatenate([audio_fixtures.chirp(1.5), audio_fixtures.noise(1.0, seed=5),
                        audio_fixtures.sine(1.0, 880.0)])
    windows, _ = features.frame_waveform(x, 0.25, PARAMS.features)
    cos = validation.cosines(embedder_lib.TFLiteEmbedder(path).embed_windows(windows),
                             keras_embedder.embed_windows(windows))
    min_mean, min_min = export_params_lib.DEFAULT_THRESHOLDS[quantization]
    assert cos.mean() >= min_mean and cos.min() >= min_min
    if quantization == "float32":
      assert cos.min() > 0.99999
    # The report's numbers, recomputed here on the same held-out windows (the test split).
    v = report["validation"]
    held_out = validation.windows(tiny_synthetic, "test", export_params_lib.ExportParams().num_validation,
                                  PARAMS.features, hop_seconds=exporter.VALIDATION_HOP_SECONDS)
    assert (v["dataset"], v["split"], v["windows"]) == (DATASET, "test", len(held_out))
    lite = embedder_lib.TFLiteEmbedder(path).embed_windows(held_out).astype(np.float64)
    ref = keras_embedder.embed_windows(held_out).astype(np.float64)
    unit = lambda e: e / np.linalg.norm(e, axis=1, keepdims=True)
    plain = np.sum(unit(lite) * unit(ref), axis=1)
    centred = np.sum(unit(lite - ref.mean(0)) * unit(ref - ref.mean(0)), axis=1)
    assert v["mean_cosine"] == pytest.approx(plain.mean(), abs=1e-5)
    assert v["min_cosine"] == pytest.approx(plain.min(), abs=1e-5) and v["min_cosine"] >= min_min
    assert v["mean_centred_cosine"] == pytest.approx(centred.mean(), abs=1e-5)
    assert v["min_centred_cosine"] == pytest.approx(centred.min(), abs=1e-5)
    if quantization in ("float32", "float16"):
      assert v["min_centred_cosine"] > 0.999

  def test_int8_calibrates_on_real_train_windows(self, exported, tiny_synthetic):
    report = exported["int8", "waveform"][1]
    assert report["representative"] == {"dataset": DATASET, "split": "train",
                                         "windows": report["representative"]["windows"]}
    first = next(pipeline.clips(tiny_synthetic, "train").as_numpy_iterator())["waveform"]
    windows = validation.windows(tiny_synthetic, "train", 5, PARAMS.features,
                                 hop_seconds=calibration.CALIBRATION_HOP_SECONDS)
    np.testing.assert_array_equal(windows[0], first[:PARAMS.features.slice_samples])
    assert len(windows) == 5


class TestInt8StatisticsPooling:
  """A waveform-in int8 file keeps the statistics pooling float (`float_ends.float_nodes`)."""

  @pytest.fixture(scope="class")
  def pooled(self):
    """(Keras model, float-pooling file, int8-pooling file, held-out windows)."""
    ep = params_lib.EncoderParams(width=0.25, pooling="multi_mean_std", pool_blocks=3,
                                  embedding_dim=0)
    fp = params_lib.FeatureParams()
    model = inference_model_lib.inference_model(encoder_lib.build_encoder(ep, fp, seed=0), fp, "waveform")
    waves = [audio_fixtures.chirp(1.0, f0=100.0 * (i + 1)) * (0.05 + 0.1 * i) for i in range(8)]
    waves += [audio_fixtures.noise(1.0, seed=i, amplitude=0.02 * (i + 1)) for i in range(8)]
    examples = [w[None, :fp.slice_samples].astype(np.float32) for w in waves]
    float_pool = convert.convert(model, "int8", examples)
    saved, float_ends._pooling_tail = float_ends._pooling_tail, lambda model: []  # the old conversion
    try:
      int8_pool = convert.convert(model, "int8", examples)
    finally:
      float_ends._pooling_tail = saved
    held = np.stack([
        (audio_fixtures.sine(1.0, 150.0 * (i + 1), amplitude=0.02 + 0.04 * i)
         + audio_fixtures.noise(1.0, seed=50 + i, amplitude=0.01))[:fp.slice_samples]
        for i in range(12)]).astype(np.float32)
    return model, float_pool, int8_pool, held

  def test_pooling_and_output_are_float_convolutions_int8(self, pooled, tmp_path):
    path = tmp_path / "f.tflite"
    path.write_bytes(pooled[1])
    ops = _op_tensor_types(str(path))
    last_conv = max(i for i, (name, _, _) in enumerate(ops) if name == "CONV_2D")
    assert {ins[1] for name, ins, _ in ops if name == "CONV_2D"} == {"INT8"}
    tail = [(name, ins, outs) for name, ins, outs in ops[last_conv + 1:]
            if name in ("MEAN", "SQRT", "CONCATENATION", "SUB", "MUL")]
    assert {name for name, _, _ in tail} == {"MEAN", "SQRT", "CONCATENATION", "SUB", "MUL"}
    for name, _, outs in tail:
      assert outs == ["FLOAT32"], name
    assert not any(name == "QUANTIZE" for name, _, _ in ops[last_conv + 1:])
    # The old conversion, for contrast: its pooling ran in int8.
    path.write_bytes(pooled[2])
    old = _op_tensor_types(str(path))
    assert any(name == "SQRT" and outs == ["INT8"] for name, _, outs in old)

  def test_error_of_the_standardized_embedding_is_smaller(self, pooled):
    model, float_pool, int8_pool, held = pooled
    keras_out = model.predict(held, batch_size=1, verbose=0)["embedding"].astype(np.float64)
    spread = keras_out.std(axis=0)
    live = spread > 1e-3 * np.median(spread)

    def error(tflite):
      runner = embedder_lib.TFLiteEmbedder(tflite, workers=0)
      got = runner.run(held).astype(np.float64)
      return float(np.mean(((got - keras_out)[:, live] / spread[live]) ** 2))

    new, old = error(float_pool), error(int8_pool)
    # What a standardizing probe sees (here 0.14 against 3.6; 0.0020 against 0.095 on
    # the quickstart's triplet encoder, docs/export.md).
    assert new < old / 4, (new, old)

  def test_log_mel_int8_keeps_nothing_float(self, tmp_path):
    # Fully integer for integer-only accelerators: the pooling is int8 there too.
    ep = params_lib.EncoderParams(width=0.25, pooling="multi_mean_std", embedding_dim=0)
    fp = params_lib.FeatureParams()
    model = inference_model_lib.inference_model(encoder_lib.build_encoder(ep, seed=0), fp, "log_mel")
    assert float_ends._pooling_tail(model)[0].startswith("global_pool_block")
    examples = [x[None] for x in embedder_lib.model_inputs(
        np.stack([audio_fixtures.chirp(1.0, f0=100.0 * (i + 1))[:fp.slice_samples]
                  for i in range(6)]).astype(np.float32), "log_mel", fp)]
    path = tmp_path / "l.tflite"
    path.write_bytes(convert.convert(model, "int8", examples, int8_io=True, int8_output=True))
    kinds = {t for _, ins, outs in _op_tensor_types(str(path)) for t in ins + outs}
    assert kinds <= {"INT8", "INT32"}, kinds


class TestMetadata:

  @pytest.mark.parametrize("quantization,kind", COMBINATIONS)
  def test_round_trip(self, exported, encoder_dir, quantization, kind):
    path, report = exported[quantization, kind]
    info = metadata.read_metadata(path)
    assert info["sample_rate_hz"] == 16000 and info["channels"] == 1
    assert info["slice_samples"] == 15600 and info["slice_frames"] == 96
    assert info["stft_window_samples"] == 400 and info["stft_hop_samples"] == 160
    assert info["embedding_dim"] == DIM and info["num_mel_bins"] == 64
    assert (info["input_kind"], info["quantization"]) == (kind, quantization)
    assert info["input"] == report["input"] and info["output"] == report["output"]
    assert info["params"] == json.load(open(model_dir.params_path(encoder_dir)))
    standard = metadata.read_tflite_metadata(path)
    (tensor,), (output,) = standard["inputs"], standard["outputs"]
    assert tensor["name"] == kind and output["name"] == "embedding"
    assert output["content"] == "FeatureProperties"
    if kind == "waveform":
      assert (tensor["content"], tensor["sample_rate"], tensor["channels"]) == (
          "AudioProperties", 16000, 1)
      assert standard["min_parser_version"] == "1.3.0"
    else:
      assert tensor["content"] == "FeatureProperties"


class TestEmbedder:

  @pytest.mark.parametrize("quantization,kind", [("float32", "waveform"), ("float16", "waveform"),
                                                 ("dynamic", "log_mel"), ("int8", "waveform"),
                                                 ("int8", "log_mel")])
  def test_same_timestamps_as_keras(self, exported, keras_embedder, quantization, kind):
    lite = embedder_lib.TFLiteEmbedder(exported[quantization, kind][0])
    x = audio_fixtures.chirp(2.3)
    for centre in (False, True):
      stamps, emb = lite.embed(x, 16000, hop_seconds=0.25, centre=centre, batch_size=3)
      ref_stamps, ref = keras_embedder.embed(x, 16000, hop_seconds=0.25, centre=centre)
      np.testing.assert_array_equal(stamps, ref_stamps)
      assert emb.shape == (len(stamps), DIM) and emb.dtype == np.float32
      cos = validation.cosines(emb, ref)
      if quantization == "int8":  # a tiny encoder calibrated on 24 windows, tones unseen
        assert cos.mean() > export_params_lib.DEFAULT_THRESHOLDS["int8"][0] and cos.min() > 0.95
      else:
        assert cos.min() > 0.99

  def test_files_of_any_rate(self, exported, tmp_path):
    lite = embedder_lib.TFLiteEmbedder(exported["dynamic", "log_mel"][0])
    path = audio_fixtures.write(tmp_path / "tone.wav", audio_fixtures.sine(1.2, 500, rate=8000),
                                8000)
    stamps, emb = lite.embed(path)
    assert len(stamps) == 1 and emb.shape == (1, DIM)


class TestCommand:

  def test_end_to_end_with_probe(self, encoder_dir, data_dir, tiny_synthetic, tmp_path, capsys):
    output, report_path = tmp_path / "enc.tflite", tmp_path / "report.json"
    code, out, err = model_fixtures.run_command(export_tflite, [f"--encoder={encoder_dir}", f"--output={output}",
                               "--quantization=int8", "--input=log_mel", f"--data_dir={data_dir}",
                               f"--representative_data={DATASET}@train", "--num_representative=9",
                               # 4 test clips: one flipped clip is a 0.25 drop.
                               f"--probe_task={DATASET}:event", "--max_probe_drop=0.5",
                               "--probe_window_stride=4", f"--report={report_path}"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["representative"] == {"dataset": f"{DATASET}@train", "split": "train",
                                        "windows": 9}
    assert (report["validation"]["dataset"], report["validation"]["split"]) == (DATASET, "test")
    assert report == json.load(open(report_path)) and report["path"] == str(output)
    assert os.path.getsize(output) == report["size_bytes"]
    probe = report["probe"]
    assert probe["test_clips"] == 4
    # Both accuracies are mobile-ssl-eval's linear probe, recomputed here, fitted on every
    # 4th window of each train clip (the flag; the default 1 is every window): the Keras
    # encoder picks the weight decay, the file is probed with the same one.
    assert probe["train_window_stride"] == 4
    task = downstream.load_task(f"{DATASET}:event", data_dir)
    encoder, params = model_dir.load_encoder(encoder_dir)
    keras_row = linear_eval.linear_accuracy(encoder, params, task, train_window_stride=4)
    lite_row = linear_eval.linear_accuracy(embedder_lib.TFLiteEmbedder(str(output)), params, task,
                                     l2=keras_row["l2"], start=keras_row["model"],
                                     train_window_stride=4)
    every_window = linear_eval.linear_accuracy(encoder, params, task)
    assert (probe["train_windows"] == keras_row["train_windows"] == lite_row["train_windows"]
            < every_window["train_windows"])  # the file ran only the kept windows
    assert (probe["keras_accuracy"], probe["l2"]) == (keras_row["accuracy"], keras_row["l2"])
    assert probe["tflite_accuracy"] == lite_row["accuracy"]
    assert probe["drop"] == pytest.approx(probe["keras_accuracy"] - probe["tflite_accuracy"])
    assert probe["drop"] <= probe["max_drop"] == 0.5
    assert f"wrote {output}" in err
    assert [f for f in os.listdir(tmp_path) if f.startswith(".")] == []

  def test_failed_validation_writes_nothing(self, encoder_dir, data_dir, tiny_synthetic,
                                            tmp_path, capsys):
    output = tmp_path / "enc.tflite"
    with pytest.raises(exporter.ValidationError, match="mean cosine .* < 1.0") as failure:
      exporter.export_encoder(encoder_dir, str(output), export_params_lib.ExportParams(
          quantization="dynamic", input_kind="log_mel", data_dir=data_dir, min_mean_cosine=1.0))
    assert not failure.value.report["passed"] and os.listdir(tmp_path) == []
    output.write_bytes(b"older export")  # a failed export leaves an older file alone
    code, out, err = model_fixtures.run_command(export_tflite, [f"--encoder={encoder_dir}", f"--output={output}",
                               "--quantization=float16", "--input=log_mel",
                               f"--data_dir={data_dir}",
                               "--min_min_cosine=1.0"], capsys)
    assert code == 1 and "validation failed, not written: min cosine" in err
    assert json.loads(out)["passed"] is False
    assert os.listdir(tmp_path) == ["enc.tflite"] and output.read_bytes() == b"older export"

  def test_stft_fft_keeps_tflites_rfft2d_and_the_same_embedding(self, exported, encoder_dir,
                                                                data_dir, tmp_path):
    path = str(tmp_path / "fft.tflite")
    report = exporter.export_encoder(encoder_dir, path, export_params_lib.ExportParams(
        quantization="float32", input_kind="waveform", stft="fft", data_dir=data_dir))
    assert report["passed"] and report["stft"] == "fft" and "RFFT2D" in report["ops"]
    matmul_path, matmul_report = exported["float32", "waveform"]
    assert matmul_report["stft"] == "matmul" and "RFFT2D" not in matmul_report["ops"]
    audio = audio_fixtures.chirp(3.0)
    _, fft = embedder_lib.TFLiteEmbedder(path).embed(audio, 16000)
    _, matmul = embedder_lib.TFLiteEmbedder(matmul_path).embed(audio, 16000)
    cosine = np.sum(fft * matmul, axis=1) / (np.linalg.norm(fft, axis=1)
                                             * np.linalg.norm(matmul, axis=1))
    assert fft.shape == matmul.shape and cosine.min() > 0.9999, cosine

  def test_unknown_precision_from_the_shell(self, encoder_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mobile_ssl.commands.export_tflite", f"--encoder={encoder_dir}",
         f"--output={tmp_path / 'x.tflite'}", "--quantization=int4"],
        capture_output=True, text=True, timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--quantization=int4: value should be one of <float32|float16|dynamic|int8|int16x8>" in (
        result.stderr)


@pytest.fixture(scope="module")
def exported_classifier(encoder_dir, tiny_synthetic, data_dir, tmp_path_factory):
  path = str(tmp_path_factory.mktemp("classifier") / "classifier.tflite")
  report = exporter.export_encoder(encoder_dir, path, export_params_lib.ExportParams(
      classifier_task=f"{DATASET}:event", data_dir=data_dir, max_probe_drop=0.0))
  return path, report


class TestClassifier:

  def test_waveform_in_scores_out(self, exported_classifier):
    path, report = exported_classifier
    classes = report["classifier"]["num_classes"]
    interpreter = litert.Interpreter(model_path=path)
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["waveform"], "outputs": ["scores"]}}
    assert [d["name"] for d in interpreter.get_input_details()] == ["waveform"]
    (out,) = interpreter.get_output_details()
    assert out["name"] == "scores" and list(out["shape"]) == [1, classes]
    ops = report["ops"]
    assert ops["SOFTMAX"] == 1 and "LOG" in ops and not validation.forbidden_ops(ops)
    assert report["passed"] and report["output"]["name"] == "scores"
    lite = embedder_lib.TFLiteEmbedder(path)
    _, scores = lite.embed(audio_fixtures.chirp(2.0), 16000)
    assert scores.shape[1] == classes and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)

  def test_label_map_is_a_tensor_axis_labels_file(self, exported_classifier, tiny_synthetic):
    path, report = exported_classifier
    names = list(tiny_synthetic.info.features["event"].names)
    labels = report["classifier"]["labels"]
    assert labels and set(labels) <= set(names) and len(labels) == report["classifier"][
        "num_classes"]
    (output,) = metadata.read_tflite_metadata(path)["outputs"]
    assert output["name"] == "scores"
    assert output["associated_files"] == [{"name": "labels.txt", "type": 2,
                                           "description": "class names, one per line"}]
    assert metadata.associated_files(path) == {"labels.txt": ("\n".join(labels) + "\n").encode()}
    assert metadata.read_metadata(path)["classifier"]["labels"] == labels
    # The appended ZIP does not disturb the flatbuffer, and re-adding replaces it.
    again = metadata.add(open(path, "rb").read(), metadata.read_metadata(path))
    assert metadata.associated_files(again) == metadata.associated_files(path)
    assert abs(len(again) - os.path.getsize(path)) < 64  # one copy of each entry and file

  def test_head_is_the_evaluation_probe(self, exported_classifier, encoder_dir, data_dir):
    # The probe as mobile-ssl-eval fits it, then the file's scores on test windows.
    path, report = exported_classifier
    encoder, params = model_dir.load_encoder(encoder_dir)
    task = downstream.load_task(f"{DATASET}:event", data_dir)
    eval_params = eval_params_lib.EvalParams()
    train = window_embeddings.embed_split(encoder, params.features, task, "train",
                                          eval_params.hop_seconds)
    model = probe.train(train["embeddings"], task.index(train["labels"]), train["clips"],
                        task.num_classes, seed=eval_params.seed)
    kernel, bias = classifier.folded_weights(model)
    z = train["embeddings"] @ kernel + bias
    folded = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(folded / folded.sum(1, keepdims=True),
                               model.probabilities(train["embeddings"]), atol=1e-5)
    windows = validation.windows(task.builder, "test", 8, params.features, hop_seconds=0.5)
    reference = classifier.KerasClassifier(encoder, params, model).embed_windows(windows)
    np.testing.assert_allclose(embedder_lib.TFLiteEmbedder(path).embed_windows(windows),
                               reference, atol=1e-4)
    c = report["classifier"]
    assert c["labels"] == task.class_names and c["train_windows"] == len(train["clips"])
    assert c["tflite_accuracy"] == c["keras_accuracy"] and c["drop"] == 0.0
    assert c["test_clips"] == 4 and c["window_top1_agreement"] == 1.0


def _write_sparse_digits(root):
  """FSDD-named clips of digits 3, 5, 7, 9; digit 5 only in test takes (0-4).

  The train split then holds the label values 0, 2, 3 (of the names 3, 5, 7,
  9): non-contiguous, plus a class the probe never sees. Digits differ by
  tone frequency and loudness, which even a random tiny encoder separates.
  """
  os.makedirs(root)
  rng = np.random.default_rng(0)
  for d, hz in ((3, 300.0), (5, 900.0), (7, 2000.0), (9, 4000.0)):
    for take in (range(5) if d == 5 else range(8)):
      x = audio_fixtures.sine(1.2, hz * rng.uniform(0.95, 1.05), rate=16000)
      audio_fixtures.write(os.path.join(root, f"{d}_ann_{take}.wav"), x, 16000)
  return root


class TestOneValidationPath:

  def test_probe_is_mobile_ssl_eval_with_sparse_labels(self, encoder_dir, data_dir, tiny_synthetic,
                                                       tmp_path):
    folder = _write_sparse_digits(str(tmp_path / "recordings"))
    task_spec = f"{folder}:digit"
    output = str(tmp_path / "enc.tflite")
    report = exporter.export_encoder(encoder_dir, output, export_params_lib.ExportParams(
        quantization="float32", input_kind="log_mel", data_dir=data_dir, probe_task=task_spec,
        max_probe_drop=1.0, probe_window_stride=1))
    task = downstream.load_task(task_spec, data_dir)
    np.testing.assert_array_equal(np.unique(task.train_labels), [0, 2, 3])
    assert report["probe"]["classes"] == task.num_classes == 3
    method = suite.methods([encoder_dir])
    row, = suite.evaluate(method, [task], log=lambda line: None)
    assert report["probe"]["keras_accuracy"] == row["accuracy"]
    assert report["probe"]["test_clips"] == row["clips"] == 20
    # The file through the same function, with the Keras probe's decay and
    # weights to start from: the export's .tflite number.
    keras_row = linear_eval.linear_accuracy(model_dir.load_encoder(encoder_dir)[0], PARAMS, task)
    lite = embedder_lib.TFLiteEmbedder(output)
    again = linear_eval.linear_accuracy(lite, PARAMS, task, l2=keras_row["l2"],
                                        start=keras_row["model"])
    assert report["probe"]["tflite_accuracy"] == again["accuracy"]
    assert report["probe"]["tflite_accuracy"] <= 0.75  # digit 5's clips are always wrong
    assert "mean_centred_cosine" in report["validation"] and "mean_cosine" in report["validation"]

  def test_a_second_probe_check_loads_embeddings_and_fits_from_the_cache(
      self, encoder_dir, data_dir, tiny_synthetic, tmp_path, monkeypatch):
    # What the quickstart's export stage gets from its probe stage: with
    # mobile-ssl-eval's cache folder, the Keras side (and an identical file's
    # side) is loaded, not embedded and fitted again.
    folder = _write_sparse_digits(str(tmp_path / "recordings"))
    cache = str(tmp_path / "cache")
    export_params = export_params_lib.ExportParams(
        quantization="float32", input_kind="log_mel", data_dir=data_dir,
        probe_task=f"{folder}:digit", max_probe_drop=1.0, cache_dir=cache)
    first = exporter.export_encoder(encoder_dir, str(tmp_path / "a.tflite"), export_params)
    kept = os.listdir(cache)
    assert any(f.startswith("probe_") for f in kept) and any(f.startswith("windows_") for f in kept)

    def no_fit(*args, **kwargs):
      raise AssertionError("the probe should have been loaded from the cache")

    monkeypatch.setattr(probe, "_train", no_fit)
    second = exporter.export_encoder(encoder_dir, str(tmp_path / "b.tflite"), export_params)
    assert second["probe"] == first["probe"]

  def test_probes_of_a_comparison_share_the_reference_weight_decay(self, encoder_dir, data_dir,
                                                                    tiny_synthetic, tmp_path):
    # The file's probe is fitted with the Keras probe's pick, so a difference is the
    # embeddings'; agreement counts the test clips both probes predict alike.
    folder = _write_sparse_digits(str(tmp_path / "recordings"))
    task = downstream.load_task(f"{folder}:digit", data_dir)
    encoder, params = model_dir.load_encoder(encoder_dir)
    lite = embedder_lib.TFLiteEmbedder(convert.encoder_tflite(encoder, params, "log_mel",
                                                              "float32"))
    result = probe_accuracy.compare({"keras": encoder, "tflite": lite}, params, task)
    keras_alone = linear_eval.linear_accuracy(encoder, params, task)
    assert result["l2"] == keras_alone["l2"] in probe.L2_GRID
    assert result["accuracy"]["keras"] == keras_alone["accuracy"]
    for l2 in probe.L2_GRID:  # a float32 file is the encoder: same clips predicted, any decay
      fixed = linear_eval.linear_accuracy(lite, params, task, l2=l2)
      assert fixed["l2"] == l2
    assert result["agreement"] == {"keras": 1.0, "tflite": 1.0}

  def test_calibration_pool_takes_equal_shares(self, data_dir, tiny_synthetic, tmp_path):
    folder = _write_sparse_digits(str(tmp_path / "recordings"))
    windows, info = calibration.calibration_windows(f"{DATASET},{folder}", 10, PARAMS.features,
                                                data_dir=data_dir)
    alone = [calibration.calibration_windows(spec, 5, PARAMS.features, data_dir=data_dir)[0]
             for spec in (DATASET, folder)]
    np.testing.assert_array_equal(windows, np.concatenate(alone))
    assert info == {"dataset": f"{DATASET},{folder}", "split": "train,train", "windows": 10}

  def test_benchmark_times_the_exported_int8_file(self, encoder_dir, data_dir, tiny_synthetic,
                                                  tmp_path):
    from mobile_ssl.benchmark import lineup  # pylint: disable=g-import-not-at-top
    output = str(tmp_path / "enc.tflite")
    exporter.export_encoder(encoder_dir, output, export_params_lib.ExportParams(
        quantization="int8", input_kind="log_mel", data_dir=data_dir,
        representative_data=f"{DATASET}@train", num_representative=7))
    calib = lineup.calibration(DATASET, "train", 7, data_dir)
    entry, = lineup.ours([], [], ["int8"], ["log_mel"], str(tmp_path), calib,
                         encoder_dirs=[encoder_dir])
    assert open(entry.path, "rb").read() == open(output, "rb").read()

  def test_both_call_the_one_sampler(self, encoder_dir, data_dir, tiny_synthetic, tmp_path,
                                     monkeypatch):
    from mobile_ssl.benchmark import lineup  # pylint: disable=g-import-not-at-top
    calls = []
    sampler = calibration.calibration_windows
    monkeypatch.setattr(calibration, "calibration_windows",
                        lambda *a, **k: calls.append(a[0]) or sampler(*a, **k))
    lineup.calibration(DATASET, "train", 3, data_dir)
    exporter.export_encoder(encoder_dir, str(tmp_path / "enc.tflite"), export_params_lib.ExportParams(
        quantization="int8", input_kind="log_mel", data_dir=data_dir, num_representative=3,
        num_validation=3))
    assert calls == [f"{DATASET}@train", DATASET]


class TestDebugQuantization:

  @pytest.mark.parametrize("kind", export_params_lib.INPUT_KINDS)
  def test_table_names_layers_and_shares_sum_to_one(self, encoder_dir, data_dir, tiny_synthetic,
                                                    tmp_path, kind):
    output = str(tmp_path / f"enc_{kind}.tflite")
    report = exporter.export_encoder(encoder_dir, output, export_params_lib.ExportParams(
        quantization="int8", input_kind=kind, data_dir=data_dir, num_representative=8,
        num_validation=6, debug_quantization=True))
    debug = report["quantization_debug"]
    assert debug["csv"] == str(tmp_path / f"enc_{kind}.quantization.csv")
    with open(debug["csv"]) as f:
      rows = list(csv.DictReader(f))
    assert len(rows) >= 5 and tuple(rows[0]) == quantization_debug.COLUMNS
    assert any("block" in r["layer"] for r in rows)  # Keras layer names
    assert not any("log_mel_front_end" in r["layer"] for r in rows)  # the float front end
    errors = np.array([float(r["relative_error"]) for r in rows])
    np.testing.assert_allclose([float(r["share"]) for r in rows], errors / errors.sum(), rtol=1e-6)
    # Rounding alone leaves an RMSE of 1/sqrt(12) = 0.29 quantization steps in a layer's
    # output (measured: median 0.25; ops that only move int8 values: ~1e-6).
    assert 0.1 < np.median([float(r["rmse_over_scale"]) for r in rows]) < 1.0
    table = open(debug["md"]).read()
    assert "| layer | op | RMSE / scale | relative error | share |" in table
    # The layers' errors add up to the embedding's (measured: predicted 1.1x the measured),
    # and the debugger's int8 model is the exported one: the export's own check on the same
    # windows gives the same centred cosine (measured: equal to 1e-6).
    assert 0.5 < debug["predicted_relative_error"] / debug["measured_relative_error"] < 2.0
    assert debug["measured_centred_cosine"] == pytest.approx(
        report["validation"]["mean_centred_cosine"], abs=1e-3)

