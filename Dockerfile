# odeserve API image: CPU torch, non-root, the demo store baked in at /models.
#   docker build -t odeserve .
#   docker run -p 8000:8000 odeserve                       # serves the demo store
#   docker run -p 8000:8000 -v "$PWD/my-store:/models" odeserve   # serves your store

# --- build: a virtual environment with every dependency and the project itself -----------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.txt ./
# The CPU index first: it has torch without CUDA (hundreds of MB instead of several GB).
RUN pip install -r requirements.txt \
        --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
COPY pyproject.toml README.md ./
COPY models_store ./models_store
COPY service ./service
COPY training ./training
RUN pip install --no-deps .

# --- run ------------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ODESERVE_STORE=/models
RUN useradd --system --uid 10001 --user-group --no-create-home odeserve
COPY --from=build /opt/venv /opt/venv
# A named volume mounted at /models starts as a copy of this demo store; a bind mount replaces it.
COPY --from=build --chown=odeserve:odeserve /src/models_store/demo /models
USER odeserve
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["python", "-m", "service", "--host", "0.0.0.0", "--port", "8000"]
