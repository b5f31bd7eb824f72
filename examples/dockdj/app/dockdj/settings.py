import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles"]
ROOT_URLCONF = "dockdj.urls"
WSGI_APPLICATION = "dockdj.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/dockdj.sqlite3"}}
STATIC_URL = "/static/"
STATIC_ROOT = "/srv/static"
