"""Hostile spreadsheets, built small: zip bombs written by hand (a member can be a
pre-deflated gigabyte), sparse and repeated sheets. Used by tests/test_bounded_input.py."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
    "_rels/.rels": (
        f'<?xml version="1.0"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" '
        f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" '
        f'Type="{DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
        f'Type="{DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
}
SST_HEAD = f'<?xml version="1.0"?><sst xmlns="{MAIN}">'.encode()


def sheet(cells: str) -> str:
    return (f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><dimension ref="A1"/>'
            f"<sheetData>{cells}</sheetData></worksheet>")


def deflated(data: bytes) -> tuple[bytes, int, int]:
    pack = zlib.compressobj(9, zlib.DEFLATED, -15)
    return pack.compress(data) + pack.flush(), zlib.crc32(data), len(data)


def deflated_repeat(head: bytes, chunk: bytes, times: int, tail: bytes) -> tuple[bytes, int, int]:
    """`head + chunk * times + tail`, deflated without ever holding it: after a full flush
    the compressor starts afresh, so the chunk's compressed block can simply be repeated."""
    pack = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = pack.compress(head) + pack.flush(zlib.Z_FULL_FLUSH)
    block = pack.compress(chunk) + pack.flush(zlib.Z_FULL_FLUSH)
    last = pack.compress(tail) + pack.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    return (first + block * times + last, zlib.crc32(tail, crc),
            len(head) + len(chunk) * times + len(tail))


def write_zip(path: Path, members: dict[str, str | tuple[bytes, int, int]]) -> Path:
    """A zip written by hand (so a member can be a pre-deflated bomb)."""
    body, central = bytearray(), bytearray()
    for name, member in members.items():
        data, crc, size = deflated(member.encode()) if isinstance(member, str) else member
        raw, offset = name.encode(), len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size,
                            len(raw), 0) + raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                               len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(body), 0)
    path.write_bytes(bytes(body + central + end))
    return path


def shared_strings_bomb(path: Path) -> Path:
    """About 4 MB on disk; its shared strings inflate to 1 GB of ordinary short names."""
    item = ("<si><t>" + "张三" * 20 + "</t></si>").encode()
    chunk = item * ((1 << 20) // len(item))
    return write_zip(path, {**PARTS, "xl/worksheets/sheet1.xml": sheet(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
        "xl/sharedStrings.xml": deflated_repeat(SST_HEAD, chunk, 1024, b"</sst>")})


def one_long_string(path: Path) -> Path:
    """One shared string of 64 MB: a single cell no spreadsheet could hold."""
    return write_zip(path, {**PARTS, "xl/worksheets/sheet1.xml": sheet(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
        "xl/sharedStrings.xml": deflated_repeat(SST_HEAD + b"<si><t>", b"A" * (1 << 20), 64,
                                                b"</t></si></sst>")})


def sparse_sheet(path: Path) -> Path:
    """Two cells, A1 and ZZ20000: 2 KB that a reader fills as a 14-million-cell grid."""
    return write_zip(path, {**PARTS, "xl/worksheets/sheet1.xml": sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
        '<row r="20000"><c r="ZZ20000" t="inlineStr"><is><t>x</t></is></c></row>'),
        "xl/sharedStrings.xml": SST_HEAD.decode() + "</sst>"})


def unreferenced_cells(path: Path) -> Path:
    """Cells without references, placed one after another: 20,000 columns wide."""
    return write_zip(path, {**PARTS, "xl/worksheets/sheet1.xml": sheet(
        "<row>" + "<c/>" * 20_000 + '<c t="inlineStr"><is><t>x</t></is></c></row>'),
        "xl/sharedStrings.xml": SST_HEAD.decode() + "</sst>"})


ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def ods(path: Path, rows: str) -> Path:
    """An OpenDocument spreadsheet with the given <table:table-row>s."""
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODS_NS} '
               'office:version="1.2"><office:body><office:spreadsheet>'
               f'<table:table table:name="Sheet1">{rows}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
            'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
            'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
            'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
            'manifest:media-type="text/xml"/></manifest:manifest>'))
    return path


def ods_row(*texts: str, repeat: int = 1, cols: int = 1) -> str:
    cells = "".join(f'<table:table-cell table:number-columns-repeated="{cols}" '
                    f'office:value-type="string"><text:p>{t}</text:p></table:table-cell>'
                    for t in texts)
    return f'<table:table-row table:number-rows-repeated="{repeat}">{cells}</table:table-row>'


def repeated_ods(path: Path) -> Path:
    """1 KB: one string repeated over 20,000 rows × 1,000 columns."""
    return ods(path, ods_row("x", repeat=20_000, cols=1_000))
