"""Tiny images in the colour modes the real dataset has (grayscale and CMYK JPEGs), for the
decoder tests: 8×6 pixels, left half one colour and right half another. Run with Pillow installed:
python3 scripts/make_image_fixtures.py (writes test/fixtures/images/)."""
from pathlib import Path

from PIL import Image

out = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "images"
out.mkdir(parents=True, exist_ok=True)

gray = Image.new("L", (8, 6))
gray.paste(40, (0, 0, 4, 6))
gray.paste(200, (4, 0, 8, 6))
gray.save(out / "gray.jpg", quality=100)

# CMYK (0, 255, 255, 0) is red and (255, 255, 0, 0) blue before any ICC handling.
cmyk = Image.new("CMYK", (8, 6))
cmyk.paste((0, 255, 255, 0), (0, 0, 4, 6))
cmyk.paste((255, 255, 0, 0), (4, 0, 8, 6))
cmyk.save(out / "cmyk.jpg", quality=100)

rgba = Image.new("RGBA", (8, 6), (0, 128, 0, 255))
rgba.paste((255, 255, 255, 0), (4, 0, 8, 6))
rgba.save(out / "rgba.png")
