"""Placeholder while the multipart plugin is written."""

from pristine_core.plugins import ENCODING


class MultipartPlugin:
    """streamed multipart/form-data request bodies and file utilities."""

    name = "multipart"
    priority = ENCODING
