"""The files of a message: names read from a part's own MIME header when BODYSTRUCTURE has
none, malformed types listed as opaque files, and which files the body lists."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dashboard.mail.files import listed_files, name_from_header, with_header_names
from dashboard.mail.mime import Part, walk_bodystructure


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (b'Content-Type: pdf; name="relatorio.pdf"\r\n\r\n', "relatorio.pdf"),
        (
            b"Content-Type: application/pdf;; name*=UTF-8''rel%C3%A1torio.pdf\r\n\r\n",
            "relátorio.pdf",
        ),
        (b'Content-Type: pdf; name="=?UTF-8?Q?rel=C3=A1torio.pdf?="\r\n\r\n', "relátorio.pdf"),
        ('Content-Type: pdf; name="relátorio.pdf"\r\n\r\n'.encode(), "relátorio.pdf"),
        (b'Content-Type: pdf; name*0="rel"; name*1="atorio.pdf"\r\n\r\n', "relatorio.pdf"),
        (b'Content-Type: application/pdf name="x.pdf"\r\n\r\n', "x.pdf"),  # ";" missing
        (b"Content-Disposition: attachment; filename=nota.txt\r\n\r\n", "nota.txt"),
        (b"Content-Type: image/png\r\nContent-ID: <a@b>\r\n\r\n", None),
        (b"Content-Type: pdf; name=\x00\r\n\r\n", None),
        (b"", None),
        (b"\xff\xfe garbage", None),
    ],
)
def test_a_name_is_read_from_the_part_header(header: bytes, name: str | None) -> None:
    assert name_from_header(header) == name


def test_only_nameless_attachments_take_a_name_from_their_header() -> None:
    named = Part("2", "application/pdf", None, "base64", 9, "a.pdf", None, False)
    nameless = Part("3", "application/octet-stream", None, "base64", 9, None, None, False)
    headers = {
        "2.MIME": b'Content-Type: pdf; name="other.pdf"\r\n\r\n',
        "3.MIME": b'Content-Type: pdf; name="b.pdf"\r\n\r\n',
    }
    assert [p.filename for p in with_header_names((named, nameless), headers)] == ["a.pdf", "b.pdf"]
    assert with_header_names((nameless,), {}) == (nameless,)


def leaf(main: bytes, sub: bytes, disposition: object = None) -> tuple:
    """A non-text BODYSTRUCTURE leaf as Dovecot gives it."""
    return (main, sub, None, None, None, b"base64", 8, None, disposition, None, None)


PLAIN = (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", 5, 1, None, None, None)
RFC2231 = (b"attachment", (b"filename*", b"UTF-8''rel%C3%A1torio.pdf"))


@pytest.mark.parametrize(
    ("main", "sub", "disposition", "filename"),
    [
        (b"pdf", b"", RFC2231, "relátorio.pdf"),  # "Content-Type: pdf"
        (b"", b"", RFC2231, "relátorio.pdf"),  # "Content-Type: application pdf"
        (b"", b"", None, None),  # "Content-Type: pdf; name=x": the server dropped the name
        (b"application", b"pdf;x", None, None),
        (None, None, None, None),
    ],
)
def test_a_part_whose_type_cannot_be_read_is_an_opaque_attachment(
    main: bytes, sub: bytes, disposition: object, filename: str | None
) -> None:
    text, html, attachments = walk_bodystructure(([PLAIN, leaf(main, sub, disposition)], b"mixed"))
    assert [p.section for p in text] == ["1"] and html == ()
    [attachment] = attachments
    assert (attachment.content_type, attachment.filename) == ("application/octet-stream", filename)


@dataclass
class Row:
    """An attachment row, as far as listing is concerned."""

    filename: str
    content_type: str
    content_id: str | None = None


def stem(content_type: str, number: int) -> str:
    """Nameless files named as the lead page names them in English."""
    return f"{'image' if content_type.startswith('image/') else 'attachment'}-{number}"


LOGO = Row("", "image/png", "<Logo.1@Acme>")
SPARE = Row("", "image/jpeg", "<spare@acme>")
VECTOR = Row("", "image/svg+xml", "<vector@acme>")
PDF = Row("proposta.pdf", "application/pdf")
OLD = Row("attachment", "application/octet-stream")  # what the sync stored before
HTML = '<p><img src="cid:logo.1@acme"><img src=cid:vector@acme alt=x></p> cid:spare@acme'


@pytest.mark.parametrize(
    ("rows", "html", "names"),
    [
        ([LOGO, PDF], HTML, ["proposta.pdf"]),
        ([LOGO, PDF], "<p>no images</p>", ["image-1.png", "proposta.pdf"]),
        ([LOGO, SPARE, OLD, PDF], HTML, ["image-1.jpg", "attachment-2.bin", "proposta.pdf"]),
        ([VECTOR], HTML, ["image-1.svg"]),  # never shown inline, so always listed
        ([Row("", "application/x-unknown-thing")], "", ["attachment-1"]),
        ([Row("  nota.txt ", "text/plain", "<logo.1@acme>")], HTML, ["nota.txt"]),
    ],
)
def test_the_body_lists_every_file_it_does_not_show_under_a_real_name(
    rows: list[Row], html: str, names: list[str]
) -> None:
    assert [name for _, name in listed_files(rows, html, stem)] == names
