"""Seeded scripts that write each builder's dummy_data/ (run: python -m tfds_builders.fake_data.make_<name>)."""
