"""Tests of mobile_ssl.export.export_params: which precision and input go together."""

import pytest

from mobile_ssl.export import export_params as export_params_lib


def test_int16x8_needs_log_mel_input():
  with pytest.raises(ValueError, match="int16x8 needs --input=log_mel"):
    export_params_lib.ExportParams(quantization="int16x8", input_kind="waveform").validate()
  assert ("int16x8", "waveform") not in export_params_lib.COMBINATIONS
  assert ("int16x8", "log_mel") in export_params_lib.COMBINATIONS


def test_only_for_int8():
  with pytest.raises(ValueError, match="--debug_quantization needs --quantization=int8"):
    export_params_lib.ExportParams(quantization="dynamic", debug_quantization=True).validate()


def test_a_cache_dir_under_a_file_is_refused_before_anything_runs(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  with pytest.raises(ValueError, match=r"--cache_dir=.*is not a writable folder"):
    export_params_lib.ExportParams(cache_dir=str(blocker / "cache")).validate()
  export_params_lib.ExportParams(cache_dir=str(tmp_path / "new" / "cache")).validate()  # made later


def test_the_probe_check_fits_windows_or_clip_means_only():
  export_params_lib.ExportParams(probe_on="clips").validate()
  with pytest.raises(ValueError, match="--probe_iterations must be >= 1, got 0"):
    export_params_lib.ExportParams(probe_iterations=0).validate()
  with pytest.raises(ValueError, match="--probe_on must be one of windows, clips, got 'frames'"):
    export_params_lib.ExportParams(probe_on="frames").validate()


def test_the_probe_window_stride_is_a_positive_integer():
  assert export_params_lib.ExportParams().probe_window_stride == 1  # mobile-ssl-eval's row
  export_params_lib.ExportParams(probe_window_stride=1).validate()
  with pytest.raises(ValueError, match="--probe_window_stride must be >= 1, got 0"):
    export_params_lib.ExportParams(probe_window_stride=0).validate()


def test_the_stft_is_matmul_or_fft():
  assert export_params_lib.ExportParams().stft == "matmul"
  export_params_lib.ExportParams(stft="fft").validate()
  with pytest.raises(ValueError, match="--stft must be one of fft, matmul, got 'rfft'"):
    export_params_lib.ExportParams(stft="rfft").validate()
