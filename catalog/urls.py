from django.urls import path

from . import apis

urlpatterns = [
    path("items", apis.ItemListApi.as_view(), name="api-items"),
    path("items/<str:item_id>", apis.ItemDetailApi.as_view(), name="api-item-detail"),
    path("catalog/imports", apis.CatalogImportListApi.as_view(), name="api-catalog-imports"),
    path("catalog/imports/<int:import_id>", apis.CatalogImportDetailApi.as_view(), name="api-catalog-import"),
]
