"""The product's URLs (``directory.urls``) and the floor (floor.py), for benchmarks/settings.py."""

from directory import urls as product
from django.urls import path

from benchmarks.floor import FloorView

urlpatterns = [*product.urlpatterns, path("bench/floor/<uuid:user_id>", FloorView.as_view())]

# Django reads the error handlers from the ROOT_URLCONF module: the product's, unchanged.
handler400 = product.handler400
handler404 = product.handler404
handler500 = product.handler500
