from django.urls import path

from demo_shop.shop import views

app_name = "shop"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("product/<str:sku>/", views.product, name="product"),
    path("cart/", views.cart, name="cart"),
    path("cart/add-many/", views.cart_add_many, name="cart_add_many"),
]
