"""Text recognition (OCR) of scanned notices: PDFs without a text layer and .jpg/.png scans, offline.

Bureaus receive notices mostly as scans. RapidOCR (the ``rapidocr-onnxruntime`` wheel, which
ships its PP-OCR detection, direction and recognition models and runs them with onnxruntime)
reads each page; pypdfium2 renders a PDF page at ``[ocr] dpi``. Recognised boxes are put back
into lines (top to bottom, left to right) and a line that runs to the right margin without
closing punctuation is joined to the next, so a wrapped sentence is one sentence again. The
result is marked ``ocr`` so answers say their source was recognised from a scan.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import staff_messages
from bot.config import OcrSettings
from bot.errors import SkipFile
from bot.ingest.markdown import Parsed

logger = logging.getLogger(__name__)

MAX_PIXELS = 60_000_000  # a larger image is refused (a decompression bomb, or a poster no one can read)
TITLE_CHARS = 40  # a first line this short names the notice
WRAP_SHARE = 0.85  # a line reaching this share of the widest line's right edge continues on the next
_CLOSING = tuple("。！？；：:;!?）)】」”")

_engine_lock = threading.Lock()
_engines: dict[int, Any] = {}


@dataclass(frozen=True)
class _Box:
    text: str
    left: float
    right: float
    top: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def _engine(settings: OcrSettings) -> Any:
    """One RapidOCR per thread count per process (loading its models takes a moment)."""
    with _engine_lock:
        engine = _engines.get(settings.threads)
        if engine is None:
            from rapidocr_onnxruntime import RapidOCR

            for name in ("OrtInferSession", "RapidOCR"):  # its own loggers print every model load
                logging.getLogger(name).setLevel(logging.WARNING)
            threads = settings.threads if settings.threads > 0 else -1
            engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, print_verbose=False)
            _engines[settings.threads] = engine
        return engine


def recognise(image: Any, settings: OcrSettings) -> list[str]:
    """The text lines of one page image (a PIL image), top to bottom."""
    import numpy as np

    rgb = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR reads arrays as OpenCV does: BGR
    found, _ = _engine(settings)(rgb)
    boxes = [
        _Box(
            text=str(text).strip(),
            left=min(p[0] for p in points),
            right=max(p[0] for p in points),
            top=min(p[1] for p in points),
            bottom=max(p[1] for p in points),
        )
        for points, text, score in (found or [])
        if float(score) >= settings.min_score and str(text).strip()
    ]
    return _paragraphs(_lines(boxes))


def _lines(boxes: Sequence[_Box]) -> list[list[_Box]]:
    """Boxes grouped into lines: a box whose middle lies within a line's height joins that line."""
    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        if lines:
            last = lines[-1]
            top = min(b.top for b in last)
            bottom = max(b.bottom for b in last)
            if top <= box.middle <= bottom:
                last.append(box)
                continue
        lines.append([box])
    return [sorted(line, key=lambda b: b.left) for line in lines]


def _paragraphs(lines: list[list[_Box]]) -> list[str]:
    """One string per paragraph: wrapped lines (reaching the right margin, no closing mark) joined."""
    if not lines:
        return []
    right = max(b.right for line in lines for b in line)
    left = min(b.left for line in lines for b in line)
    width = max(right - left, 1.0)
    out: list[str] = []
    joining = False
    for line in lines:
        text = " ".join(b.text for b in line)
        if joining and out:
            out[-1] += text
        else:
            out.append(text)
        reaches = (max(b.right for b in line) - left) / width >= WRAP_SHARE
        joining = reaches and not text.endswith(_CLOSING)
    return out


def _parsed(pages: list[list[str]]) -> Parsed:
    """The recognised pages as text; a short first line is the notice's title (and its heading)."""
    pages = [lines for lines in pages if lines]
    if not pages:
        raise SkipFile(staff_messages.SKIP_OCR_NOTHING)
    first = pages[0][0]
    title = first if len(first) <= TITLE_CHARS else ""
    if title:
        pages[0] = ["# " + title, *pages[0][1:]]
    return Parsed(text="\n\n".join("\n".join(lines) for lines in pages), title=title, ocr=True)


def _open_image(data: bytes) -> Any:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
        if width * height > MAX_PIXELS:
            raise SkipFile(staff_messages.SKIP_IMAGE_TOO_LARGE.format(width=width, height=height))
        image = Image.open(io.BytesIO(data))
        return ImageOps.exif_transpose(image)  # a phone photo taken sideways
    except SkipFile:
        raise
    except Exception as exc:  # PIL raises many types for a damaged or mislabelled file
        logger.info("cannot open image: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_IMAGE) from exc


def read_image(data: bytes, settings: OcrSettings) -> Parsed:
    """A .jpg/.png scan of a notice."""
    if not settings.enabled:
        raise SkipFile(staff_messages.SKIP_OCR_DISABLED)
    return _parsed([recognise(_open_image(data), settings)])


def read_scanned_pdf(data: bytes, settings: OcrSettings) -> Parsed:
    """A PDF whose pages are pictures: every page rendered and recognised."""
    if not settings.enabled:
        raise SkipFile(staff_messages.SKIP_NO_TEXT_PDF)
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # pdfium raises PdfiumError for damaged or locked files
        logger.info("pdfium cannot open pdf: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_PDF) from exc
    try:
        if len(document) > settings.max_pages:
            raise SkipFile(
                staff_messages.SKIP_OCR_TOO_MANY_PAGES.format(pages=len(document), limit=settings.max_pages)
            )
        pages: list[list[str]] = []
        for number in range(len(document)):
            try:
                page = document[number]
            except pdfium.PdfiumError as exc:  # the page tree names a page the file does not hold
                logger.info("pdfium cannot load page %d: %r", number + 1, exc)
                raise SkipFile(staff_messages.SKIP_CORRUPT_PDF) from exc
            try:
                image = page.render(scale=settings.dpi / 72).to_pil()
            finally:
                page.close()
            pages.append(recognise(image, settings))
            logger.info("recognised page %d of %d", number + 1, len(document))
    finally:
        document.close()
    return _parsed(pages)


def read(fmt: str, data: bytes, reader: Any, settings: OcrSettings) -> Parsed:
    """Read ``data`` with its format's reader; a scan (an image, a PDF without text) by recognition."""
    if fmt == "image":
        return read_image(data, settings)
    try:
        parsed: Parsed = reader(data)
    except SkipFile as exc:
        if fmt == "pdf" and exc.reason == staff_messages.SKIP_NO_TEXT_PDF:
            return read_scanned_pdf(data, settings)
        raise
    return parsed
