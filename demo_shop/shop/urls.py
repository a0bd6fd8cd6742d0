from django.urls import path

from demo_shop.shop import views

app_name = "shop"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("product/<str:sku>/", views.product, name="product"),
    path("product/<str:sku>/add/", views.cart_add, name="cart_add"),
    path("cart/", views.cart, name="cart"),
    path("cart/add-many/", views.cart_add_many, name="cart_add_many"),
    path("cart/<int:pk>/quantity/", views.cart_update, name="cart_update"),
    path("cart/<int:pk>/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("order/<int:pk>/", views.order, name="order"),
]
