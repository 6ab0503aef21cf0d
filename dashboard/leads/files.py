"""The files an email lists under its body, each under the name the viewer sees.

The rule of what is listed and how a nameless file is named is `dashboard/mail/files.py`;
this module gives it the viewer's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from dashboard.mail.files import extension, listed_files
from dashboard.models import Attachment


@dataclass(frozen=True, slots=True)
class ListedFile:
    """An attachment as listed: the row, and the name shown and downloaded."""

    attachment: Attachment
    name: str

    @property
    def id(self) -> int:
        """The attachment's id (its download URL)."""
        return self.attachment.id

    @property
    def content_type(self) -> str:
        """The type as stored."""
        return self.attachment.content_type

    @property
    def file_size(self) -> int:
        """The decoded size."""
        return self.attachment.file_size


def nameless_stem(content_type: str, number: int) -> str:
    """The start of a nameless file's name, from its kind: "imagem-1", "anexo-2"."""
    if content_type.lower().startswith("image/"):
        return _("image-%(number)s", number=number)
    return _("attachment-%(number)s", number=number)


def files_of(body_html: str, attachments: list[Attachment]) -> list[ListedFile]:
    """The email's files to list, in the order of the message (the order they were stored)."""
    ordered = sorted(attachments, key=lambda item: item.id)
    return [
        ListedFile(item, name) for item, name in listed_files(ordered, body_html, nameless_stem)
    ]


def name_of(item: Attachment, body_html: str, siblings: list[Attachment]) -> str:
    """The name to download a file under: as listed, or (an image the body shows, which is
    not listed) its own name or one made from its type."""
    listed = {file.id: file.name for file in files_of(body_html, siblings)}
    own = item.filename.strip()
    return (
        listed.get(item.id)
        or own
        or nameless_stem(item.content_type, 1) + extension(item.content_type)
    )
