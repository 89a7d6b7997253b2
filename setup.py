"""mobile_ssl: self-supervised audio representations for mobile devices.

Version ranges are the ones tested together on Python 3.11 (BUILD.md lists
the exact set and why each package of the design card is or is not used).
"""

import setuptools

INSTALL_REQUIRES = [
    "tensorflow>=2.21,<2.22",  # ships Keras 3; tf.lite converter
    "keras>=3.15,<4",
    "tensorflow-datasets>=4.9.10,<4.10",
    "importlib_resources>=6",  # tfds 4.9.10 imports it but does not declare it
    "ai-edge-litert>=2.3,<2.4",  # the LiteRT interpreter (tf.lite.Interpreter is deprecated)
    "flatbuffers>=24",  # export/metadata.py edits .tflite files (also required by ai-edge-litert)
    "soundfile>=0.13,<0.15",  # WAV/FLAC/OGG/MP3 via bundled libsndfile (not tensorflow-io)
    "scipy>=1.13,<2",  # band-limited resampling, the probe's L-BFGS
    "threadpoolctl>=3.5,<4",  # one BLAS thread for the probe (see mobile_ssl/evaluation/probe.py)
    "numpy>=2.0,<2.5",
    "absl-py>=2.1,<3",
    # apache-beam (the `tfds` CLI imports it) caps protobuf below 7.
    "protobuf>=6.31.1,<7",
    "tensorboard>=2.20,<2.22",  # tf.summary needs it; TF 2.21 no longer installs it
    "matplotlib>=3.8,<4",
    "tqdm>=4.60",
]

EXTRAS = {
    # `tfds build` in tfds 4.9.10 imports apache_beam and mlcroissant at start-up.
    "tfds": ["apache-beam>=2.60,<3", "mlcroissant>=1.0,<2"],
    # dill: tfds.testing imports it; pytest-timeout: the per-test timeouts of pytest.ini.
    "dev": ["pytest>=8,<10", "pytest-timeout>=2.3,<3", "dill>=0.3"],
    # Flower (its simulation engine brings ray==2.55.1); flwr caps protobuf below 7,
    # as apache-beam does. `cryptography` makes the deployment test's certificates.
    "federated": ["flwr[simulation]>=1.42,<1.43", "cryptography>=42"],
}
EXTRAS["dev"] = EXTRAS["dev"] + EXTRAS["tfds"] + EXTRAS["federated"]

setuptools.setup(
    name="mobile_ssl",
    version="0.1.0",
    description="Self-supervised audio representation learning for mobile devices",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.14",
    # Everything installs under `mobile_ssl`: the repository's top-level folders
    # export/ and tfds_builders/ become mobile_ssl.export and mobile_ssl_tfds
    # (docs/architecture.md), so no generic top-level name is claimed.
    packages=(setuptools.find_packages(include=["mobile_ssl", "mobile_ssl.*"])
              + ["mobile_ssl.export"]
              + ["mobile_ssl_tfds" + ("." + p if p else "")
                 for p in [""] + setuptools.find_packages("tfds_builders")]),
    package_dir={"mobile_ssl.export": "export", "mobile_ssl_tfds": "tfds_builders"},
    package_data={"mobile_ssl_tfds": ["*/dummy_data/**/*", "*/README.md", "*/CITATIONS.bib"],
                  "mobile_ssl.benchmark": ["setup_emulation.sh", "cpuinfo-neoverse-n1"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "mobile-ssl-train=mobile_ssl.commands.train:run",
            "mobile-ssl-eval=mobile_ssl.commands.evaluate:run",
            "mobile-ssl-quickstart=mobile_ssl.commands.quickstart:run",
            "export_tflite=mobile_ssl.commands.export_tflite:run",
            "mobile-ssl-bench=mobile_ssl.commands.bench:run",
            "mobile-ssl-federated=mobile_ssl.commands.federated:run",
            "mobile-ssl-data-service=mobile_ssl.commands.data_service:run",
        ],
    },
)
