"""From response bytes to text: the two checks Scrapy's decoding leaves to us.

Scrapy (w3lib) picks the encoding BOM > Content-Type charset > ``<meta charset>`` > detection,
and never looks back: a UTF-8 page served as ``charset=windows-1251`` becomes mojibake
("РљРёС—РІ"), a windows-1251 page served as ``charset=utf-8`` becomes U+FFFD. Both happen on
Ukrainian and Russian sites. When the bytes prove the declared encoding wrong, a better one is
chosen here; the normalise pipeline then repairs what is left at the text level.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from scrapy.http import TextResponse
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

# Signatures of formats that are never a web page, whatever the Content-Type says.
BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # zip, docx, xlsx
    b"\x1f\x8b",  # gzip that nobody declared
    b"BZh",
    b"\xfd7zXZ\x00",
    b"Rar!\x1a\x07",
    b"\x7fELF",
    b"MZ",
    b"RIFF",  # webp, wav, avi
    b"\x00\x00\x00\x18ftyp",
    b"\x00\x00\x00\x20ftyp",
    b"OggS",
    b"ID3",
)
SNIFF_BYTES = 2048
# Share of bytes in the sniffed head that are control bytes a text never holds (NUL, 0x01-0x08,
# 0x0E-0x1A...). UTF-16 pages are recognised by their BOM before this test.
BINARY_CONTROL_SHARE = 0.1
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
# A declared encoding is wrong when it turns this share of the non-ASCII bytes into U+FFFD.
UNDECODABLE_SHARE = 0.3
_HIGH_BYTES = bytes(range(0x80, 0x100))


def looks_binary(body: bytes) -> bool:
    """True for bytes no HTML page starts with: a known file signature or many control bytes."""
    head = body[:SNIFF_BYTES].lstrip()
    if not head or read_bom(body)[0] is not None:
        return False
    if head.startswith(BINARY_MAGIC):
        return True
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    return controls / len(head) > BINARY_CONTROL_SHARE


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _undecodable_share(body: bytes, encoding: str) -> float:
    """U+FFFD the encoding produces per non-ASCII byte (0 for a pure ASCII body)."""
    non_ascii = len(body) - len(body.translate(None, _HIGH_BYTES))
    if not non_ascii:
        return 0.0
    text = body.decode(encoding, errors="replace")
    return text.count("\ufffd") / non_ascii


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def better_encoding(response: TextResponse) -> str | None:
    """An encoding that fits the bytes better than the one Scrapy chose, or None to keep it.

    Two cases, each proved by the bytes: a body that is valid UTF-8 with non-ASCII bytes while
    a single-byte charset was declared (windows-1251 text is never valid UTF-8 by accident);
    and a declared encoding that garbles most non-ASCII bytes, replaced by the page's
    ``<meta charset>`` or, failing that, detection, when that decodes the body cleanly.
    A BOM is never overruled.
    """
    body = response.body
    if read_bom(body)[0] is not None:
        return None
    current = response.encoding
    if not _is_utf8(current) and not body.isascii() and _decodes(body, "utf-8"):
        return "utf-8"
    if _decodes(body, current) or _undecodable_share(body, current) < UNDECODABLE_SHARE:
        return None
    candidates: list[str] = []
    if declared := html_body_declared_encoding(body):
        candidates.append(declared)
    match = from_bytes(body[: 64 * 1024]).best()
    if match is not None and (detected := resolve_encoding(match.encoding)):
        candidates.append(detected)
    return next((c for c in candidates if c != current and _decodes(body, c)), None)
