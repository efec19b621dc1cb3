"""Photo processing for listings (Pillow): check the type and size, then produce a resized
JPEG and a square thumbnail. Only what Pillow itself recognises as JPEG, PNG or WebP is
accepted; the browser's content type and the file name are never trusted."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from neighborbid.errors import InvalidRequest

MAX_PHOTOS = 10
MAX_BYTES = 10 * 1024 * 1024  # per file, before processing
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAIN_SIZE = 1280  # longest side of the stored photo
THUMB_SIZE = 400  # square thumbnail for lists


class InvalidImage(InvalidRequest):
    code = "invalid_image"
    message = "사진은 10MB 이하의 JPG, PNG, WEBP 파일만 올릴 수 있어요."


@dataclass(frozen=True)
class ProcessedImage:
    image: ContentFile
    thumbnail: ContentFile


def _jpeg(img: Image.Image, name: str) -> ContentFile:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=85, optimize=True, progressive=True)
    return ContentFile(buffer.getvalue(), name=name)


def _rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    return img.convert("RGB")


def process_upload(upload) -> ProcessedImage:
    """Validate one uploaded file and return the resized photo and its thumbnail."""
    label = getattr(upload, "name", "") or "사진"
    size = getattr(upload, "size", None)
    if size is None or size <= 0:
        raise InvalidImage(f"'{label}'은(는) 빈 파일이에요.")
    if size > MAX_BYTES:
        raise InvalidImage(f"'{label}' 파일이 너무 커요. 사진은 10MB 이하만 올릴 수 있어요.")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in ALLOWED_FORMATS:
                raise InvalidImage(f"'{label}'은(는) 지원하지 않는 형식이에요. JPG, PNG, WEBP만 올릴 수 있어요.")
            if width * height > MAX_PIXELS:
                raise InvalidImage(f"'{label}' 사진의 해상도가 너무 커요.")
            probe.verify()  # structural check; the image must be reopened after verify()
        upload.seek(0)
        with Image.open(upload) as opened:
            if opened.format == "JPEG":
                # Decode big JPEGs at a reduced scale: far less memory for a 50 MP phone photo.
                opened.draft("RGB", (MAIN_SIZE * 2, MAIN_SIZE * 2))
            opened.load()
            img = _rgb(ImageOps.exif_transpose(opened))
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"'{label}'은(는) 사진 파일이 아니거나 손상됐어요.") from exc
    finally:
        try:
            upload.seek(0)
        except (OSError, ValueError):
            pass

    main = img.copy()
    main.thumbnail((MAIN_SIZE, MAIN_SIZE), Image.Resampling.LANCZOS)
    thumb = ImageOps.fit(img, (THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    stem = uuid.uuid4().hex[:12]
    return ProcessedImage(image=_jpeg(main, f"{stem}.jpg"), thumbnail=_jpeg(thumb, f"{stem}_t.jpg"))
