"""The OpenAPI 3 schema and its docs pages, with Swagger UI and Redoc served locally.

drf-spectacular's pages load their JavaScript from a CDN by default, which fails offline and
on locked-down networks; these views use the copies shipped by ``drf-spectacular-sidecar``
(add ``"drf_spectacular_sidecar"`` to ``INSTALLED_APPS`` so its static files are found).
"""

from __future__ import annotations

from django.templatetags.static import static
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView


def _sidecar(path: str) -> str:
    return static(f"drf_spectacular_sidecar/{path}")


@extend_schema_view(get=extend_schema(exclude=True))  # the document does not describe itself
class SchemaView(SpectacularAPIView):
    """``GET api/schema/``: the OpenAPI 3 document (YAML, or JSON with ``?format=json``)."""


class SwaggerDocsView(SpectacularSwaggerView):
    url_name = "cart_recommender:schema"

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return _sidecar(f"swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return _sidecar("swagger-ui-dist/favicon-32x32.png")


class RedocDocsView(SpectacularRedocView):
    url_name = "cart_recommender:schema"

    @staticmethod
    def _redoc_standalone() -> str:
        return _sidecar("redoc/bundles/redoc.standalone.js")
