"""The base of the app's REST views: JSON in, JSON out, one schema class, whatever the host says.

A shop's ``REST_FRAMEWORK`` settings (renderers, parsers, the schema class) are for its own API;
the app's endpoints answer JSON only (no browsable HTML pages), read JSON only (with the depth
limit of :mod:`cart_recommender.api.inputs`) and describe themselves with
:class:`~cart_recommender.api.schema.AppAutoSchema`, so they behave as documented in any shop.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from cart_recommender.api.inputs import BoundedJSONParser
from cart_recommender.api.schema import AppAutoSchema


class AppAPIView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    schema = AppAutoSchema()


class StaffWith(BasePermission):
    """Staff accounts that hold the view's ``required_permission``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        self.message = f"This endpoint is for staff with the {view.required_permission} permission."
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff
                    and user.has_perm(view.required_permission))
