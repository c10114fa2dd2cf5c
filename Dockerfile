FROM python:3.11-slim
WORKDIR /opt/lake
COPY pyproject.toml constraints.txt README.md ./
COPY lake ./lake
COPY catalog ./catalog
COPY ingest ./ingest
COPY queries ./queries
RUN pip install --no-cache-dir -c constraints.txt .
WORKDIR /work
EXPOSE 8080
CMD ["lake", "--help"]
