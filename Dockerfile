# Herold: one image for `serve`, `worker` and `beat`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY publisher publisher
COPY adapters adapters
COPY templates templates
COPY config config
# A regular install: the wheel carries the templates and migrations.
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system --home /var/lib/herold herold \
    && mkdir -p /var/lib/herold && chown herold /var/lib/herold
USER herold
ENV HEROLD_CONFIG=/app/config/herold.toml HEROLD_DATA_DIR=/var/lib/herold
EXPOSE 8000
CMD ["herold", "serve", "--listen", "0.0.0.0:8000"]
