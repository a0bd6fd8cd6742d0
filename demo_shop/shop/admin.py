"""Staff screens for the catalog and the orders."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Count

from cart_recommender.admin.privacy import forget_users
from demo_shop.shop.models import Order, OrderLine, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "price", "stock", "is_active")
    list_display_links = ("sku", "name")
    list_editable = ("price", "stock", "is_active")
    list_filter = ("is_active", "category")
    search_fields = ("sku", "name")
    list_per_page = 50
    actions = ("take_off_sale", "put_on_sale")

    @admin.action(description="Take the selected products off sale")
    def take_off_sale(self, request, queryset):
        updated = queryset.update(is_active=False)
        self.message_user(request, f"{updated} product(s) taken off sale.")

    @admin.action(description="Put the selected products on sale")
    def put_on_sale(self, request, queryset):
        updated = queryset.update(is_active=True)
        self.message_user(request, f"{updated} product(s) put on sale.")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ("product", "quantity", "unit_price", "line_total")
    readonly_fields = ("line_total",)
    autocomplete_fields = ("product",)

    @admin.display(description="line total")
    def line_total(self, line):
        return line.line_total if line.pk else "-"


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "created_at", "email", "user", "line_count", "total")
    list_select_related = ("user",)
    search_fields = ("email", "user__username")
    date_hierarchy = "created_at"
    readonly_fields = ("number", "created_at", "session_key")
    fields = ("number", "created_at", "user", "email", "session_key", "total")
    inlines = (OrderLineInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_line_count=Count("lines"))

    @admin.display(description="order", ordering="pk")
    def number(self, order):
        return order.number

    @admin.display(description="lines", ordering="_line_count")
    def line_count(self, order):
        return order._line_count


# The shop's users, with the recommender's "forget their behaviour" action beside Django's own.
admin.site.unregister(User)


@admin.register(User)
class ShopUserAdmin(UserAdmin):
    actions = [forget_users]
