"""Messages between a grading worker and its judge: length-prefixed JSON over a socket,
capped in size, so a broken or hostile peer ends in `JudgeFailed`, never in a hang or a
huge allocation."""

from __future__ import annotations

import json
import socket
import struct

MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct("!I")


class JudgeFailed(RuntimeError):
    """The judge process died, hung or broke the protocol."""


def send(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message, ensure_ascii=True).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise JudgeFailed("连接已断开")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> dict:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE:
        raise JudgeFailed("消息过大")
    message = json.loads(_recv_exact(sock, size))
    if not isinstance(message, dict):
        raise JudgeFailed("消息格式错误")
    return message
