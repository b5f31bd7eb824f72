# gunicorn settings, mounted into the django container from the bundle
# (host.sourcePath /var/app/current/gunicorn), so they change with the application version.
bind = "0.0.0.0:8000"
workers = 3
timeout = 60
accesslog = "-"
