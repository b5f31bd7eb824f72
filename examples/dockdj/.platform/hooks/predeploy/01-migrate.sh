#!/bin/bash
# Runs Django's migrations with the image this deployment is about to start, before the new
# containers take traffic. EB runs every executable file of .platform/hooks/predeploy/ in name order.
set -euo pipefail
image=$(python3 -c 'import json; d = json.load(open("/var/app/staging/Dockerrun.aws.json")); print(next(c["image"] for c in d["containerDefinitions"] if c["name"] == "django"))')
docker run --rm --env-file /opt/elasticbeanstalk/deployment/env -e DJANGO_SETTINGS_MODULE=dockdj.settings "$image" python manage.py migrate --noinput
