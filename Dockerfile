# The gym-review GitHub Action: the package, git, and the Docker SDK that drives the runner's daemon
# through the socket GitHub mounts into container actions. Releases publish this image prebuilt.
#
#   docker build --build-arg BASE_IMAGE=python:3.11-slim -t gym-review-bot .
#
# Behind a TLS-intercepting proxy, put its CA bundle in the build context as `ca-bundle.crt`:
# apt, pip and the sandbox's own builds then trust it.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# `ca-bundle.cr[t]` matches nothing when there is no bundle; pyproject.toml keeps the COPY valid.
COPY pyproject.toml ca-bundle.cr[t] /tmp/gym-review-ctx/
RUN set -eu; \
    mkdir -p /etc/gym-review; \
    if [ -s /tmp/gym-review-ctx/ca-bundle.crt ]; then \
        cp /tmp/gym-review-ctx/ca-bundle.crt /etc/gym-review/ca-bundle.crt; \
    fi; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null; \
    python3 -c 'import ensurepip' 2>/dev/null \
        || apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; \
    rm -rf /var/lib/apt/lists/* /tmp/gym-review-ctx; \
    git config --system --add safe.directory '*'

COPY pyproject.toml README.md /src/
COPY gym_review_bot /src/gym_review_bot
RUN set -eu; \
    if [ -s /etc/gym-review/ca-bundle.crt ]; then export PIP_CERT=/etc/gym-review/ca-bundle.crt; fi; \
    python3 -m venv /opt/gym-review; \
    /opt/gym-review/bin/pip install --no-cache-dir --disable-pip-version-check -q /src; \
    rm -rf /src

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/opt/gym-review/bin/python", "-m", "gym_review_bot.github.action"]
