"""Compatibility name for `records.cert_codes` (verification codes and the instance secret),
kept only while code written against the old name is merged; import `records.cert_codes`."""

from records.cert_codes import load_secret

__all__ = ["load_secret"]
