"""OCR character accuracy on notices we render ourselves: ``python -m bench.ocr_accuracy``.

A notice (tests/helpers/scans.py) is drawn with a CJK font at 200 dpi, then read back the way
ingest reads a scan (bot.ingest.scans): as a PNG, as a PDF with no text layer, and as a degraded
"photocopy" (smaller type, blur, noise, a 1° tilt, JPEG). Accuracy is 1 − edit distance / length,
over the characters without whitespace. Prints one line per variant with the seconds it took.
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from PIL import ImageFilter  # noqa: E402

from bot.config import OcrSettings  # noqa: E402
from bot.ingest import scans  # noqa: E402
from tests.helpers.scans import NOTICE, STATION_NOTICE, accuracy, render  # noqa: E402


def photocopy(lines: tuple[str, ...]) -> bytes:
    image = render(lines, size=26).convert("L").rotate(1.0, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(7)
    pixels = image.load()
    assert pixels is not None
    for _ in range(image.width * image.height // 60):
        x, y = rng.randrange(image.width), rng.randrange(image.height)
        pixels[x, y] = rng.choice((0, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def main() -> int:
    settings = OcrSettings()
    total_chars = 0
    total_errors = 0.0
    for lines in (NOTICE, STATION_NOTICE):
        png = io.BytesIO()
        render(lines).save(png, "PNG")
        pdf = io.BytesIO()
        render(lines).convert("RGB").save(pdf, "PDF", resolution=200)
        variants = (
            ("png 200 dpi", scans.read_image, png.getvalue()),
            ("pdf, no text layer", scans.read_scanned_pdf, pdf.getvalue()),
            ("photocopy (jpeg, blur, noise, 1° tilt)", scans.read_image, photocopy(lines)),
        )
        for name, reader, data in variants:
            started = time.perf_counter()
            text = reader(data, settings).text
            seconds = time.perf_counter() - started
            acc = accuracy(text, lines)
            chars = len("".join("".join(lines).split()))
            total_chars += chars
            total_errors += (1 - acc) * chars
            print(f"{lines[0][:14]}… | {name}: {acc:.1%} of {chars} characters, {seconds:.1f} s")
    print(f"all: {1 - total_errors / total_chars:.2%} character accuracy over {total_chars} characters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
