"""The shop's forms: quantities and the checkout."""

from django import forms

from demo_shop.shop.cart import MAX_QUANTITY


class QuantityForm(forms.Form):
    """Add a product to the cart, or set a cart line's quantity (0 removes it)."""

    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, initial=1)


class CheckoutForm(forms.Form):
    """What the demo shop asks at checkout. No payment: this is a demo."""

    email = forms.EmailField(label="Email for the receipt")
    name = forms.CharField(label="Name", max_length=100)
