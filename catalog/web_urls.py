from django.urls import path

from . import views

urlpatterns = [
    path("catalog/", views.CatalogPage.as_view(), name="catalog-page"),
    path("imports/catalog/<int:import_id>/", views.CatalogImportPage.as_view(), name="catalog-import-page"),
]
