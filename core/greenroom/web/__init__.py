"""The portal's web application (internal: use ``greenroom serve`` or ``create_app``)."""

from ._app import create_app

__all__ = ["create_app"]
