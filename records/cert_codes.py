"""Certificate verification codes (HMAC-SHA256 with the instance's secret); the printable
PDF is `writers.certificate`.

The code covers what the certificate says: number, holder's name and full ID number, role,
unit, issue date and validity. It is printed on the PDF; `verify` finds the certificate by
its code and recomputes it from the stored fields, so a made-up code, a certificate forged
into the database without the secret, or a stored certificate whose dates or holder were
changed all fail. Codes use Crockford's base32 (no I, L, O, U), 20 characters = 100 bits.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.errors import NotInitialised
from records.models import Certificate
from records.roles import Role

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def load_secret(path: Path) -> bytes:
    """The instance's HMAC key (secret.key, written by `safetrain init`)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotInitialised(
            f"找不到实例密钥 {path}：请先运行 `safetrain init`（证书验证码要用它）。"
            " The instance secret is missing: run `safetrain init`."
        ) from None
    if len(text) < 32:
        raise NotInitialised(f"实例密钥 {path} 太短或已损坏：请从备份恢复。")
    return text.encode("ascii")


@dataclass(frozen=True)
class CertFields:
    """What a certificate asserts: the exact input of its code."""

    number: str
    id_number: str
    holder_name: str
    role: Role
    unit_path: str
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date

    def payload(self) -> bytes:
        parts = ["safetrain-cert-v1", self.number, self.id_number, self.holder_name,
                 self.role.value, self.unit_path, self.issued_on.isoformat(),
                 self.valid_from.isoformat(), self.valid_until.isoformat()]
        # Length-prefixed, so no choice of field values can make two certificates collide.
        return b"".join(f"{len(p.encode())}:".encode() + p.encode() for p in parts)

    @classmethod
    def of(cls, cert: Certificate) -> CertFields:
        return cls(cert.number, cert.person.id_number, cert.holder_name, cert.role,
                   cert.unit_path, cert.issued_on, cert.valid_from, cert.valid_until)


def sign(secret: bytes, fields: CertFields) -> str:
    """The verification code, grouped for reading aloud: XXXXX-XXXXX-XXXXX-XXXXX."""
    digest = hmac.new(secret, fields.payload(), hashlib.sha256).digest()
    value = int.from_bytes(digest, "big") >> (256 - 5 * CODE_CHARS)
    chars = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(CODE_CHARS)))
    return "-".join(chars[i:i + 5] for i in range(0, CODE_CHARS, 5))


def normalise_code(text: str) -> str:
    """A typed code in canonical form; ValueError when it cannot be one of ours."""
    raw = re.sub(r"[\s\-_.]", "", text).upper().translate(_TYPO)
    if len(raw) != CODE_CHARS or any(c not in ALPHABET for c in raw):
        raise ValueError(f"验证码应为 {CODE_CHARS} 位字母数字（如 ABCDE-12345-FGHJK-67890），"
                         f"这里是「{text.strip()}」")
    return "-".join(raw[i:i + 5] for i in range(0, CODE_CHARS, 5))


class Verdict(enum.StrEnum):
    valid = "valid"
    not_yet_valid = "not_yet_valid"
    expired = "expired"
    revoked = "revoked"
    altered = "altered"
    unknown = "unknown"

    @property
    def label(self) -> str:
        return {"valid": "有效", "not_yet_valid": "尚未生效", "expired": "已过期",
                "revoked": "已撤销", "altered": "记录与验证码不符（证书被篡改）",
                "unknown": "查无此证（伪造或抄错）"}[self.value]


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    code: str
    certificate: Certificate | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.valid


def verify(session: Session, secret: bytes, code: str, *, today: dt.date) -> Verification:
    """Check a code: is there such a certificate, is it intact, is it in force today?"""
    try:
        canonical = normalise_code(code)
    except ValueError as exc:
        return Verification(Verdict.unknown, code.strip(), detail=str(exc))
    cert = session.scalars(select(Certificate).where(Certificate.code == canonical)).one_or_none()
    if cert is None:
        return Verification(Verdict.unknown, canonical, detail=(
            "本实例没有签发过带此验证码的证书。请核对抄写；仍查不到则证书是伪造的。"))
    if not hmac.compare_digest(sign(secret, CertFields.of(cert)), canonical):
        return Verification(Verdict.altered, canonical, cert, detail=(
            "证书记录中的姓名、身份证号、岗位、单位或日期已被改动，与签发时的验证码不符。"
            "（若实例密钥 secret.key 被更换过，所有旧证书都会这样显示。）"))
    if cert.revoked_on is not None and cert.revoked_on <= today:
        return Verification(Verdict.revoked, canonical, cert,
                            detail=f"{cert.revoked_on} 撤销，原因：{cert.revoked_reason}")
    if today < cert.valid_from:
        return Verification(Verdict.not_yet_valid, canonical, cert,
                            detail=f"自 {cert.valid_from} 起有效")
    if today > cert.valid_until:
        return Verification(Verdict.expired, canonical, cert,
                            detail=f"已于 {cert.valid_until} 到期")
    return Verification(Verdict.valid, canonical, cert, detail=f"有效至 {cert.valid_until}")


def first_certificate(session: Session) -> Certificate | None:
    """The certificate issued first (the demo verifies it)."""
    return session.scalars(select(Certificate).order_by(Certificate.id)).first()
