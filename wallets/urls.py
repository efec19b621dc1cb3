from django.urls import path

from wallets import views

app_name = "wallets"

urlpatterns = [
    path("", views.wallet, name="wallet"),
    path("deposit/", views.deposit, name="deposit"),
    path("withdraw/", views.withdraw, name="withdraw"),
]
