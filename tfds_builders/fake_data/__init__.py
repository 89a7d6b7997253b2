"""Seeded scripts that write each builder's dummy_data/ (run: python -m mobile_ssl_tfds.fake_data.make_<name>)."""
