# One image for every role of the virtual pack (and for real slaves on a Linux host).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 can-utils \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bms ./bms
COPY dbc ./dbc
COPY master ./master
COPY slave ./slave
COPY sim ./sim
COPY replay ./replay
RUN pip install --no-cache-dir .
COPY deploy ./deploy

ENV PYTHONUNBUFFERED=1
CMD ["bms", "--help"]
