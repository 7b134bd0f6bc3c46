"""What a file's own reader does not find: the staff's sidecar, and an issued date from the 落款 or the properties.

:func:`complete` runs once per file, after its reader (:mod:`bot.ingest.loaders`): a date is looked
for only when the front matter gave none (the 落款 in the text first, then the Word/PDF
properties), and a sidecar ``<file>.meta.yaml`` (:mod:`bot.folder`) overrides whatever the file
says, since a clerk wrote it on purpose.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot import folder, staff_messages
from bot.errors import SkipFile
from bot.ingest import dates
from bot.ingest.markdown import Parsed


def complete(parsed: Parsed, path: Path, data: bytes, fmt: str) -> Parsed:
    """``parsed`` with the issued date filled in when it can be found, and the sidecar applied."""
    if not parsed.issued:
        issued = dates.from_text(parsed.text)
        if not issued and fmt == "docx":
            issued = dates.from_docx(data)
        elif not issued and fmt == "pdf":
            issued = dates.from_pdf(data)
        parsed = dataclasses.replace(parsed, issued=issued)
    try:
        sidecar = folder.read_sidecar(path)
    except folder.SidecarError as exc:
        raise SkipFile(
            staff_messages.SKIP_BAD_SIDECAR.format(name=folder.sidecar_of(path).name, detail=exc)
        ) from None
    if sidecar is None:
        return parsed
    given = {k: v for k, v in dataclasses.asdict(sidecar).items() if v is not None}
    return dataclasses.replace(parsed, **given)
