from django.urls import path

from reviews import views

app_name = "reviews"

urlpatterns = [
    path("u/<int:user_id>/", views.profile, name="profile"),
    path("reviews/pending/", views.pending, name="pending"),
    path("reviews/trade/<int:trade_id>/", views.review_form, name="review"),
]
