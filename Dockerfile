# syntax=docker/dockerfile:1
# The ticketpulse image: `ticketpulse` is the entrypoint, `worker` the default command.

FROM python:3.11-slim AS build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN --mount=type=cache,target=/root/.cache/pip pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 ticketpulse \
    && useradd --system --uid 10001 --gid ticketpulse --create-home \
       --home-dir /home/ticketpulse ticketpulse
COPY --from=build /opt/venv /opt/venv
USER ticketpulse
WORKDIR /home/ticketpulse
EXPOSE 6066
ENTRYPOINT ["ticketpulse"]
CMD ["worker"]
