# vidatlas: one image for the service (vidatlas serve) and the indexer jobs (vidatlas index).
# Build:  docker build -t vidatlas .      (CPU PyTorch; pass --build-arg TORCH_INDEX_URL=... for another build)
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/vidatlas
ENV PATH=/opt/vidatlas/bin:$PATH
# the CPU build of torch first, so that installing the package does not pull a CUDA build
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.9.1 torchvision==0.24.1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY query ./query
COPY service ./service
COPY viewer ./viewer
COPY vidatlas ./vidatlas
RUN pip install . && find /opt/vidatlas -name "__pycache__" -type d -prune -exec rm -rf {} +

FROM python:${PYTHON_VERSION}-slim-bookworm
ARG UID=10001
RUN groupadd --gid ${UID} vidatlas \
    && useradd --uid ${UID} --gid ${UID} --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vidatlas
COPY --from=build /opt/vidatlas /opt/vidatlas
ENV PATH=/opt/vidatlas/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TMPDIR=/tmp \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    VIDATLAS_SERVICE_BUNDLE=/data/atlas
USER 10001:10001
WORKDIR /data
EXPOSE 50051 9090
ENTRYPOINT ["vidatlas"]
CMD ["serve"]
