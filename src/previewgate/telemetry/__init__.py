"""What the process tells operators besides /metrics: log lines and traces."""
