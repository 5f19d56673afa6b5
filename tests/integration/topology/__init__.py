"""The production topology (docker/docker-compose.yaml) run natively: real processes on loopback."""
