"""JSON errors for every API failure: `{"detail": ...}` or `{"field": ["message"]}`, never a stack trace."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def _django_validation_to_drf(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()})
    return ValidationError({"detail": exc.messages})


def json_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, ProtectedError):
        names = sorted({obj._meta.verbose_name_plural for obj in list(exc.protected_objects)[:50]})
        return Response(
            {"detail": f"This object is still referenced by {', '.join(map(str, names))}; remove those first."},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, IntegrityError):
        logger.info("Integrity error turned into 409: %s", exc.__class__.__name__)
        return Response(
            {"detail": "This conflicts with an existing object (a unique value is already taken)."},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, RequestDataTooBig):
        return Response({"detail": "The request body is too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, SuspiciousOperation):
        # Raised while parsing the body (too many fields or files, a malformed multipart body...): the
        # request's fault. Django would answer 400 for it; DRF leaves it unhandled (a 500).
        logger.info("Suspicious request refused with 400: %s", exc.__class__.__name__)
        return Response({"detail": "The request is malformed or exceeds the server's limits "
                         f"({exc.__class__.__name__})."}, status=status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, DataError):
        # A value the database refuses (a time zone offset beyond ±15:59, a number out of range...): the
        # request's input, not a server fault. The statement failed alone (autocommit), nothing was written.
        logger.info("Database refused a value, answered 400: %s", exc.__class__.__name__)
        return Response(
            {"detail": "A value in the request is out of the range the database accepts."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, DjangoPermissionDenied) and exc.__class__.__module__.startswith("axes"):
        return Response({"detail": "Too many failed sign-ins. Try again later."}, status=429)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # A bare list of messages (e.g. DRF's search box refusing a NUL character): errors are always an object.
        response.data = {"detail": response.data}
    return response
