"""Development TLS certificates and SuperNode keys for a Flower federation on localhost.

`write_tls(folder)` makes a CA and a SuperLink certificate for 127.0.0.1 /
localhost (ca.crt, server.pem, server.key); `write_node_key(path)` an EC P-384
key pair in OpenSSH format (PATH and PATH.pub), the kind `flower-supernode
--auth-supernode-private-key` reads and `flwr supernode register` accepts.
For tests and trials only: a real federation's keys come from its own PKI.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mobile_ssl.core import atomic


def _name(common_name: str) -> x509.Name:
  return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key) -> bytes:
  return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def write_tls(folder: str, days: int = 30) -> dict:
  """Writes ca.crt, server.pem and server.key under `folder`; returns their paths."""
  os.makedirs(folder, exist_ok=True)
  now = datetime.datetime.now(datetime.timezone.utc)
  ca_key = ec.generate_private_key(ec.SECP384R1())
  ca = (x509.CertificateBuilder().subject_name(_name("mobile_ssl test CA"))
        .issuer_name(_name("mobile_ssl test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256()))
  key = ec.generate_private_key(ec.SECP384R1())
  names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
  server = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256()))
  paths = {name: os.path.join(folder, name) for name in ("ca.crt", "server.pem", "server.key")}
  atomic.write_bytes(paths["ca.crt"], ca.public_bytes(serialization.Encoding.PEM))
  atomic.write_bytes(paths["server.pem"], server.public_bytes(serialization.Encoding.PEM))
  atomic.write_bytes(paths["server.key"], _pem_key(key))
  return paths


def write_node_key(path: str) -> str:
  """Writes an EC P-384 private key (OpenSSH) at `path` and its public key at PATH.pub."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  key = ec.generate_private_key(ec.SECP384R1())
  atomic.write_bytes(path, key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.OpenSSH,
                                             serialization.NoEncryption()))
  atomic.write_bytes(path + ".pub", key.public_key().public_bytes(
      serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n")
  return path + ".pub"
