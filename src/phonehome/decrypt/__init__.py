"""Decryption of captured TLS and QUIC traffic with the session keys the user supplies.

``keylog`` reads NSS key logs (files, pcapng Decryption Secrets Blocks); ``tls`` turns one
TCP connection's two byte streams into application plaintext; ``quic`` does the same for
one QUIC connection's datagrams, per stream. Nothing here writes a key anywhere: secrets
stay inside :class:`~phonehome.decrypt.keylog.Secret` objects whose repr hides them.
"""
