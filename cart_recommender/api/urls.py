"""REST endpoints (DRF). Included by cart_recommender.urls under ``api/``."""

from django.urls import path

from cart_recommender.api.bundles import BoughtTogetherView, BundleView, MyCartBundleView
from cart_recommender.api.docs import RedocDocsView, SchemaView, SwaggerDocsView
from cart_recommender.api.ingest import IngestEventsView
from cart_recommender.api.performance import ExperimentResultView, PerformanceView
from cart_recommender.api.privacy import ExportShopperView, ForgetShopperView
from cart_recommender.api.segments import SegmentListView

urlpatterns: list = [
    path("events/", IngestEventsView.as_view(), name="events-ingest"),
    path("bundles/", BundleView.as_view(), name="bundle"),
    path("bundles/my-cart/", MyCartBundleView.as_view(), name="bundle-my-cart"),
    path("products/<str:product_id>/bought-together/", BoughtTogetherView.as_view(), name="bought-together"),
    path("shoppers/forget/", ForgetShopperView.as_view(), name="shopper-forget"),
    path("shoppers/export/", ExportShopperView.as_view(), name="shopper-export"),
    path("performance/", PerformanceView.as_view(), name="performance"),
    path("experiments/<str:experiment_id>/results/", ExperimentResultView.as_view(),
         name="experiment-results"),
    path("segments/", SegmentListView.as_view(), name="segments"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerDocsView.as_view(), name="api-docs"),
    path("redoc/", RedocDocsView.as_view(), name="api-redoc"),
]
