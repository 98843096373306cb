"""The API router every app registers its viewsets on (/api/v1/)."""
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash=True)
