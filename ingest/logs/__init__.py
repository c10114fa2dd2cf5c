"""Raw log files (JSON lines and text logs) into Delta tables: ``lake ingest logs``."""
