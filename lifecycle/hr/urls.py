"""The HR screen, mounted at /hr/ (directory/urls.py)."""

from django.urls import path

from lifecycle.hr import views
from lifecycle.hr.access import reviewer_required

app_name = "hr"
urlpatterns = [
    path("", reviewer_required(views.case_list), name="cases"),
    path("cases/<int:case_id>/", reviewer_required(views.case_detail), name="case"),
    path("cases/<int:case_id>/decide/", reviewer_required(views.case_decision), name="decide"),
    path("approve/", reviewer_required(views.bulk_approve), name="bulk_approve"),
    path("export.csv", reviewer_required(views.export), name="export"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
