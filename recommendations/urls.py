from django.urls import path

from . import apis

urlpatterns = [
    path("recommendations", apis.RecommendationsPostApi.as_view(), name="api-recommendations-post"),
    path("recommendations/<str:user_id>", apis.RecommendationsApi.as_view(), name="api-recommendations"),
    path("items/<str:item_id>/similar", apis.SimilarItemsApi.as_view(), name="api-similar"),
    path("items/<str:item_id>/bought-together", apis.BoughtTogetherApi.as_view(), name="api-bought-together"),
    path("trending", apis.TrendingApi.as_view(), name="api-trending"),
    path("home/<str:user_id>", apis.HomeApi.as_view(), name="api-home"),
    path("search", apis.SearchApi.as_view(), name="api-search"),
]
