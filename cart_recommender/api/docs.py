"""The OpenAPI 3 schema and its docs pages, with Swagger UI and Redoc served locally.

drf-spectacular's pages load their JavaScript from a CDN by default, which fails offline and
on locked-down networks; these views use the copies shipped by ``drf-spectacular-sidecar``
(add ``"drf_spectacular_sidecar"`` to ``INSTALLED_APPS`` so its static files are found).

The three views describe themselves with :class:`~cart_recommender.api.schema.AppAutoSchema`
and leave themselves out of the document, whatever the host's ``DEFAULT_SCHEMA_CLASS``: in a
shop that kept DRF's own, drf-spectacular's views would otherwise break the schema page.
"""

from __future__ import annotations

from typing import Any

from django.templatetags.static import static
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response

from cart_recommender.api.schema import AppAutoSchema, describe


def _sidecar(path: str) -> str:
    return static(f"drf_spectacular_sidecar/{path}")


class SchemaView(SpectacularAPIView):
    """``GET api/schema/``: the OpenAPI 3 document (YAML, or JSON with ``?format=json``)."""

    schema = AppAutoSchema()

    @describe(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SwaggerDocsView(SpectacularSwaggerView):
    url_name = "cart_recommender:schema"
    schema = AppAutoSchema()

    @describe(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return _sidecar(f"swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return _sidecar("swagger-ui-dist/favicon-32x32.png")


class RedocDocsView(SpectacularRedocView):
    url_name = "cart_recommender:schema"
    schema = AppAutoSchema()

    @describe(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @staticmethod
    def _redoc_standalone() -> str:
        return _sidecar("redoc/bundles/redoc.standalone.js")
