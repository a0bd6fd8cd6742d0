"""The demo shop's URLs plus the two extra views the serving benchmark compares against."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cart_recommender.api.bundles import BundleView
from demo_shop.urls import urlpatterns as shop_urlpatterns


class BareView(APIView):
    """The floor: a DRF view that answers a constant, through the same middleware and auth."""

    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True, "items": []})


class StateView(APIView):
    """Which worker answered, the version it serves, and whether its candidate lists and the
    display data of its catalog snapshot are ready."""

    permission_classes = [AllowAny]

    def get(self, request):
        import os

        from cart_recommender.serving import catalog
        from cart_recommender.serving import state as serving_state

        state = serving_state.get_state()
        table = state.table
        return Response(
            {
                "pid": os.getpid(),
                "version": state.label,
                "table_complete": bool(table is not None and table.complete),
                "displays_complete": catalog.get_snapshot().displays_complete,
            }
        )


class UncachedBundleView(BundleView):
    """The bundle endpoint with the result cache bypassed: every answer computed afresh."""

    use_cache = False


urlpatterns = [
    path("bench/bare/", BareView.as_view()),
    path("bench/bundles-uncached/", UncachedBundleView.as_view()),
    path("bench/state/", StateView.as_view()),
    *shop_urlpatterns,
]
