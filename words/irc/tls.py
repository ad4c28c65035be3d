"""TLS for listeners: modern protocol versions only, optional client certificates.

Client certificates are requested when the listener names a `client_ca`:
Python's ssl module cannot accept a certificate it cannot verify, so CertFP
with self-signed certificates is not possible; clients present certificates
issued by that CA, and SASL EXTERNAL maps their SHA-256 fingerprint to an
account.
"""

from __future__ import annotations

import ssl

from words.config import TLSFiles


def server_context(files: TLSFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    if files.client_ca:
        context.load_verify_locations(files.client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate is welcome, not required
    return context
