"""Tests of mobile_ssl.benchmark.peers: the peer architectures' sizes and YAMNet's waveform front end."""

import numpy as np
import pytest

from mobile_ssl.benchmark import peers
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from tests import audio_fixtures


class TestPeers:

  def test_yamnet_matches_the_published_size(self):
    counts = encoder_lib.complexity(peers.build_peer("yamnet"))
    assert 3.65e6 < counts["params"] < 3.80e6  # YAMNet: 3.7 M weights
    assert 68.5e6 < counts["macs"] < 70.0e6  # 69.2 M multiply-adds per 96x64 patch

  @pytest.mark.parametrize("name,params_range,dim", [
      ("frill", (0.9e6, 1.2e6), 128), ("cola", (3.9e6, 4.2e6), 1280)])
  def test_keras_applications_accept_one_channel_log_mel(self, name, params_range, dim):
    model = peers.build_peer(name)
    assert model.input_shape == (None, 96, 64, 1) and model.output_shape == (None, dim)
    counts = encoder_lib.complexity(model)
    assert params_range[0] < counts["params"] < params_range[1]
    out = model(audio_fixtures.log_mels(2))
    assert np.all(np.isfinite(out))

  def test_unknown_peer(self):
    with pytest.raises(ValueError, match="unknown peer 'resnet'"):
      peers.build_peer("resnet")


class TestYamnetWaveformPeer:

  def test_its_dft_matmul_front_end_computes_our_log_mel(self):
    fp = params_lib.FeatureParams()
    x = np.random.default_rng(0).normal(scale=0.1, size=(2, fp.slice_samples)).astype(np.float32)
    front = peers.YamnetLogMel({"sample_rate_hz": fp.sample_rate_hz})
    theirs = front(x).numpy()[..., 0]
    ours = features.log_mel_spectrogram(x, fp).numpy()
    assert theirs.shape == ours.shape == (2, fp.slice_frames, fp.num_mel_bins)
    np.testing.assert_allclose(theirs, ours, atol=2e-3)
