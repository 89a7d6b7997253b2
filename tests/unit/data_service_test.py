"""Tests of mobile_ssl.data.data_service without a service: addresses, and none listening."""

import socket

import pytest

from mobile_ssl.data import data_service


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_an_address_without_a_dispatcher_is_one_line():
  port = _free_port()
  with pytest.raises(ValueError, match=rf"--data_service=localhost:{port}: no dispatcher"):
    data_service.check_dispatcher(f"localhost:{port}")
  with pytest.raises(ValueError, match="--data_service=nonsense: expected HOST:PORT"):
    data_service.check_dispatcher("nonsense")
  assert data_service.host_port("grpc://example.org:5050") == ("example.org", 5050)
