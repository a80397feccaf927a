"""Multipart edit inputs: `image` / repeated `image[]` parts and an optional `mask`.

Each file part needs a filename and an image content type; images decode with Pillow; the mask
is a PNG with alpha, under 4 MB, the size of the first image (reference sections 3.2-3.3).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.datastructures import FormData, UploadFile

from assetgen.catalog import ModelSpec
from assetgen.emulator import errors
from assetgen.emulator.errors import Mode

IMAGE_FIELDS = ("image", "image[]")
MASK_FIELD = "mask"
MASK_MAX_BYTES = 4 * 1024 * 1024
MIMETYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
AZURE_INPUT_FORMATS = ("png", "jpeg")


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes

    def describe(self) -> dict[str, Any]:
        """For the request log: never the bytes."""
        return {"filename": self.filename, "content_type": self.content_type, "bytes": len(self.data)}


@dataclass(frozen=True)
class EditForm:
    fields: dict[str, str]
    images: tuple[Upload, ...]
    mask: Upload | None


@dataclass(frozen=True)
class EditInputs:
    images: tuple[Image.Image, ...]
    mask: Image.Image | None


async def read_form(form: FormData) -> EditForm:
    fields: dict[str, str] = {}
    images: list[Upload] = []
    mask: Upload | None = None
    for key, value in form.multi_items():
        if key in IMAGE_FIELDS or key == MASK_FIELD:
            name = "image" if key in IMAGE_FIELDS else MASK_FIELD
            if not isinstance(value, UploadFile):
                raise errors.invalid_type(name, "one of an array of files or file" if name == "image"
                                          else "a file", "a string")
            upload = Upload(value.filename or "", value.content_type or "", await value.read())
            if name == "image":
                images.append(upload)
            else:
                mask = upload
        elif isinstance(value, UploadFile):
            raise errors.invalid_type(key, "a string", "a file")
        else:
            fields[key] = value
    return EditForm(fields, tuple(images), mask)


def check_inputs(form: EditForm, spec: ModelSpec, mode: Mode) -> EditInputs:
    limits = spec.edit_inputs
    formats = tuple(f for f in (limits.formats if limits else ("png",))
                    if mode is Mode.OPENAI or f in AZURE_INPUT_FORMATS)
    max_images = limits.max_images if limits else 1
    max_bytes = limits.max_bytes_for(mode.value) if limits else MASK_MAX_BYTES
    if not form.images:
        raise errors.missing_parameter("image")
    if len(form.images) > max_images:
        raise errors.openai_error(
            400, f"Invalid 'image': array too long. Expected an array with maximum length {max_images}, "
            f"but got an array with length {len(form.images)} instead.", param="image",
            code="array_above_max_length")
    images = tuple(_image(upload, i, formats, max_bytes) for i, upload in enumerate(form.images, 1))
    mask = _mask(form.mask, images[0].size) if form.mask is not None else None
    return EditInputs(images, mask)


def _check_mimetype(upload: Upload, param: str, formats: tuple[str, ...]) -> None:
    allowed = sorted(MIMETYPES[f] for f in formats)
    if not upload.content_type:
        raise errors.openai_error(
            400, f"Invalid file '{param}': failed to determine mimetype. Ensure you are providing the "
            "file's mimetype as part of the 'Content-Type' header.", param=param,
            code="missing_file_mimetype")
    if upload.content_type.split(";")[0].strip().lower() not in allowed:
        raise errors.openai_error(
            400, f"Invalid file '{param}': unsupported mimetype ('{upload.content_type}'). Supported file "
            f"formats are {errors.quoted_list(allowed)}.", param=param, code="unsupported_file_mimetype")


def _decode(upload: Upload, param: str, index: int) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(upload.data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise errors.openai_error(
            400, f"Invalid image file or mode for {param} {index}, please check your image file.",
            param=param, code="invalid_image_file") from None
    return img


def _image(upload: Upload, index: int, formats: tuple[str, ...], max_bytes: int) -> Image.Image:
    _check_mimetype(upload, "image", formats)
    if len(upload.data) > max_bytes:
        raise errors.openai_error(
            400, f"Invalid 'image': image {index} is {len(upload.data)} bytes; the limit is "
            f"{max_bytes} bytes.", param="image", code="image_too_large")
    img = _decode(upload, "image", index)
    if (img.format or "").lower() not in formats:
        raise errors.openai_error(
            400, f"Invalid file 'image': image {index} is {img.format}; supported formats are "
            f"{errors.quoted_list(formats)}.", param="image", code="invalid_image_format")
    return img


def _mask(upload: Upload, size: tuple[int, int]) -> Image.Image:
    _check_mimetype(upload, MASK_FIELD, ("png",))
    if len(upload.data) > MASK_MAX_BYTES:
        raise errors.openai_error(
            400, f"Invalid 'mask': the mask is {len(upload.data)} bytes; it must be under 4 MB.",
            param=MASK_FIELD, code="image_too_large")
    mask = _decode(upload, MASK_FIELD, 1)
    if mask.format != "PNG":
        raise errors.openai_error(400, f"Invalid 'mask': the mask must be a PNG image, got {mask.format}.",
                                  param=MASK_FIELD, code="invalid_image_format")
    if "A" not in mask.getbands() and "transparency" not in mask.info:
        raise errors.openai_error(400, "Invalid mask image format - mask image missing alpha channel.",
                                  param=MASK_FIELD, code="invalid_image_format")
    if mask.size != size:
        raise errors.openai_error(
            400, f"Invalid 'mask': mask size {mask.width}x{mask.height} does not match the size of the "
            f"first image {size[0]}x{size[1]}.", param=MASK_FIELD, code="invalid_mask_size")
    return mask
