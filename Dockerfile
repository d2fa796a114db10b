# ALX Bridge container: gunicorn serving wsgi:app on port 8000 (publish it on loopback only and put the
# site's reverse proxy in front: deploy/nginx-alxbridge.conf). Configuration comes from ALX_* variables.
#
#   docker build -t alxbridge .
#   docker run -d --name alxbridge -p 127.0.0.1:8000:8000 \
#       -e ALX_DATABASE_URL='mysql+mysqldb://moodle:pw@db.example/moodle?charset=utf8mb4' \
#       -e ALX_SECRET_KEY=... -e ALX_TRUSTED_PROXIES=1 -e ALX_RATELIMIT_STORAGE_URI=redis://redis:6379/0 alxbridge
#
# gunicorn.conf.py refuses to start on 0.0.0.0 without ALX_TRUSTED_PROXIES (a buffering proxy must be in front)
# and with several workers on memory:// limiter storage (use Redis, or WEB_CONCURRENCY=1).

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY setup.cfg pyproject.toml MANIFEST.in README.md config.py wsgi.py ./
COPY alxbridge ./alxbridge
RUN python -m venv /opt/alxbridge && /opt/alxbridge/bin/pip install --no-cache-dir ".[mysql]"

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin alxbridge
COPY --from=build /opt/alxbridge /opt/alxbridge
WORKDIR /app
COPY config.py wsgi.py gunicorn.conf.py ./
COPY templates ./templates
RUN mkdir -p instance && chown alxbridge instance
USER alxbridge
ENV PATH=/opt/alxbridge/bin:$PATH PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
# Inside the container the bridge must listen on all interfaces; publish the port on the host's loopback.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "wsgi:app"]
